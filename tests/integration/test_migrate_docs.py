"""docs/migrate.md, followed literally on a fresh ``startproject`` site.

The page's titled code blocks are the script: the shell blocks run in bash in the project folder,
the ``settings.py`` blocks are applied as the page says (add the app, later replace the
``SECRET_KEY`` line), and the site runs under gunicorn with the admin's database sessions. A user
logged in before the migration must still be logged in after adoption and after each rotation.
Adoption reads the key from the site's settings (``manage.py adopt_secret_key``): nothing is
pasted, and the fingerprints the page says to compare must match the key ``startproject`` wrote.

Stand-ins for what a test cannot do: "every process
applies the new keyring within one TTL" is played by restarting the single worker (a new process
reads the newest keyring at start-up; live refresh itself is tested in tests/django and
tests/fleet); the `pip install` block is skipped, the package is installed already.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from devservers.openbao import BaoServer
from devservers.processes import LOOPBACK, Process, bin_path, free_port, wait_until
from devservers.site import Browser
from secret_keyring.keyring import fingerprint
from tests.plugins.leakguard import assert_no_key_material, remember

pytestmark = [pytest.mark.vault, pytest.mark.slow]

DOCS = Path(__file__).resolve().parents[2] / "docs"
FENCE = re.compile(r'^```(\w+) title="([^"]+)"\n(.*?)^```$', re.M | re.S)
PASSWORD = "migrate-docs-password"  # a throwaway local account


def titled_blocks() -> dict[str, tuple[str, str]]:
    """The page's code blocks that carry a title: title -> (language, code)."""
    text = (DOCS / "migrate.md").read_text("utf-8")
    return {title: (language, code) for language, title, code in FENCE.findall(text)}


