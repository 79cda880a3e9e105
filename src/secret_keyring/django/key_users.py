"""Third-party packages that keep a copy of ``SECRET_KEY`` or derive a key from it.

Django's own users of the key read the setting each time and accept ``SECRET_KEY_FALLBACKS``;
the packages below do not, or not fully, and a rotation breaks them. Each entry was confirmed by
reading the package's code at the version named in ``read``, and is exercised against the real
package by the test named in ``test``. The audit (``secret_keyring.django.audit``), the system
checks and ``manage.py rotate_secret_key`` read this table; the docs page "What a rotation
affects" is checked against it by a test.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["KNOWN_KEY_USERS", "KeyUser", "Kind", "SettingPath", "render_path"]

#: A path into the settings: ``("SIMPLE_JWT", "SIGNING_KEY")`` is ``SIMPLE_JWT["SIGNING_KEY"]``.
SettingPath = tuple[str, ...]


class Kind(enum.Enum):
    """What a rotation costs a package that does not follow it."""

    #: Signed tokens or links are rejected: users sign in again, links are re-sent.
    SIGNATURES = "signatures"
    #: Data encrypted with a key derived from SECRET_KEY cannot be decrypted: data loss.
    ENCRYPTION = "encryption at rest"


@dataclass(frozen=True)
class KeyUser:
    """One package's use of ``SECRET_KEY``, as read in its code."""

    #: The distribution name on PyPI.
    distribution: str
    #: Other distributions that ship the same import package (forks, renamed releases).
    forks: tuple[str, ...]
    #: Its import packages: it is in use when one is imported, listed in ``INSTALLED_APPS``, or
    #: named by a dotted path in the settings (``"rest_framework_simplejwt.authentication..."``).
    modules: tuple[str, ...]
    #: Releases that behave as described.
    versions: str
    #: The version whose code was read, and what was seen there (file and setting).
    read: str
    kind: Kind
    #: How it uses the key.
    uses: str
    #: What breaks when SECRET_KEY rotates.
    breaks: str
    #: The fix, naming the exact setting.
    fix: str
    #: Settings that give the package a key of its own: any one that is set and holds no key of
    #: the keyring in any element (``FERNET_KEYS = [own, SECRET_KEY]`` does not) satisfies the
    #: check. Empty when no setting can (the finding then stays until silenced).
    own_key: tuple[SettingPath, ...]
    #: The test that exercises this entry against the real package.
    test: str


def render_path(path: SettingPath) -> str:
    """``("SIMPLE_JWT", "SIGNING_KEY")`` -> ``SIMPLE_JWT["SIGNING_KEY"]``."""
    head, *rest = path
    return head + "".join(f'["{part}"]' for part in rest)


_TESTS = "tests/django/test_key_users.py"

