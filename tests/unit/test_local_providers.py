"""env://, file:// and dev:// providers."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from secret_keyring import provider_from_url
from secret_keyring.errors import (
    ConfigurationError,
    InvalidSecret,
    SecretNotFound,
    WeakSecretKey,
)
from secret_keyring.providers import DevProvider, EnvProvider, FileProvider
from tests.plugins.leakguard import assert_no_key_material, make_key

ROOT = Path(__file__).resolve().parents[2]


def test_env_plain_with_fallbacks() -> None:
    key, old1, old2 = make_key(), make_key(), make_key()
    env = {"DJANGO_SECRET_KEY": key, "OLD": f"{old1}, {old2},"}
    kr = EnvProvider("DJANGO_SECRET_KEY", fallbacks_variable="OLD", environ=env).fetch()
    assert kr.current == key
    assert kr.fallbacks == [old1, old2]
    assert kr.source == "env://DJANGO_SECRET_KEY?fallbacks=OLD"


def test_env_keyring_json(monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = make_key(), make_key()
    monkeypatch.setenv("KR", json.dumps({"current": a, "next": b}))
    kr = provider_from_url("env://KR").fetch()
    assert (kr.current, kr.next) == (a, b)


def test_env_missing_variable() -> None:
    with pytest.raises(ConfigurationError, match="DJANGO_SECRET_KEY is not set"):
        EnvProvider("DJANGO_SECRET_KEY", environ={}).fetch()


def test_env_weak_key_names_source_not_value() -> None:
    with pytest.raises(WeakSecretKey) as info:
        EnvProvider("K", environ={"K": "hunter2hunter2"}).fetch()
    assert "env://K" in str(info.value)
    assert "hunter2" not in str(info.value)


def test_env_reads_at_each_fetch(monkeypatch: pytest.MonkeyPatch) -> None:
    p = EnvProvider("K")
    monkeypatch.setenv("K", make_key())
    first = p.fetch()
    monkeypatch.setenv("K", make_key())
    assert not p.fetch().same_keys(first)


def test_file_plain_and_reread(tmp_path: Path) -> None:
    path = tmp_path / "key"
    a = make_key()
    path.write_text(a + "\n")
    p = FileProvider(path)
    kr = p.fetch()
    assert kr.current == a
    assert kr.version
    assert kr.version.startswith("sha256:")
    b = make_key()
    path.write_text(json.dumps({"current": b, "next": make_key(), "previous": [a]}))
    kr2 = p.fetch()
    assert kr2.current == b
    assert kr2.previous == (a,)
    assert kr2.version != kr.version


def test_file_field(tmp_path: Path) -> None:
    path = tmp_path / "secret.json"
    key = make_key()
    path.write_text(json.dumps({"SECRET_KEY": key, "DB": "x"}))
    assert provider_from_url(f"file://{path}#SECRET_KEY").fetch().current == key


def test_file_missing(tmp_path: Path) -> None:
    with pytest.raises(SecretNotFound, match="does not exist"):
        FileProvider(tmp_path / "nope").fetch()


def test_file_path_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="directory"):
        FileProvider(tmp_path).fetch()


def test_file_too_large(tmp_path: Path) -> None:
    path = tmp_path / "big"
    path.write_bytes(b"a" * (64 * 1024 + 10))
    with pytest.raises(InvalidSecret, match="larger than"):
        FileProvider(path).fetch()


def test_file_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "bin"
    path.write_bytes(b"\xff" * 60)
    with pytest.raises(InvalidSecret, match="UTF-8") as info:
        FileProvider(path).fetch()
    assert str(path) in str(info.value)


def test_dev_creates_private_ignored_keyring_and_reuses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    p = DevProvider()
    first = p.fetch()
    path = tmp_path / ".secret-keyring" / "dev-keyring.json"
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (
        (tmp_path / ".secret-keyring" / ".gitignore")
        .read_text()
        .strip()
        .endswith("/dev-keyring.json")
    )
    assert first.next is not None
    again = DevProvider().fetch()  # a restart reuses the same keyring
    assert again.same_keys(first)
    assert list((tmp_path / ".secret-keyring").glob("*.tmp")) == []


def test_dev_explicit_path(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "kr.json"
    kr = provider_from_url(f"dev://{path}").fetch()
    assert path.exists()
    assert kr.source == f"dev://{path}"


def _ignored(repo: Path, path: Path) -> bool:
    result = subprocess.run(
        ["git", "-C", str(repo), "check-ignore", "--quiet", str(path.relative_to(repo))],
        check=False,
    )
    assert result.returncode in (0, 1), "git check-ignore failed"
    return result.returncode == 0


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_dev_path_in_an_existing_folder_ignores_only_the_keyring_file(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "--quiet", str(tmp_path)], check=True)
    folder = tmp_path / "mysite"
    folder.mkdir()
    (folder / "settings.py").write_text("DEBUG = True\n")
    (folder / ".gitignore").write_text("*.pyc")  # the project's own, no final newline
    keyring = folder / "dev-keyring.json"

    DevProvider(keyring).fetch()
    DevProvider(keyring).fetch()  # again: the line is not added twice

    assert _ignored(tmp_path, keyring)
    assert not _ignored(tmp_path, folder / "settings.py")
    assert not _ignored(tmp_path, folder / "urls.py")
    assert _ignored(tmp_path, folder / "cache.pyc")  # the project's rule still holds
    lines = (folder / ".gitignore").read_text().splitlines()
    assert lines[0] == "*.pyc"
    assert lines.count("/dev-keyring.json") == 1


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_dev_default_folder_hides_nothing_but_the_keyring(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    subprocess.run(["git", "init", "--quiet", str(tmp_path)], check=True)
    monkeypatch.chdir(tmp_path)
    DevProvider().fetch()
    folder = tmp_path / ".secret-keyring"
    assert _ignored(tmp_path, folder / "dev-keyring.json")
    assert not _ignored(tmp_path, folder / "README")
    # getting-started says what dev:// writes: the same file and the same line.
    guide = " ".join((ROOT / "docs" / "getting-started.md").read_text("utf-8").split())
    rules = [x for x in (folder / ".gitignore").read_text().splitlines() if x[:1] not in ("#", "")]
    assert rules == ["/dev-keyring.json"]
    assert "`.secret-keyring/.gitignore` with the line `/dev-keyring.json`" in guide


def test_dev_corrupt_file_says_delete(tmp_path: Path) -> None:
    path = tmp_path / "kr.json"
    path.write_text("{not json")
    with pytest.raises(InvalidSecret, match="delete"):
        DevProvider(path).fetch()


def test_provider_reprs_hold_no_keys(tmp_path: Path) -> None:
    path = tmp_path / "k"
    key = make_key()
    path.write_text(key)
    for p in (
        FileProvider(path),
        EnvProvider("K", environ={"K": key}),
        DevProvider(tmp_path / "d"),
    ):
        p.fetch()
        assert_no_key_material(repr(p), "provider repr")
