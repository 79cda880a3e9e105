"""Rotation seen from the test project: ``manage.py rotate_secret_key`` on the project's file://
source, sessions, signed cookies and password-reset tokens across rotations and stale caches,
and the ``secret-keyring rotate``/``init`` command line on files."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import stat
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.core.management import CommandError, call_command
from django.test import Client

from secret_keyring import Keyring
from secret_keyring.cli import main
from secret_keyring.django import live
from secret_keyring.keygen import new_keyring
from secret_keyring.keyring import fingerprint
from secret_keyring.payload import keyring_to_json, parse_payload
from tests.django.conftest import LiveSite
from tests.plugins.leakguard import assert_no_key_material, make_key

PASSWORD = "wonderland-pass"


@dataclasses.dataclass
class Signed:
    """What one process signed with its SECRET_KEY at one moment, kept as the browser and the
    mailbox keep it (verifying never re-signs the originals)."""

    label: str
    session_cookie: str
    value_cookie: str
    reset_token: str
    payload: str


@pytest.fixture
def bob(db: None) -> User:
    """The user who asked for password-reset links (never logs in, so they stay unused)."""
    return User.objects.create_user("bob", password=PASSWORD)


def sign_everything(label: str) -> Signed:
    """Log alice in, set a signed cookie, mail bob a reset link, sign a value: all with the
    keys in settings right now."""
    client = Client()
    response = client.post("/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 200
    client.get("/signed/set/", {"value": label})
    bob = User.objects.get(username="bob")
    return Signed(
        label=label,
        session_cookie=client.cookies[settings.SESSION_COOKIE_NAME].value,
        value_cookie=client.cookies["token"].value,
        reset_token=default_token_generator.make_token(bob),
        payload=signing.dumps({"label": label}),
    )


def verdicts(signed: Signed) -> dict[str, bool]:
    """Whether this process (its settings now) accepts each thing, from pristine copies."""
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = signed.session_cookie
    client.cookies["token"] = signed.value_cookie
    try:
        payload_ok = signing.loads(signed.payload) == {"label": signed.label}
    except signing.BadSignature:
        payload_ok = False
    return {
        "session": client.get("/whoami/").content == b"alice",
        "signed cookie": client.get("/signed/get/").content == signed.label.encode(),
        "reset token": default_token_generator.check_token(
            User.objects.get(username="bob"), signed.reset_token
        ),
        "signing.dumps": payload_ok,
    }


def assert_accepted(signed: Signed) -> None:
    assert verdicts(signed) == dict.fromkeys(verdicts(signed), True), signed.label


def assert_rejected(signed: Signed) -> None:
    assert not any(verdicts(signed).values()), signed.label


@contextlib.contextmanager
def process_holding(keyring: Keyring) -> Iterator[None]:
    """Serve the block as another process of the fleet whose cache holds ``keyring``."""
    mine = live.active()
    assert mine is not None
    live.apply_to_settings(keyring)
    try:
        yield
    finally:
        live.apply_to_settings(mine.applied)


def rotate_command(*args: str) -> str:
    """Run the command with no minimum interval: these tests rotate files seconds old (the
    interval is tested in tests/unit/test_rotation_interval.py)."""
    out = StringIO()
    call_command("rotate_secret_key", "--min-interval", "0", *args, stdout=out)
    text = out.getvalue()
    assert_no_key_material(text, "rotate_secret_key output")
    return text


# -- manage.py rotate_secret_key ---------------------------------------------------------------


def test_what_was_signed_before_each_of_three_rotations_stays_valid(
    site: LiveSite, user: User, bob: User
) -> None:
    made: list[Signed] = []
    keyrings = [site.stored()]
    for round_ in range(3):
        made.append(sign_everything(f"round-{round_}"))

        output = rotate_command()

        keyrings.append(site.stored())
        assert fingerprint(keyrings[-1].current) in output
        # The command re-read the keyring in this process; the next request applies it.
        Client().get("/whoami/")
        assert settings.SECRET_KEY == keyrings[-1].current == keyrings[-2].next
        site.settle()  # rotations are minutes apart: the bridge fallbacks have settled
        for signed in made:
            assert_accepted(signed)

    # Each was signed by a key that is now in previous, and still verifies.
    assert keyrings[-1].previous == tuple(k.current for k in reversed(keyrings[:3]))

    # One more rotation: round 0's key falls out of previous (3 kept), the others stay.
    rotate_command()
    Client().get("/whoami/")
    site.settle()
    assert_rejected(made[0])
    for signed in made[1:]:
        assert_accepted(signed)


def test_a_fleet_with_stale_caches_accepts_both_keys_during_a_rotation(
    site: LiveSite, user: User, bob: User
) -> None:
    for round_ in range(3):
        stale = live.active().applied  # type: ignore[union-attr]
        # Rotated by someone else (an operator, a scheduled job): this process is not told.
        rotate_command("--source", f"file://{site.path}")
        new = site.stored()
        assert new.current == stale.next
        assert settings.SECRET_KEY == stale.current  # our cache is up to one TTL stale

        # A process that already refreshed signs with the new current key: our `next`.
        with process_holding(new):
            by_fresh = sign_everything(f"fresh-{round_}")
        assert_accepted(by_fresh)
        # What we still sign with the old current key is in its `previous`.
        by_stale = sign_everything(f"stale-{round_}")
        with process_holding(new):
            assert_accepted(by_stale)

        # Once our TTL passes we refresh too; nothing signed meanwhile is lost.
        site.pass_ttl()
        Client().get("/whoami/")
        assert settings.SECRET_KEY == new.current
        assert_accepted(by_fresh)
        assert_accepted(by_stale)


def test_plain_payloads_fail_with_stale_caches(site: LiveSite, user: User, bob: User) -> None:
    """Why keyring JSON: a plain key has no `next`, so a stale process rejects what a fresh one
    signs with the new key (Django ticket #35400)."""
    site.path.write_text(make_key())
    site.pass_ttl()
    Client().get("/whoami/")
    stale = live.active().applied  # type: ignore[union-attr]
    assert stale.next is None

    rotate_command("--source", f"file://{site.path}")
    new = site.stored()
    with process_holding(new):
        by_fresh = sign_everything("fresh")

    assert not any(verdicts(by_fresh).values())  # the stale process rejects all of it
    site.pass_ttl()
    Client().get("/whoami/")
    assert_accepted(by_fresh)


def test_command_max_fallbacks(site: LiveSite) -> None:
    for _ in range(3):
        rotate_command("--max-fallbacks", "1")
    assert len(site.stored().previous) == 1


def test_command_errors_name_the_problem(site: LiveSite) -> None:
    with pytest.raises(CommandError, match=r"ConfigurationError: .*max_fallbacks"):
        rotate_command("--max-fallbacks", "19")
    with pytest.raises(CommandError, match=r"RotationError: .*max_fallbacks is 0"):
        rotate_command("--max-fallbacks", "0")
    with pytest.raises(CommandError, match=r"RotationError: .*environment variable"):
        rotate_command("--source", "env://DJANGO_SECRET_KEY")
    with pytest.raises(CommandError, match="ConfigurationError"):
        rotate_command("--source", "nope://x")


def test_command_without_secret_keys_needs_a_source(
    site: LiveSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live, "_active", None)
    with pytest.raises(CommandError, match="--source"):
        rotate_command()


# -- secret-keyring rotate / init on files -----------------------------------------------------


def test_cli_rotate_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "keyring.json"
    old = new_keyring()
    path.write_text(keyring_to_json(old))
    path.chmod(0o640)

    assert main(["rotate", "--force", f"file://{path}"]) == 0

    new = parse_payload(path.read_bytes()).to_keyring()
    assert (new.current, new.previous) == (old.next, (old.current,))
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # the file's mode is kept
    assert [p.name for p in tmp_path.iterdir()] == ["keyring.json"]  # no temporary left
    out = capsys.readouterr().out
    assert fingerprint(new.current) in out
    assert fingerprint(old.current) in out


def test_cli_rotate_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "keyring.json"
    path.write_text(keyring_to_json(new_keyring()))
    assert main(["rotate", "--json", "--force", "--max-fallbacks", "2", f"file://{path}"]) == 0
    report = json.loads(capsys.readouterr().out)
    stored = parse_payload(path.read_bytes()).to_keyring()
    assert report["written"] is True
    assert report["fingerprints"] == stored.fingerprints
    assert report["source"] == f"file://{path}"


def test_cli_rotate_plain_file_becomes_a_keyring(tmp_path: Path) -> None:
    path = tmp_path / "key"
    old = make_key()
    path.write_text(old + "\n")
    assert main(["rotate", "--force", f"file://{path}"]) == 0
    new = parse_payload(path.read_bytes())
    assert new.kind == "keyring"
    assert new.previous == (old,)
    assert new.next is not None


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["rotate", "env://DJANGO_SECRET_KEY"], "RotationError"),
        (["rotate", "--max-fallbacks", "19", "file://{path}"], "ConfigurationError"),
        (["rotate", "--max-fallbacks", "-1", "file://{path}"], "ConfigurationError"),
        (["rotate", "--max-fallbacks", "0", "file://{path}"], "RotationError"),
        (["rotate", "file://{path}#field"], "RotationError"),
        (["rotate", "file://{missing}"], "SecretNotFound"),
        (["init", "env://DJANGO_SECRET_KEY"], "RotationError"),
        (["init", "file://{missing}#django"], "RotationError"),
    ],
)
def test_cli_rotate_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    path = tmp_path / "keyring.json"
    before = keyring_to_json(new_keyring())
    path.write_text(before)
    argv = [a.format(path=path, missing=tmp_path / "missing") for a in args]

    assert main(argv) == 1

    assert expected in capsys.readouterr().err
    assert path.read_text() == before
    assert not (tmp_path / "missing").exists()


def test_cli_init_writes_a_private_file_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "secrets" / "keyring.json"

    assert main(["init", f"file://{path}"]) == 0

    first = path.read_bytes()
    keyring = parse_payload(first).to_keyring()
    assert keyring.next is not None
    assert keyring.previous == ()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "file written" in capsys.readouterr().out

    assert main(["init", f"file://{path}"]) == 0
    assert path.read_bytes() == first
    assert "exists already" in capsys.readouterr().out


def test_cli_init_then_rotate_dev(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["init", "--json", "dev://"]) == 0
    first = json.loads(capsys.readouterr().out)["fingerprints"]
    assert main(["rotate", "--json", "--force", "dev://"]) == 0
    second = json.loads(capsys.readouterr().out)["fingerprints"]
    assert second["current"] == first["next"]
    assert second["previous"] == [first["current"]]