KNOWN_KEY_USERS: tuple[KeyUser, ...] = (
    KeyUser(
        distribution="djangorestframework-simplejwt",
        forks=(),
        modules=("rest_framework_simplejwt",),
        versions="all releases to date (4.x, 5.x)",
        read=(
            "5.5.1: rest_framework_simplejwt/settings.py sets DEFAULTS['SIGNING_KEY'] = "
            "settings.SECRET_KEY at import; state.py builds one TokenBackend from it; "
            "backends.py verifies HS* tokens with that one key only"
        ),
        kind=Kind.SIGNATURES,
        uses="signs and verifies JWTs with a copy of SECRET_KEY taken at import, no fallbacks",
        breaks=(
            "every access and refresh token issued before a rotation is rejected by a process "
            "started after it (401 token_not_valid); a running process keeps the old key, even "
            "after an emergency re-key"
        ),
        fix='give it its own key: SIMPLE_JWT["SIGNING_KEY"] (or an RS/ES key pair in '
        'SIMPLE_JWT["SIGNING_KEY"] and SIMPLE_JWT["VERIFYING_KEY"])',
        own_key=(("SIMPLE_JWT", "SIGNING_KEY"),),
        test=f"{_TESTS}::test_simplejwt_pins_secret_key and tests/django/test_jwt_project.py",
    ),
    KeyUser(
        distribution="django-ninja-jwt",
        forks=(),
        modules=("ninja_jwt",),
        versions="all releases to date (5.x)",
        read=(
            "5.4.5: ninja_jwt/settings.py declares SIGNING_KEY = Field(settings.SECRET_KEY) "
            "at import; state.py builds one TokenBackend from it (the simplejwt design)"
        ),
        kind=Kind.SIGNATURES,
        uses="signs and verifies JWTs with a copy of SECRET_KEY taken at import, no fallbacks",
        breaks="every token issued before a rotation is rejected by a process started after it",
        fix='give it its own key: NINJA_JWT["SIGNING_KEY"]',
        own_key=(("NINJA_JWT", "SIGNING_KEY"),),
        test=f"{_TESTS}::test_ninja_jwt_pins_secret_key",
    ),
    KeyUser(
        distribution="drf-jwt",
        forks=(),
        modules=("rest_framework_jwt",),
        versions="1.x (the maintained fork of djangorestframework-jwt, same module)",
        read=(
            "1.19.2: rest_framework_jwt/settings.py sets DEFAULTS['JWT_SECRET_KEY'] = "
            "settings.SECRET_KEY at import; utils.py jwt_encode_payload signs with it, "
            "jwt_decode_token verifies with it, or with each key when it is a list or a "
            "{kid: key} dict"
        ),
        kind=Kind.SIGNATURES,
        uses="signs and verifies JWTs with a copy of SECRET_KEY taken at import, no fallbacks",
        breaks="every token issued before a rotation is rejected by a process started after it",
        fix='give it its own keys: JWT_AUTH["JWT_SECRET_KEY"] = [new key, older keys...] (the '
        "first signs, all verify; or JWT_PRIVATE_KEY and JWT_PUBLIC_KEY with RS/ES)",
        own_key=(("JWT_AUTH", "JWT_SECRET_KEY"), ("JWT_AUTH", "JWT_PRIVATE_KEY")),
        test=f"{_TESTS}::test_drf_jwt_pins_secret_key",
    ),
    KeyUser(
        distribution="django-graphql-jwt",
        forks=(),
        modules=("graphql_jwt",),
        versions="all releases to date (0.3, 0.4)",
        read=(
            "0.4.0: graphql_jwt/settings.py sets DEFAULTS['JWT_SECRET_KEY'] = "
            "settings.SECRET_KEY at import; utils.py jwt_decode verifies with "
            "JWT_PUBLIC_KEY or JWT_SECRET_KEY, one key"
        ),
        kind=Kind.SIGNATURES,
        uses="signs and verifies JWTs with a copy of SECRET_KEY taken at import, no fallbacks",
        breaks="every token issued before a rotation is rejected by a process started after it",
        fix='give it its own key: GRAPHQL_JWT["JWT_SECRET_KEY"] (or '
        'GRAPHQL_JWT["JWT_PRIVATE_KEY"] and GRAPHQL_JWT["JWT_PUBLIC_KEY"])',
        own_key=(("GRAPHQL_JWT", "JWT_SECRET_KEY"), ("GRAPHQL_JWT", "JWT_PRIVATE_KEY")),
        test=f"{_TESTS}::test_graphql_jwt_pins_secret_key",
    ),
    KeyUser(
        distribution="django-fernet-fields-v2",
        forks=("django-fernet-fields",),
        modules=("fernet_fields",),
        versions="0.7 to 0.9 (and django-fernet-fields 0.6, the same module)",
        read=(
            "0.9: fernet_fields/fields.py EncryptedField.keys = settings.FERNET_KEYS, or "
            "[settings.SECRET_KEY] when unset, HKDF-derived (hkdf.py); SECRET_KEY_FALLBACKS "
            "is never read"
        ),
        kind=Kind.ENCRYPTION,
        uses="encrypts field values with a Fernet key derived from SECRET_KEY, no fallbacks",
        breaks=(
            "after a rotation every value encrypted before it fails to decrypt "
            "(InvalidToken): the data is lost unless the old key is restored"
        ),
        fix="give it its own keys: FERNET_KEYS = [new key, old SECRET_KEY] (first encrypts, "
        "all decrypt), then re-save the rows and drop the old key",
        own_key=(("FERNET_KEYS",),),
        test=f"{_TESTS}::test_fernet_fields_derive_from_secret_key",
    ),
    KeyUser(
        distribution="django-fernet-encrypted-fields",
        forks=(),
        modules=("encrypted_fields",),
        versions="0.2 and later read SECRET_KEY_FALLBACKS; earlier releases only SECRET_KEY",
        read=(
            "0.4.0: encrypted_fields/fields.py EncryptedFieldMixin.keys derives Fernet keys "
            "with PBKDF2 from [settings.SECRET_KEY] + SECRET_KEY_FALLBACKS and SALT_KEY, once "
            "per field (cached_property); no setting replaces SECRET_KEY"
        ),
        kind=Kind.ENCRYPTION,
        uses=(
            "encrypts field values with keys derived from SECRET_KEY and SECRET_KEY_FALLBACKS, "
            "computed once per process"
        ),
        breaks=(
            "a value stays readable only while its key is in SECRET_KEY_FALLBACKS: once the "
            "key leaves `previous` (after max_fallbacks rotations) it is lost, silently (the "
            "field returns the ciphertext as its value); a process running across rotations "
            "keeps encrypting with the key it started with"
        ),
        fix=(
            "no setting gives it a key of its own: re-save every encrypted row after each "
            "rotation (before its key leaves `previous`), or move the data to a package "
            "with its own key (FERNET_KEYS, CRYPTOGRAPHY_KEY)"
        ),
        own_key=(),
        test=f"{_TESTS}::test_fernet_encrypted_fields_read_fallbacks_until_dropped",
    ),
    KeyUser(
        distribution="django-cryptography",
        forks=("django-cryptography-5", "django-cryptography-django5"),
        modules=("django_cryptography",),
        versions=(
            "1.x, and the forks django-cryptography-5 and django-cryptography-django5 "
            "(the same module)"
        ),
        read=(
            "1.1, and django-cryptography-5 2.0.3: conf.py derives CRYPTOGRAPHY_KEY with PBKDF2 "
            "from CRYPTOGRAPHY_KEY or settings.SECRET_KEY at import; core/signing.py "
            "FernetSigner HMACs every value with settings.SECRET_KEY itself, read at each "
            "call, whatever CRYPTOGRAPHY_KEY is; no fallbacks"
        ),
        kind=Kind.ENCRYPTION,
        uses=(
            "encrypts field values with a key derived from SECRET_KEY and authenticates them "
            "with an HMAC keyed by SECRET_KEY itself, no fallbacks"
        ),
        breaks=(
            "after a rotation every value stored before it fails its HMAC check "
            "(BadSignature), even with CRYPTOGRAPHY_KEY set: the data is lost unless the old "
            "key is restored; a live rotation breaks it in running processes too"
        ),
        fix=(
            "no setting gives it a key of its own (CRYPTOGRAPHY_KEY does not cover the HMAC): "
            "before rotating, copy the data into fields of a package with its own key "
            "(FERNET_KEYS, FIELD_ENCRYPTION_KEY) and drop the django-cryptography fields"
        ),
        own_key=(),
        test=f"{_TESTS}::test_django_cryptography_derives_from_secret_key",
    ),
    KeyUser(
        distribution="django-mirage-field",
        forks=(),
        modules=("mirage",),
        versions="all releases to date (1.x)",
        read=(
            "1.4.0: mirage/crypto.py Crypto() takes MIRAGE_SECRET_KEY or settings.SECRET_KEY "
            "as the AES key (first 32 base64 characters); one key; decrypt() returns its input "
            "when decryption fails"
        ),
        kind=Kind.ENCRYPTION,
        uses="encrypts field values with AES keyed by SECRET_KEY itself, no fallbacks",
        breaks=(
            "after a rotation every value encrypted before it is lost unless the old key is "
            "restored, silently: the field returns the ciphertext as its value"
        ),
        fix="give it its own key: MIRAGE_SECRET_KEY, read from a secret of its own that is not "
        "rotated, holding the SECRET_KEY the data was encrypted with",
        own_key=(("MIRAGE_SECRET_KEY",),),
        test=f"{_TESTS}::test_mirage_field_keys_on_secret_key",
    ),
)
