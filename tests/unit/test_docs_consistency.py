"""Answers the docs give in several places, kept to one: the spacing of rotations and the name of
the mounted keyring file. Each page that states one must state the same."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

#: The rule as docs/rotation.md explains it; the W004 hint says it in ASCII.
SPACING = "2 \N{MULTIPLICATION SIGN} TTL + `refresh_timeout`"
#: Earlier answers to the same question, each wrong in its own way.
OTHER_SPACINGS = re.compile(
    r"two TTLs|twice the TTL|twice the default cache TTL|one refresh interval|"
    r"further apart than the TTL|above twice the TTL",
    re.IGNORECASE,
)
MOUNTED_FILE = "/run/secrets/django_secret_key"


def flat(path: Path) -> str:
    return " ".join(path.read_text("utf-8").split())


@pytest.mark.parametrize(
    "page", ["rotation.md", "migrate.md", "faq.md", "troubleshooting.md", "getting-started.md"]
)
def test_the_pages_that_space_rotations_give_one_rule(page: str) -> None:
    text = flat(DOCS / page)
    assert SPACING in text, f"docs/{page}: state the spacing of rotations as {SPACING!r}"
    assert "15 minutes" in text, f"docs/{page}: say the floor (15 minutes) with the rule"
    stale = OTHER_SPACINGS.findall(text)
    assert not stale, f"docs/{page} still gives another spacing: {stale}"


def test_no_page_gives_another_spacing() -> None:
    pages = [*DOCS.glob("*.md"), ROOT / "README.md"]
    stale = {p.name: OTHER_SPACINGS.findall(flat(p)) for p in pages}
    assert not {name: found for name, found in stale.items() if found}


def test_one_mounted_file_name() -> None:
    """README, migrate.md and deployment.md show the same Docker/Compose secret file."""
    for page in (ROOT / "README.md", DOCS / "migrate.md", DOCS / "deployment.md"):
        text = page.read_text("utf-8")
        assert MOUNTED_FILE in text, page.name
        others = set(re.findall(r"/run/secrets/[\w.-]+", text)) - {MOUNTED_FILE}
        assert not others, f"{page.name} names another mounted file: {sorted(others)}"
