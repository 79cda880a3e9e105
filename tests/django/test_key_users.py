"""The known users of SECRET_KEY, each checked against the real package, and the audit's checks.

Each package test runs the package in fresh processes (it copies or derives its key at import,
so one process cannot show a rotation): a value made under one keyring is checked under the
rotated keyring (``SECRET_KEY`` new, the old key still in ``SECRET_KEY_FALLBACKS``), and again
with the package's own-key setting from the table.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError, SystemCheckError
from django.test import override_settings

from secret_keyring.django import audit
from secret_keyring.django.key_users import KNOWN_KEY_USERS, KeyUser, Kind, render_path
from secret_keyring.keyring import fingerprint
from tests.plugins.leakguard import assert_no_key_material, make_key

ROOT = Path(__file__).resolve().parents[2]

PRELUDE = """
import json, os, sys
import django
from django.conf import settings
settings.configure(**json.loads(os.environ["PROBE_SETTINGS"]))
django.setup()
def out(value):
    print(json.dumps(value))
"""

BASE: dict[str, Any] = {
    "INSTALLED_APPS": ["django.contrib.auth", "django.contrib.contenttypes"],
    "DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    "USE_TZ": True,
}


def probe(code: str, settings: dict[str, Any], **env: str) -> Any:
    """Run ``code`` in a fresh process with Django configured by ``settings``; its ``out()``."""
    done = subprocess.run(
        [sys.executable, "-c", PRELUDE + code],
        capture_output=True,
        text=True,
        env={**os.environ, "PROBE_SETTINGS": json.dumps({**BASE, **settings}), **env},
        cwd=ROOT,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert_no_key_material(done.stdout + done.stderr, "probe output")
    return json.loads(done.stdout.strip().splitlines()[-1])


class Rotation:
    """Three keys: ``before`` is the keyring issuing, ``after`` the keyring one rotation later."""

    def __init__(self) -> None:
        self.old, self.current, self.new = make_key(), make_key(), make_key()
        self.before = {"SECRET_KEY": self.current, "SECRET_KEY_FALLBACKS": [self.old]}
        self.after = {"SECRET_KEY": self.new, "SECRET_KEY_FALLBACKS": [self.current]}
        #: Two rotations later: the key that made the value has left `previous`.
        self.gone = {"SECRET_KEY": make_key(), "SECRET_KEY_FALLBACKS": [self.new]}


@pytest.fixture
def rotation() -> Rotation:
    return Rotation()


def needs(module: str) -> None:
    """Skip unless ``module`` is installed, without importing it into this process: the audit
    counts an imported package as in use."""
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed")


def entry(distribution: str) -> KeyUser:
    return next(u for u in KNOWN_KEY_USERS if u.distribution == distribution)


# -- signatures ------------------------------------------------------------------------------

# simplejwt and its port django-ninja-jwt share the token API: one script each, per module.
ACCESS_TOKEN_ISSUE = """
from {module}.tokens import AccessToken
token = AccessToken()
token["user_id"] = 7
out(str(token))
"""
ACCESS_TOKEN_VERIFY = """
from {module}.exceptions import TokenError
from {module}.tokens import AccessToken
try:
    out(AccessToken(os.environ["TOKEN"])["user_id"])
except TokenError as exc:
    out(str(exc))
"""
SIMPLEJWT_ISSUE = ACCESS_TOKEN_ISSUE.format(module="rest_framework_simplejwt")
SIMPLEJWT_VERIFY = ACCESS_TOKEN_VERIFY.format(module="rest_framework_simplejwt")
NINJA_ISSUE = ACCESS_TOKEN_ISSUE.format(module="ninja_jwt")
NINJA_VERIFY = ACCESS_TOKEN_VERIFY.format(module="ninja_jwt")
APPS_DRF = [*BASE["INSTALLED_APPS"], "rest_framework"]


def test_simplejwt_pins_secret_key(rotation: Rotation) -> None:
    """simplejwt signs with SECRET_KEY and ignores SECRET_KEY_FALLBACKS; SIGNING_KEY fixes it."""
    needs("rest_framework_simplejwt")
    apps = {"INSTALLED_APPS": APPS_DRF}
    token = probe(SIMPLEJWT_ISSUE, {**apps, **rotation.before})
    # The key that signed it is still a fallback, and still the token is refused.
    rejected = probe(SIMPLEJWT_VERIFY, {**apps, **rotation.after}, TOKEN=token)
    assert rejected != 7
    assert "invalid" in rejected.lower()

    own = {"SIMPLE_JWT": {"SIGNING_KEY": make_key()}}
    token = probe(SIMPLEJWT_ISSUE, {**apps, **rotation.before, **own})
    assert probe(SIMPLEJWT_VERIFY, {**apps, **rotation.after, **own}, TOKEN=token) == 7


def test_ninja_jwt_pins_secret_key(rotation: Rotation) -> None:
    """django-ninja-jwt, simplejwt's design: the same break, fixed by NINJA_JWT["SIGNING_KEY"]."""
    needs("ninja_jwt")
    token = probe(NINJA_ISSUE, rotation.before)
    assert "invalid" in probe(NINJA_VERIFY, rotation.after, TOKEN=token).lower()

    own = {"NINJA_JWT": {"SIGNING_KEY": make_key()}}
    token = probe(NINJA_ISSUE, {**rotation.before, **own})
    assert probe(NINJA_VERIFY, {**rotation.after, **own}, TOKEN=token) == 7


