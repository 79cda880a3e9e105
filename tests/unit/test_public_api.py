"""The public surface is pinned: a change here is a deliberate API change."""

from __future__ import annotations

import subprocess
import sys

import secret_keyring
import secret_keyring.errors
import secret_keyring.providers


def fresh_interpreter(code: str) -> str:
    """What ``code`` prints in a new interpreter (whose imports this process cannot skew)."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_top_level_all_is_pinned_and_sorted() -> None:
    assert secret_keyring.__all__ == ["CachedKeyring", "Keyring", "Provider", "provider_from_url"]
    assert secret_keyring.__all__ == sorted(secret_keyring.__all__)
    for name in secret_keyring.__all__:
        assert getattr(secret_keyring, name) is not None


def test_errors_all_is_pinned() -> None:
    assert secret_keyring.errors.__all__ == [
        "AccessDenied",
        "ConfigurationError",
        "InvalidSecret",
        "RotationError",
        "SecretKeyringError",
        "SecretNotFound",
        "SourceError",
        "SourceUnavailable",
        "WeakSecretKey",
    ]


def test_error_tree() -> None:
    e = secret_keyring.errors
    assert issubclass(e.ConfigurationError, e.SecretKeyringError)
    for cls in (e.SecretNotFound, e.AccessDenied, e.SourceUnavailable):
        assert issubclass(cls, e.SourceError)
    assert issubclass(e.WeakSecretKey, e.InvalidSecret)
    assert issubclass(e.RotationError, e.SecretKeyringError)
    assert e.SourceUnavailable.retryable
    assert not e.AccessDenied.retryable


def test_providers_all_is_pinned() -> None:
    assert secret_keyring.providers.__all__ == [
        "AwsSecretsManagerProvider",
        "BaseProvider",
        "DevProvider",
        "EnvProvider",
        "FileProvider",
        "Provider",
        "VaultProvider",
    ]


def test_import_pulls_in_no_sdk_and_no_django() -> None:
    code = (
        "import sys, secret_keyring, secret_keyring.providers, secret_keyring.cli;"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('boto3','botocore','hvac','requests','django'));"
        "print(','.join(bad))"
    )
    assert fresh_interpreter(code) == ""


def test_py_typed_is_shipped() -> None:
    from importlib.resources import files

    assert files("secret_keyring").joinpath("py.typed").is_file()


def test_no_compatibility_alias_outlives_a_move() -> None:
    """No release had these names where they used to be, so nothing keeps them there: key
    generation is ``secret_keyring.keygen``'s, reading a stored value ``secret_keyring.payload``'s
    and the Vault provider's hvac client its session's (``provider.session.client()``)."""
    import importlib.util

    import secret_keyring.keyring
    from secret_keyring.providers.vault import VaultProvider

    assert importlib.util.find_spec("secret_keyring.rotation.keygen") is None
    moved = ("Payload", "keyring_to_json", "parse_mapping", "parse_payload")
    assert [name for name in moved if hasattr(secret_keyring.keyring, name)] == []
    assert "__getattr__" not in vars(secret_keyring.keyring)
    assert not hasattr(VaultProvider, "client")
