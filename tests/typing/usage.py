"""The public API as users write it, checked by ``mypy --strict`` (``make typecheck``).

Nothing here runs: the functions exist so that a change to a public name, signature or return
type fails the type check. ``assert_type`` pins return types; a ``# type: ignore[code]`` pins a
misuse that must stay an error (strict mode reports an ignore that is no longer needed).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from secret_keyring import CachedKeyring, Keyring, Provider, provider_from_url
from secret_keyring.django import SOURCE_ENV, secret_keys
from secret_keyring.errors import (
    AccessDenied,
    ConfigurationError,
    InvalidSecret,
    RotationError,
    SecretKeyringError,
    SecretNotFound,
    SourceError,
    SourceUnavailable,
    WeakSecretKey,
)
from secret_keyring.providers import (
    AwsSecretsManagerProvider,
    BaseProvider,
    DevProvider,
    EnvProvider,
    FileProvider,
    VaultProvider,
)
from secret_keyring.testing import FakeClock, StaticProvider

if sys.version_info >= (3, 11):
    from typing import assert_type
else:
    from typing_extensions import assert_type


def settings_one_liner() -> None:
    secret_key, fallbacks = secret_keys("vault://secret/myapp/django")
    assert_type(secret_key, str)
    assert_type(fallbacks, list[str])
    assert_type(SOURCE_ENV, str)


def settings_with_every_option(provider: Provider) -> tuple[str, list[str]]:
    assert_type(secret_keys(), tuple[str, list[str]])
    return secret_keys(
        provider,
        ttl=60.0,
        jitter=0.2,
        max_stale=3600.0,
        max_fallbacks=2,
        startup_timeout=5.0,
        on_stale="fail",
        refresh_timeout=10.0,
    )


def settings_misuse() -> None:
    secret_keys("env://DJANGO_SECRET_KEY", ttl_seconds=5)  # type: ignore[call-arg]
    secret_keys("env://DJANGO_SECRET_KEY", on_stale="ignore")  # type: ignore[arg-type]
    secret_keys("env://DJANGO_SECRET_KEY", 60.0)  # type: ignore[call-arg]


def keyring_value() -> None:
    keyring = Keyring("a" * 50, next="b" * 50, previous=("c" * 50,), version="3", source="x")
    assert_type(keyring.current, str)
    assert_type(keyring.next, str | None)
    assert_type(keyring.previous, tuple[str, ...])
    assert_type(keyring.version, str | None)
    assert_type(keyring.source, str)
    assert_type(keyring.fallbacks, list[str])
    assert_type(keyring.adopted, str | None)
    keyring.current = "d" * 50  # type: ignore[misc]
    # `adopted` grew keyword-only: positionally it would be taken for a sixth field.
    Keyring("a" * 50, None, (), None, "x", "0" * 64)  # type: ignore[call-arg]


def cache_usage(provider: Provider) -> None:
    cache = CachedKeyring(provider, ttl=300.0, jitter=0.1, max_stale=86400.0)
    assert_type(cache.get(), Keyring)
    assert_type(cache.refresh(), Keyring)
    assert_type(cache.status(), dict[str, Any])
    CachedKeyring(provider, 300.0)  # type: ignore[call-arg]
    CachedKeyring(provider, refresh_mode="inline", refresh_timeout=10.0)
    CachedKeyring(provider, refresh_mode="sometimes")  # type: ignore[arg-type]


def urls_and_providers(tmp: Path) -> list[Provider]:
    assert_type(provider_from_url("dev://"), Provider)
    assert_type(provider_from_url("file:///run/secrets/key", max_fallbacks=1), Provider)
    providers: list[Provider] = [
        VaultProvider("secret", "myapp/django", field="secret_key", auth="approle"),
        VaultProvider("kv", "myapp", kv_version=1, environ={"VAULT_ADDR": "http://127.0.0.1"}),
        AwsSecretsManagerProvider("prod/myapp/django", region="eu-west-1", field="SECRET_KEY"),
        EnvProvider("DJANGO_SECRET_KEY", fallbacks_variable="DJANGO_SECRET_KEY_FALLBACKS"),
        FileProvider(tmp / "key", field="current"),
        FileProvider("/run/secrets/django_secret_key"),
        DevProvider(),
        DevProvider(tmp / ".secret-keyring"),
    ]
    for provider in providers:
        assert_type(provider.source, str)
        assert_type(provider.fetch(), Keyring)
        assert isinstance(provider, BaseProvider)
    return providers


def error_handling(provider: Provider) -> str:
    try:
        provider.fetch()
    except SourceUnavailable as exc:
        assert_type(exc.retryable, bool)
        return exc.source
    except (SecretNotFound, AccessDenied) as exc:
        assert_type(exc, SecretNotFound | AccessDenied)
        return str(exc)
    except WeakSecretKey:
        return "weak"
    except (InvalidSecret, ConfigurationError, RotationError, SourceError) as exc:
        error: SecretKeyringError = exc
        return error.source
    return ""


def testing_fakes() -> None:
    clock = FakeClock()
    assert_type(clock(), float)
    clock.advance(61.0)
    provider = StaticProvider(source="static://mine")
    assert_type(provider.rotate(), Keyring)
    assert_type(provider.keyring, Keyring)
    provider.fail_with(SourceUnavailable("down", source=provider.source))
    provider.fail_with(None)
    cache = CachedKeyring(provider, ttl=60.0, clock=clock, spawn=lambda run: run())
    assert_type(cache.get(), Keyring)
    # StaticProvider satisfies the Provider protocol without inheriting from anything.
    as_provider: Provider = provider
    assert_type(as_provider.fetch(), Keyring)


def scheduled_rotation(provider: Provider) -> bool:
    from secret_keyring.rotation import DEFAULT_MIN_INTERVAL, IntervalGuard, RotationReport
    from secret_keyring.rotation.run import rotate_source

    report = rotate_source(provider, max_fallbacks=3, min_interval=DEFAULT_MIN_INTERVAL)
    assert_type(report, RotationReport)
    rotate_source(provider, force=True, clock=FakeClock())
    rotate_source(provider, min_interval="15m")  # type: ignore[arg-type]
    guard = IntervalGuard(600.0, clock=FakeClock())
    assert_type(guard.too_soon(1_800_000_000.0), str | None)
    return report.skipped or not report.written
