"""VaultProvider reading KV v2 and KV v1 secrets from a real OpenBao dev server."""

from __future__ import annotations

import json
import logging
import time
from typing import Any
from urllib.parse import urlsplit

import pytest

from devservers.openbao import BaoServer
from secret_keyring import CachedKeyring, provider_from_url
from secret_keyring.errors import InvalidSecret, RotationError, SecretNotFound, WeakSecretKey
from secret_keyring.providers.vault import VaultProvider
from tests.plugins.leakguard import make_key

pytestmark = pytest.mark.vault


def provider(server: BaoServer, path: str, **options: Any) -> VaultProvider:
    environ = options.pop("environ", None) or server.environ(server.root_token)
    return VaultProvider(options.pop("mount", "secret"), path, environ=environ, **options)


def record_requests(vault: VaultProvider) -> list[tuple[str, str, Any]]:
    """Record (method, path, version) of every HTTP request the provider's client sends."""
    session = vault.session.client().session
    calls: list[tuple[str, str, Any]] = []
    original = session.request

    def request(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        params = kwargs.get("params") or {}
        calls.append((method.upper(), urlsplit(url).path, params.get("version")))
        return original(method, url, *args, **kwargs)

    session.request = request  # type: ignore[method-assign]
    return calls


def test_keyring_json(openbao: BaoServer, kv_path: str) -> None:
    current, nxt, old1, old2 = (make_key() for _ in range(4))
    openbao.write(kv_path, {"current": current, "next": nxt, "previous": [old1, old2]})

    keyring = provider(openbao, kv_path).fetch()

    assert keyring.current == current
    assert keyring.next == nxt
    assert keyring.previous == (old1, old2)
    assert keyring.fallbacks == [nxt, old1, old2]
    assert keyring.version == "1"
    assert keyring.source == f"vault://secret/{kv_path}"


def test_keyring_json_in_a_named_field(openbao: BaoServer, kv_path: str) -> None:
    current, nxt = make_key(), make_key()
    openbao.write(kv_path, {"keyring": json.dumps({"current": current, "next": nxt})})

    keyring = provider(openbao, kv_path, field="keyring").fetch()

    assert (keyring.current, keyring.next, keyring.previous) == (current, nxt, ())


def test_keyring_json_ignores_older_versions(openbao: BaoServer, kv_path: str) -> None:
    openbao.write(kv_path, {"secret_key": make_key()})
    current = make_key()
    openbao.write(kv_path, {"current": current, "previous": []})

    keyring = provider(openbao, kv_path).fetch()

    assert keyring.current == current
    assert keyring.fallbacks == []
    assert keyring.version == "2"


def test_plain_field_with_four_versions(openbao: BaoServer, kv_path: str) -> None:
    keys = [make_key() for _ in range(4)]
    for key in keys:
        openbao.write(kv_path, {"secret_key": key, "other": "x"})
    vault = provider(openbao, kv_path, field="secret_key")

    keyring = vault.fetch()

    assert keyring.current == keys[3]
    assert keyring.previous == (keys[2], keys[1], keys[0])
    assert keyring.version == "4"

    openbao.delete_versions(kv_path, [2])
    keyring = vault.fetch()
    assert keyring.current == keys[3]
    assert keyring.previous == (keys[2], keys[0])

    openbao.destroy_versions(kv_path, [1])
    assert vault.fetch().previous == (keys[2],)


def test_plain_default_field_is_secret_key(openbao: BaoServer, kv_path: str) -> None:
    first, second = make_key(), make_key()
    openbao.write(kv_path, {"secret_key": first})
    openbao.write(kv_path, {"secret_key": second})

    keyring = provider(openbao, kv_path).fetch()

    assert (keyring.current, keyring.previous) == (second, (first,))


def test_max_fallbacks_limits_history(openbao: BaoServer, kv_path: str) -> None:
    keys = [make_key() for _ in range(5)]
    for key in keys:
        openbao.write(kv_path, {"secret_key": key})

    assert provider(openbao, kv_path, max_fallbacks=2).fetch().previous == (keys[3], keys[2])
    assert provider(openbao, kv_path, max_fallbacks=0).fetch().previous == ()


def test_history_skips_a_version_without_the_field(
    openbao: BaoServer, kv_path: str, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = make_key(), make_key()
    openbao.write(kv_path, {"secret_key": first})
    openbao.write(kv_path, {"unrelated": "value"})
    openbao.write(kv_path, {"secret_key": second})

    with caplog.at_level(logging.WARNING):
        keyring = provider(openbao, kv_path).fetch()

    assert (keyring.current, keyring.previous) == (second, (first,))
    assert "version 2 is not used as a fallback" in caplog.text


def test_version_aware_refresh_reads_data_only_for_new_versions(
    openbao: BaoServer, kv_path: str
) -> None:
    keys = [make_key() for _ in range(3)]
    for key in keys:
        openbao.write(kv_path, {"secret_key": key})
    vault = provider(openbao, kv_path)
    calls = record_requests(vault)
    metadata = ("GET", f"/v1/secret/metadata/{kv_path}", None)
    data = f"/v1/secret/data/{kv_path}"

    first = vault.fetch()
    # The latest data first (it carries its version), then the history.
    assert calls == [("GET", data, None), metadata, ("GET", data, 2), ("GET", data, 1)]

    calls.clear()
    assert vault.fetch() is first
    assert calls == [metadata]

    newest = make_key()
    openbao.write(kv_path, {"secret_key": newest})
    calls.clear()
    keyring = vault.fetch()
    assert calls == [metadata, ("GET", data, 4)]
    assert (keyring.current, keyring.previous) == (newest, (keys[2], keys[1], keys[0]))
    assert keyring.version == "4"

    # Deleting an older version changes the fallbacks without reading any data.
    openbao.delete_versions(kv_path, [3])
    calls.clear()
    assert vault.fetch().previous == (keys[1], keys[0])
    assert calls == [metadata]


def test_keyring_json_starts_with_one_request(openbao: BaoServer, kv_path: str) -> None:
    current, nxt = make_key(), make_key()
    openbao.write(kv_path, {"current": current, "next": nxt})
    vault = provider(openbao, kv_path)
    calls = record_requests(vault)
    metadata = ("GET", f"/v1/secret/metadata/{kv_path}", None)

    first = vault.fetch()
    assert calls == [("GET", f"/v1/secret/data/{kv_path}", None)]

    calls.clear()
    assert vault.fetch() is first
    assert calls == [metadata]

    openbao.write(kv_path, {"current": nxt, "next": make_key(), "previous": [current]})
    calls.clear()
    assert vault.fetch().current == nxt
    assert calls == [metadata, ("GET", f"/v1/secret/data/{kv_path}", 2)]


def test_versions_deleted_by_delete_version_after(openbao: BaoServer, kv_path: str) -> None:
    admin = openbao.client()
    admin.secrets.kv.v2.update_metadata(kv_path, delete_version_after="1h", mount_point="secret")
    first, second = make_key(), make_key()
    openbao.write(kv_path, {"secret_key": first})
    openbao.write(kv_path, {"secret_key": second})

    # The deletion times lie an hour ahead: the versions are live.
    assert provider(openbao, kv_path).fetch().previous == (first,)

    later = provider(openbao, kv_path, wall_clock=lambda: time.time() + 7200)
    with pytest.raises(SecretNotFound, match=r"latest version \(2\) is deleted"):
        later.fetch()


def test_recreated_secret_is_read_again(openbao: BaoServer, kv_path: str) -> None:
    old = make_key()
    openbao.write(kv_path, {"secret_key": old})
    vault = provider(openbao, kv_path)
    assert vault.fetch().current == old

    openbao.client().secrets.kv.v2.delete_metadata_and_all_versions(kv_path, mount_point="secret")
    new = make_key()
    openbao.write(kv_path, {"secret_key": new})

    keyring = vault.fetch()
    assert (keyring.current, keyring.version) == (new, "1")


def test_cached_keyring_refresh_sees_a_new_version(openbao: BaoServer, kv_path: str) -> None:
    first, second = make_key(), make_key()
    openbao.write(kv_path, {"current": first})
    cache = CachedKeyring(provider(openbao, kv_path), ttl=60)
    assert cache.get().current == first

    openbao.write(kv_path, {"current": second, "previous": [first]})

    keyring = cache.refresh()
    assert (keyring.current, keyring.previous, keyring.version) == (second, (first,), "2")


def test_provider_from_url_reads_the_environment(
    openbao: BaoServer, kv_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = make_key()
    openbao.write(kv_path, {"django": key})
    for name, value in openbao.environ(openbao.root_token).items():
        monkeypatch.setenv(name, value)

    keyring = provider_from_url(f"vault://secret/{kv_path}?timeout=3#django").fetch()

    assert keyring.current == key
    assert keyring.source == f"vault://secret/{kv_path}?timeout=3#django"  # as written


def test_namespace(openbao: BaoServer, kv_path: str) -> None:
    namespace = openbao.namespace()
    key = make_key()
    openbao.write(kv_path, {"secret_key": key}, namespace=namespace)
    root_token = openbao.root_token

    from_env = openbao.environ(root_token, VAULT_NAMESPACE=namespace)
    assert provider(openbao, kv_path, environ=from_env).fetch().current == key
    from_bao_env = openbao.environ(root_token, BAO_NAMESPACE=namespace)
    assert provider(openbao, kv_path, environ=from_bao_env).fetch().current == key
    assert provider(openbao, kv_path, namespace=namespace).fetch().current == key
    with pytest.raises(SecretNotFound):
        provider(openbao, kv_path).fetch()  # the root namespace has no such secret


def test_kv_v1(openbao: BaoServer) -> None:
    path = openbao.new_path()
    key = make_key()
    openbao.write_v1(path, {"SECRET_KEY": key})
    mount = openbao.kv1_mount()

    keyring = provider(openbao, path, mount=mount, kv_version=1, field="SECRET_KEY").fetch()

    assert keyring.current == key
    assert keyring.previous == ()
    assert keyring.version is None


def test_kv_v1_keyring_json(openbao: BaoServer) -> None:
    path = openbao.new_path()
    current, nxt = make_key(), make_key()
    openbao.write_v1(path, {"current": current, "next": nxt})

    keyring = provider(openbao, path, mount=openbao.kv1_mount(), kv_version=1).fetch()

    assert (keyring.current, keyring.next) == (current, nxt)


def test_read_secret_version_returns_the_raw_data_and_version(
    openbao: BaoServer, kv_path: str
) -> None:
    first, second = make_key(), make_key()
    openbao.write(kv_path, {"current": first})
    openbao.write(kv_path, {"current": second})
    vault = provider(openbao, kv_path)

    assert vault.read_secret_version()[:2] == ({"current": second}, 2)
    assert vault.read_secret_version(1)[:2] == ({"current": first}, 1)
    openbao.delete_versions(kv_path, [1])
    with pytest.raises(SecretNotFound, match="version 1 is deleted"):
        vault.read_secret_version(1)


def test_run_passes_errors_of_ours_through(openbao: BaoServer, kv_path: str) -> None:
    error = RotationError("another rotation won")

    def operation(client: Any) -> None:
        raise error

    with pytest.raises(RotationError) as caught:
        provider(openbao, kv_path).session.run(operation, action="write", idempotent=False)
    assert caught.value is error
    assert caught.value.__cause__ is None


# -- missing things -----------------------------------------------------------------------------


def test_missing_path(openbao: BaoServer, kv_path: str) -> None:
    with pytest.raises(SecretNotFound) as caught:
        provider(openbao, kv_path).fetch()

    message = str(caught.value)
    assert openbao.addr in message
    assert "mount 'secret'" in message
    assert f"path {kv_path!r}" in message
    assert "secret-keyring init" in message
    assert caught.value.__cause__ is not None
    assert caught.value.source == f"vault://secret/{kv_path}"


def test_missing_mount(openbao: BaoServer, kv_path: str) -> None:
    with pytest.raises(SecretNotFound, match="mount 'nomount'"):
        provider(openbao, kv_path, mount="nomount").fetch()


def test_missing_path_kv_v1(openbao: BaoServer) -> None:
    with pytest.raises(SecretNotFound, match="KV v1"):
        provider(openbao, openbao.new_path(), mount=openbao.kv1_mount(), kv_version=1).fetch()


def test_missing_field(openbao: BaoServer, kv_path: str) -> None:
    openbao.write(kv_path, {"secret_key": make_key()})

    with pytest.raises(SecretNotFound) as caught:
        provider(openbao, kv_path, field="SECRET_KEY").fetch()

    message = str(caught.value)
    assert "field 'SECRET_KEY'" in message
    assert "'secret_key'" in message  # names the fields it does have
    assert openbao.addr in message
    assert f"path {kv_path!r}" in message


def test_no_default_field_and_no_keyring(openbao: BaoServer, kv_path: str) -> None:
    openbao.write(kv_path, {"password": "x"})

    with pytest.raises(InvalidSecret, match="'#FIELD'"):
        provider(openbao, kv_path).fetch()


def test_latest_version_deleted(openbao: BaoServer, kv_path: str) -> None:
    openbao.write(kv_path, {"secret_key": make_key()})
    openbao.write(kv_path, {"secret_key": make_key()})
    openbao.delete_versions(kv_path, [2])

    with pytest.raises(SecretNotFound, match=r"latest version \(2\) is deleted"):
        provider(openbao, kv_path).fetch()


def test_weak_key_is_refused(openbao: BaoServer, kv_path: str) -> None:
    openbao.write(kv_path, {"secret_key": "django-insecure-" + "x1y2z3" * 10})

    with pytest.raises(WeakSecretKey, match="django-insecure-"):
        provider(openbao, kv_path).fetch()