DRF_JWT_ISSUE = """
from rest_framework_jwt.utils import jwt_encode_payload
out(jwt_encode_payload({"username": "alice", "user_id": 7}))
"""
DRF_JWT_VERIFY = """
import jwt
from rest_framework_jwt.utils import jwt_decode_token
try:
    out(jwt_decode_token(os.environ["TOKEN"])["user_id"])
except jwt.InvalidTokenError as exc:
    out(type(exc).__name__)
"""


def test_drf_jwt_pins_secret_key(rotation: Rotation) -> None:
    """drf-jwt verifies with JWT_SECRET_KEY only; a list of its own keys survives rotations."""
    needs("rest_framework_jwt")
    apps = {"INSTALLED_APPS": APPS_DRF}
    token = probe(DRF_JWT_ISSUE, {**apps, **rotation.before})
    assert probe(DRF_JWT_VERIFY, {**apps, **rotation.after}, TOKEN=token) == "InvalidSignatureError"

    jwt_old, jwt_new = make_key(), make_key()
    token = probe(
        DRF_JWT_ISSUE, {**apps, **rotation.before, "JWT_AUTH": {"JWT_SECRET_KEY": jwt_old}}
    )
    own_after = {"JWT_AUTH": {"JWT_SECRET_KEY": [jwt_new, jwt_old]}}
    assert probe(DRF_JWT_VERIFY, {**apps, **rotation.after, **own_after}, TOKEN=token) == 7


GRAPHQL_JWT_ISSUE = """
from graphql_jwt.utils import jwt_encode
out(jwt_encode({"username": "alice"}))
"""
GRAPHQL_JWT_VERIFY = """
import jwt
from graphql_jwt.utils import jwt_decode
try:
    out(jwt_decode(os.environ["TOKEN"])["username"])
except jwt.InvalidTokenError as exc:
    out(type(exc).__name__)
"""


def test_graphql_jwt_pins_secret_key(rotation: Rotation) -> None:
    """django-graphql-jwt: JWT_SECRET_KEY defaults to SECRET_KEY at import, one key."""
    needs("graphql_jwt")
    token = probe(GRAPHQL_JWT_ISSUE, rotation.before)
    assert probe(GRAPHQL_JWT_VERIFY, rotation.after, TOKEN=token) == "InvalidSignatureError"

    own = {"GRAPHQL_JWT": {"JWT_SECRET_KEY": make_key()}}
    token = probe(GRAPHQL_JWT_ISSUE, {**rotation.before, **own})
    assert probe(GRAPHQL_JWT_VERIFY, {**rotation.after, **own}, TOKEN=token) == "alice"


# -- encryption at rest -----------------------------------------------------------------------

FERNET_FIELDS_ENCRYPT = """
from django.db import connection
from fernet_fields import EncryptedTextField
out(bytes(EncryptedTextField().get_db_prep_save("card 4242", connection)).decode())
"""
FERNET_FIELDS_DECRYPT = """
from cryptography.fernet import InvalidToken
from django.db import connection
from fernet_fields import EncryptedTextField
try:
    out(EncryptedTextField().from_db_value(os.environ["VALUE"].encode(), None, connection))
except InvalidToken:
    out("InvalidToken")
"""