class Site:
    """A ``startproject`` site, served by gunicorn, with an admin user."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.env = env
        self.process: Process | None = None
        self.url = ""

    def run(
        self, script: str, *, stdin: str = "", check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=self.root,
            env=self.env,
            check=False,
            timeout=120,
        )
        assert_no_key_material(result.stdout + result.stderr, f"output of {script!r}")
        if check:
            assert result.returncode == 0, f"{script}\n{result.stdout}\n{result.stderr}"
        return result

    def start(self) -> None:
        port = free_port()
        self.process = Process(
            [bin_path("gunicorn"), "--bind", f"{LOOPBACK}:{port}", "--workers", "1", "mysite.wsgi"],
            self.root.parent / f"gunicorn-{port}.log",
            self.env,
            self.root,
        )
        self.url = f"http://{LOOPBACK}:{port}"
        wait_until(self._up, 60, "gunicorn")

    def _up(self) -> bool:
        assert self.process is not None
        assert self.process.alive(), self.process.tail()
        try:
            return Browser(self.url).get("/admin/login/")[0] == 200
        except OSError:
            return False

    def restart(self) -> None:
        self.stop()
        self.start()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


def logged_in(site: Site, browser: Browser) -> bool:
    """Whether the admin shows this browser its site-administration page (not the login form)."""
    browser.base_url = site.url
    code, body = browser.get("/admin/")
    return code == 200 and "/admin/logout/" in body


def log_in(site: Site) -> Browser:
    browser = Browser(site.url)
    code, body = browser.get("/admin/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body)
    assert code == 200
    assert token is not None
    browser.post(
        "/admin/login/?next=/admin/",
        {"username": "admin", "password": PASSWORD, "csrfmiddlewaretoken": token.group(1)},
    )
    assert logged_in(site, browser)
    return browser


def add_app(settings: Path, block: str) -> None:
    """Step 2 as written: the app appended to INSTALLED_APPS (the SECRET_KEY line untouched)."""
    text = settings.read_text("utf-8")
    apps = [line for line in block.splitlines() if re.match(r'^\s+"[\w.]+",$', line)]
    assert apps == ['    "secret_keyring.django",']
    text, added = re.subn(
        r"^(INSTALLED_APPS = \[\n(?:.*\n)*?)\]", r"\1" + apps[0] + "\n]", text, flags=re.M
    )
    assert added == 1
    settings.write_text(text, "utf-8")


def replace_key(settings: Path, block: str) -> None:
    """Step 5 as written: the SECRET_KEY line replaced by the secret_keys() call."""
    text = settings.read_text("utf-8")
    text, replaced = re.subn(r"^SECRET_KEY = .*\n", block.rstrip("\n") + "\n", text, flags=re.M)
    assert replaced == 1
    settings.write_text(text, "utf-8")


def rotate_command(block: str) -> str:
    """The page's rotate command. The minimum interval between rotations (if this version has
    one) stands for wall-clock time a test cannot wait: it is overridden with ``--force``, which
    ``manage.py rotate_secret_key`` and ``secret-keyring rotate`` share."""
    help_text = subprocess.run(
        [sys.executable, "-m", "secret_keyring", "rotate", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return block.strip() + (" --force" if "--force" in help_text else "")


def test_migrate_page_keeps_a_logged_in_user_logged_in(tmp_path: Path, openbao: BaoServer) -> None:
    blocks = titled_blocks()
    assert list(blocks) == [
        "install",
        "settings.py: add the app",
        "adopt",
        "compare",
        "settings.py: replace the SECRET_KEY line",
        "verify",
        "first rotation",
        "second rotation",
    ]
    assert blocks["install"][1].startswith("pip install ")
    # One rotate command, the one `secret-keyring rotate` itself recommends: it audits what
    # else uses the key, which the page explains before the first rotation.
    assert blocks["first rotation"][1] == blocks["second rotation"][1]
    assert blocks["first rotation"][1].startswith("python manage.py rotate_secret_key")
    page = (DOCS / "migrate.md").read_text("utf-8")
    for audited in ("secret_keyring.W010", "secret_keyring.W011", "secret_keyring.E010"):
        assert audited in page
    assert "(rotation-affects.md)" in page
    assert "nothing is blocked" not in page  # E010 blocks the rotation
    source = re.search(r"vault://\S+", blocks["adopt"][1])
    assert source is not None

    venv_bin = str(Path(sys.executable).parent)
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "PATH": f"{venv_bin}:{os.environ.get('PATH', '')}",
        "HOME": str(home),
        "PYTHONDONTWRITEBYTECODE": "1",
        **openbao.environ(openbao.root_token),
        "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
    }
    subprocess.run(
        [sys.executable, "-m", "django", "startproject", "mysite"],
        cwd=tmp_path,
        env=env,
        check=True,
    )
    site = Site(tmp_path / "mysite", env)
    settings = site.root / "mysite" / "settings.py"
    old_key_match = re.search(r"^SECRET_KEY = '(.*)'$", settings.read_text("utf-8"), re.M)
    assert old_key_match is not None
    old_key = old_key_match.group(1)
    assert old_key.startswith("django-insecure-")
    remember(old_key)
    site.run("python manage.py migrate --no-input -v 0")
    site.run("python manage.py createsuperuser --no-input --username admin --email a@example.com")
    site.start()
    try:
        browser = log_in(site)
        idle = log_in(site)  # logs in now and comes back only after the second rotation

        add_app(settings, blocks["settings.py: add the app"][1])
        site.restart()  # step 2: deployed, still signing with the old key
        assert logged_in(site, browser)

        adopted = site.run(blocks["adopt"][1])
        weak_fingerprint = f"{fingerprint(old_key)} (weak"
        assert f"current   {weak_fingerprint}" in adopted.stdout
        assert f"live SECRET_KEY   {weak_fingerprint}" in adopted.stdout
        assert f"keyring current   {fingerprint(old_key)}" in adopted.stdout
        assert logged_in(site, browser)  # adoption alone changes nothing for the running site

        # Step 4: the live key and the keyring's current key, side by side.
        compared = site.run(blocks["compare"][1])
        live_line, current_line = (
            next(line for line in compared.stdout.splitlines() if line.startswith(name))
            for name in ("live SECRET_KEY", "current")
        )
        assert weak_fingerprint in live_line
        assert weak_fingerprint in current_line

        replace_key(settings, blocks["settings.py: replace the SECRET_KEY line"][1])
        site.restart()  # step 6: deploy
        assert logged_in(site, browser)
        verified = site.run(blocks["verify"][1])
        assert "secret_keyring.W004" in verified.stderr
        assert f"{fingerprint(old_key)} (weak" in verified.stdout

        site.run(rotate_command(blocks["first rotation"][1]))
        site.restart()
        assert logged_in(site, browser)  # the old key verifies from previous; session re-signed

        site.run(rotate_command(blocks["second rotation"][1]))
        site.restart()
        assert logged_in(site, browser)

        verified = site.run(blocks["verify"][1])
        assert "secret_keyring.W004" not in verified.stderr
        assert "weak" not in verified.stdout
        assert old_key not in settings.read_text("utf-8")
        # What only the old key signed is not trusted any more: the idle user logs in again.
        assert not logged_in(site, idle)
    finally:
        site.stop()
