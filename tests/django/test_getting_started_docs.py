"""docs/getting-started.md's test settings, as a reader uses them: a ``startproject`` site whose
``settings.py`` calls ``secret_keys()`` (step 2), and the page's ``settings_test.py``, which
star-imports it, under Django's own test runner in a process of its own."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.plugins.leakguard import assert_no_key_material

DOCS = Path(__file__).resolve().parents[2] / "docs"
FENCE = re.compile(r'^```(\w+) title="([^"]+)"\n(.*?)^```$', re.M | re.S)
STAR_IMPORT = "from .settings import *"

# What a test of the site checks: the key came from secret_keys(), and it signs.
SITE_TEST = """\
from django.conf import settings
from django.core import signing
from django.test import SimpleTestCase

from secret_keyring.django import live


class KeyTest(SimpleTestCase):
    def test_the_key_comes_from_the_keyring(self):
        current = live.active()
        self.assertIsNotNone(current)
        self.assertEqual(settings.SECRET_KEY, current.applied.current)
        self.assertEqual(signing.loads(signing.dumps("x")), "x")
"""


def titled_blocks() -> dict[str, str]:
    text = (DOCS / "getting-started.md").read_text("utf-8")
    return {title: code for _, title, code in FENCE.findall(text)}


def settings_with_secret_keys(settings: Path, block: str) -> None:
    """Step 2 applied to a startproject settings.py: its SECRET_KEY line becomes the page's two
    lines, and the app is added."""
    lines = [line for line in block.splitlines() if "secret_keys" in line]
    assert lines == [
        "from secret_keyring.django import secret_keys",
        "SECRET_KEY, SECRET_KEY_FALLBACKS = secret_keys()",
    ]
    text, replaced = re.subn(
        r"^SECRET_KEY = .*\n", "\n".join(lines) + "\n", settings.read_text(), flags=re.M
    )
    assert replaced == 1
    text, added = re.subn(
        r"^(INSTALLED_APPS = \[\n(?:.*\n)*?)\]",
        r'\1    "secret_keyring.django",\n]',
        text,
        flags=re.M,
    )
    assert added == 1
    settings.write_text(text)


def test_the_test_settings_work_in_the_usual_star_import_layout(tmp_path: Path) -> None:
    """Before: the page's example, put in the usual layout (star-importing ``settings.py``),
    failed with ``ImproperlyConfigured`` (no source given and DJANGO_SECRET_KEY_SOURCE unset)."""
    blocks = titled_blocks()
    env = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        "HOME": str(tmp_path),
        "PYTHONDONTWRITEBYTECODE": "1",
    }  # no DJANGO_SECRET_KEY_SOURCE, no backend: a developer's machine or CI
    subprocess.run(
        [sys.executable, "-m", "django", "startproject", "mysite"],
        cwd=tmp_path,
        env=env,
        check=True,
    )
    root = tmp_path / "mysite"
    settings_with_secret_keys(root / "mysite" / "settings.py", blocks["settings.py"])
    test_settings = blocks["mysite/settings_test.py"]
    if STAR_IMPORT not in test_settings:
        test_settings = f"{STAR_IMPORT}  # noqa: F403\n{test_settings}"  # the usual layout
    (root / "mysite" / "settings_test.py").write_text(test_settings)
    (root / "mysite" / "tests.py").write_text(SITE_TEST)

    result = subprocess.run(
        [sys.executable, "manage.py", "test", "--settings=mysite.settings_test", "-v", "2"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )

    assert_no_key_material(result.stdout + result.stderr, "the test run's output")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "test_the_key_comes_from_the_keyring" in result.stderr
    assert re.search(r"^Ran 1 test", result.stderr, re.M), result.stderr
    assert (root / ".secret-keyring" / "dev-keyring.json").exists()