def test_fernet_fields_derive_from_secret_key(rotation: Rotation) -> None:
    """fernet_fields derives from SECRET_KEY only: one rotation and the value is unreadable."""
    needs("fernet_fields")
    value = probe(FERNET_FIELDS_ENCRYPT, rotation.before)
    assert probe(FERNET_FIELDS_DECRYPT, rotation.after, VALUE=value) == "InvalidToken"

    # The documented migration: a key of its own first, the old SECRET_KEY kept to decrypt.
    own = {"FERNET_KEYS": [make_key(), rotation.current]}
    assert probe(FERNET_FIELDS_DECRYPT, {**rotation.after, **own}, VALUE=value) == "card 4242"
    fresh = probe(FERNET_FIELDS_ENCRYPT, {**rotation.after, **own})
    assert probe(FERNET_FIELDS_DECRYPT, {**rotation.gone, **own}, VALUE=fresh) == "card 4242"


FERNET_ENCRYPTED_ENCRYPT = """
from encrypted_fields.fields import EncryptedTextField
out(EncryptedTextField().get_prep_value("card 4242"))
"""
FERNET_ENCRYPTED_DECRYPT = """
from encrypted_fields.fields import EncryptedTextField
out(EncryptedTextField().from_db_value(os.environ["VALUE"], None, None))
"""


def test_fernet_encrypted_fields_read_fallbacks_until_dropped(rotation: Rotation) -> None:
    """Readable while the key is a fallback; once it leaves, the ciphertext comes back instead."""
    needs("encrypted_fields")
    salt = {"SALT_KEY": "a-salt-of-this-project"}
    value = probe(FERNET_ENCRYPTED_ENCRYPT, {**rotation.before, **salt})
    assert probe(FERNET_ENCRYPTED_DECRYPT, {**rotation.after, **salt}, VALUE=value) == "card 4242"
    # Silent loss: no error, the field's value is now the ciphertext itself.
    assert probe(FERNET_ENCRYPTED_DECRYPT, {**rotation.gone, **salt}, VALUE=value) == value


CRYPTOGRAPHY_ENCRYPT = """
import base64
from django_cryptography.utils.crypto import FernetBytes
out(base64.b64encode(FernetBytes().encrypt(b"card 4242")).decode())
"""
CRYPTOGRAPHY_DECRYPT = """
import base64
from django.core.signing import BadSignature
from django_cryptography.utils.crypto import FernetBytes
try:
    out(FernetBytes().decrypt(base64.b64decode(os.environ["VALUE"])).decode())
except BadSignature:
    out("BadSignature")
"""


def test_django_cryptography_derives_from_secret_key(rotation: Rotation) -> None:
    """Keyed on SECRET_KEY twice: CRYPTOGRAPHY_KEY set to the old key still fails the HMAC."""
    needs("django_cryptography")
    apps = {"INSTALLED_APPS": [*BASE["INSTALLED_APPS"], "django_cryptography"]}
    value = probe(CRYPTOGRAPHY_ENCRYPT, {**apps, **rotation.before})
    assert probe(CRYPTOGRAPHY_DECRYPT, {**apps, **rotation.after}, VALUE=value) == "BadSignature"

    # The setting that looks like the fix is not one: the signer still uses SECRET_KEY.
    own = {"CRYPTOGRAPHY_KEY": rotation.current}
    assert probe(CRYPTOGRAPHY_DECRYPT, {**apps, **rotation.after, **own}, VALUE=value) == (
        "BadSignature"
    )


MIRAGE_ENCRYPT = """
from mirage.crypto import Crypto
out(Crypto().encrypt("card 4242"))
"""
MIRAGE_DECRYPT = """
from mirage.crypto import Crypto
out(Crypto().decrypt(os.environ["VALUE"]))
"""


def test_mirage_field_keys_on_secret_key(rotation: Rotation) -> None:
    """django-mirage-field keys AES with SECRET_KEY itself; MIRAGE_SECRET_KEY fixes it."""
    needs("mirage")
    value = probe(MIRAGE_ENCRYPT, rotation.before)
    assert probe(MIRAGE_DECRYPT, rotation.before, VALUE=value) == "card 4242"
    # Silent loss: Crypto.decrypt() hands back the ciphertext when decryption fails.
    assert probe(MIRAGE_DECRYPT, rotation.after, VALUE=value) == value

    own = {"MIRAGE_SECRET_KEY": rotation.current}
    assert probe(MIRAGE_DECRYPT, {**rotation.gone, **own}, VALUE=value) == "card 4242"


# -- the table --------------------------------------------------------------------------------


def test_every_entry_names_the_version_read_and_an_existing_test() -> None:
    for user in KNOWN_KEY_USERS:
        assert user.read.split(":")[0][0].isdigit(), f"{user.distribution}: version read"
        assert user.fix, user.distribution
        assert user.breaks, user.distribution
        assert user.uses, user.distribution
        for node in user.test.replace(" and ", " ").split():
            path, _, name = node.partition("::")
            assert (ROOT / path).is_file(), node
            if name:
                assert f"def {name}(" in (ROOT / path).read_text(), node


def test_docs_table_lists_every_entry() -> None:
    page = (ROOT / "docs" / "rotation-affects.md").read_text()
    for user in KNOWN_KEY_USERS:
        row = next(
            (line for line in page.splitlines() if line.startswith(f"| {user.distribution} ")),
            None,
        )
        assert row is not None, f"{user.distribution} missing from the docs table"
        assert user.read.split(":")[0] in row, f"{user.distribution}: version read"
        for path in user.own_key:
            assert render_path(path) in row, f"{user.distribution}: {render_path(path)}"
        assert user.test.split("::")[-1].split()[0] in row


# -- the audit and the checks -----------------------------------------------------------------


@pytest.fixture
def using(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Decide which known users count as in use: none until called.

    Other tests of this process import these packages, and an imported package is in use; the
    detection itself is tested on its own and through the JWT project.
    """

    def use(*distributions: str) -> None:
        for name in distributions:
            needs(entry(name).modules[0])
        monkeypatch.setattr(
            audit, "in_use", lambda user, strings: user.distribution in distributions
        )

    use()
    return use


def ids(findings: list[audit.Finding]) -> list[str]:
    return [f.check_id for f in findings]


def test_pinned_copy_is_named_by_path_never_by_value(using: Callable[..., None]) -> None:
    from django.conf import settings

    key = settings.SECRET_KEY
    nested = {"default": {"OPTIONS": {"tokens": ["x", ("y", key)]}}, 3: key.encode()}
    with override_settings(MY_SERVICE=nested, SIMPLE_JWT={"SIGNING_KEY": key}):
        findings = audit.audit()
    assert set(ids(findings)) == {audit.COPY_ID}
    messages = [f.message for f in findings]
    assert any('MY_SERVICE["default"]["OPTIONS"]["tokens"][1][1]' in m for m in messages)
    assert any("MY_SERVICE[3]" in m for m in messages)
    assert any('SIMPLE_JWT["SIGNING_KEY"]' in m for m in messages)
    assert all(fingerprint(key) in m for m in messages)
    assert_no_key_material("\n".join(messages + [f.hint for f in findings]), "findings")


def test_pinned_copy_of_a_fallback_key_and_self_references(using: Callable[..., None]) -> None:
    from django.conf import settings

    loop: list[Any] = ["a"]
    loop.append(loop)
    old = settings.SECRET_KEY_FALLBACKS[-1]
    with override_settings(LOOP=loop, OLD_KEY=old, SESSION_COOKIE_NAME="sessionid"):
        messages = [f.message for f in audit.audit()]
    assert [m for m in messages if m.startswith("settings.OLD_KEY ")]
    assert not [m for m in messages if "LOOP" in m or "SESSION_COOKIE_NAME" in m]


def test_no_findings_for_the_plain_test_project(using: Callable[..., None]) -> None:
    assert audit.audit() == []
    call_command("check", "--deploy", "--tag", "security", "--fail-level", "ERROR")


def test_signature_user_warns_until_it_has_its_own_key(using: Callable[..., None]) -> None:
    from django.conf import settings

    using("djangorestframework-simplejwt")
    found = audit.audit()
    assert ids(found) == [audit.SIGNATURES_ID]
    assert found[0].message.startswith("djangorestframework-simplejwt ")
    assert 'SIMPLE_JWT["SIGNING_KEY"] is not set' in found[0].message
    assert 'SIMPLE_JWT["SIGNING_KEY"]' in found[0].hint
    assert not found[0].data_loss

    with override_settings(SIMPLE_JWT={"SIGNING_KEY": settings.SECRET_KEY}):
        found = audit.audit()
    assert ids(found) == [audit.SIGNATURES_ID]  # the entry speaks for its own setting
    assert 'SIMPLE_JWT["SIGNING_KEY"] holds the value of SECRET_KEY' in found[0].message

    with override_settings(SIMPLE_JWT={"SIGNING_KEY": make_key()}):
        assert audit.audit() == []


def test_encryption_user_is_a_deploy_error(using: Callable[..., None]) -> None:

    using("django-fernet-fields-v2")
    found = audit.audit()
    assert ids(found) == [audit.ENCRYPTION_ID]
    assert found[0].data_loss
    assert "FERNET_KEYS is not set" in found[0].message
    assert audit.audit(include_data_loss=False) == []
    call_command("check", "--tag", "security")  # not a deploy check
    with pytest.raises(SystemCheckError, match=r"secret_keyring\.E010"):
        call_command("check", "--deploy", "--tag", "security")
    # The end of the documented migration: keys of its own only, the old SECRET_KEY dropped.
    with override_settings(FERNET_KEYS=[make_key(), make_key()]):
        assert audit.audit() == []
        call_command("check", "--deploy", "--tag", "security", "--fail-level", "ERROR")


@pytest.mark.parametrize("copied", ["SECRET_KEY", "SECRET_KEY_FALLBACKS[0]"])
def test_a_key_of_the_keyring_anywhere_in_a_key_list_is_a_data_loss_finding(
    using: Callable[..., None], copied: str
) -> None:
    """``FERNET_KEYS = [own_key, SECRET_KEY]``, the migration's middle step, still decrypts with
    a key a rotation moves: E010 names the element, wherever it sits in the list."""
    from django.conf import settings

    using("django-fernet-fields-v2")
    key = settings.SECRET_KEY if copied == "SECRET_KEY" else settings.SECRET_KEY_FALLBACKS[0]
    with override_settings(FERNET_KEYS=[make_key(), make_key(), key]):
        found = audit.audit()
        plain = audit.audit(include_data_loss=False)
        with pytest.raises(SystemCheckError, match=r"secret_keyring\.E010"):
            call_command("check", "--deploy", "--tag", "security")
    assert ids(found) == [audit.ENCRYPTION_ID]  # the entry speaks for its own setting
    assert found[0].data_loss
    assert f"FERNET_KEYS[2] holds the value of {copied} (fingerprint {fingerprint(key)})" in (
        found[0].message
    )
    # Without the deploy findings, the copy is still reported where it sits.
    assert ids(plain) == [audit.COPY_ID]
    assert plain[0].message.startswith(f"settings.FERNET_KEYS[2] holds a copy of {copied} ")
    texts = [f.message for f in found + plain] + [f.hint for f in found + plain]
    assert_no_key_material("\n".join(texts), "findings")


def test_a_user_without_an_own_key_setting_stays_until_silenced(
    using: Callable[..., None],
) -> None:
    using("django-fernet-encrypted-fields")
    found = audit.audit()
    assert ids(found) == [audit.ENCRYPTION_ID]
    assert "no setting gives it a key of its own" in found[0].message
    with override_settings(SILENCED_SYSTEM_CHECKS=[audit.ENCRYPTION_ID]):
        call_command("check", "--deploy", "--tag", "security", "--fail-level", "ERROR")


def test_a_user_that_is_installed_but_unused_is_quiet() -> None:
    fake = KeyUser(
        distribution="django",
        forks=(),
        modules=("not_imported_anywhere",),
        versions="-",
        read="0: -",
        kind=Kind.ENCRYPTION,
        uses="-",
        breaks="-",
        fix="-",
        own_key=(),
        test="-",
    )
    assert audit.installed(fake) is not None
    strings = list(audit.setting_strings(__import__("django.conf").conf.settings))
    assert not audit.in_use(fake, strings)
    assert audit.in_use(fake, [*strings, ("X", "not_imported_anywhere.backends.Thing")])


# -- before a rotation ------------------------------------------------------------------------


def test_rotate_refuses_while_data_would_be_lost(using: Callable[..., None], site: Any) -> None:
    using("django-fernet-fields-v2")
    before = site.stored()
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match=r"refusing to rotate.*--i-understand-data-loss"):
        call_command("rotate_secret_key", "--min-interval", "0", stdout=out, stderr=err)
    assert site.stored().same_keys(before)
    assert "secret_keyring.E010" in err.getvalue()
    assert "FERNET_KEYS" in err.getvalue()

    call_command(
        "rotate_secret_key",
        "--i-understand-data-loss",
        "--min-interval",
        "0",
        stdout=out,
        stderr=err,
    )
    assert not site.stored().same_keys(before)
    assert_no_key_material(out.getvalue() + err.getvalue(), "rotate_secret_key output")


def test_rotate_warns_about_signatures_but_goes_ahead(
    using: Callable[..., None], site: Any
) -> None:
    using("djangorestframework-simplejwt")
    before = site.stored()
    err = StringIO()
    call_command("rotate_secret_key", "--min-interval", "0", stdout=StringIO(), stderr=err)
    assert not site.stored().same_keys(before)
    assert "secret_keyring.W011" in err.getvalue()
