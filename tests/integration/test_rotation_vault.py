"""Vault/OpenBao rotation against a real OpenBao dev server: the check-and-set write, concurrent
rotations, a reader's policy, init, and the scheduled handler configured by the environment."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from devservers.openbao import BaoServer
from secret_keyring import Keyring
from secret_keyring.cli import main
from secret_keyring.errors import AccessDenied, ConfigurationError, RotationError, SecretNotFound
from secret_keyring.keygen import new_keyring
from secret_keyring.keyring import adoption_marker, is_weak
from secret_keyring.payload import keyring_to_json, parse_mapping
from secret_keyring.providers.vault import VaultProvider
from secret_keyring.rotation import RotationReport
from secret_keyring.rotation.run import init_source, rotate_source
from secret_keyring.rotation.vault import init_keyring, lambda_handler, rotate_keyring
from tests.integration.server_clock import ServerClock
from tests.plugins.leakguard import assert_no_key_material, make_key, make_weak_key

pytestmark = pytest.mark.vault


def provider(server: BaoServer, path: str, **options: Any) -> VaultProvider:
    environ = options.pop("environ", None) or server.environ(server.root_token)
    return VaultProvider(options.pop("mount", "secret"), path, environ=environ, **options)


def version_data(server: BaoServer, path: str, version: int | None = None) -> dict[str, Any]:
    answer = server.client().secrets.kv.v2.read_secret_version(
        path, version=version, mount_point="secret", raise_on_deleted_version=True
    )
    return dict(answer["data"]["data"])


def current_version(server: BaoServer, path: str) -> int:
    metadata = server.client().secrets.kv.v2.read_secret_metadata(path, mount_point="secret")
    return int(metadata["data"]["current_version"])


def stored(server: BaoServer, path: str, version: int | None = None, **kw: Any) -> Keyring:
    return parse_mapping(version_data(server, path, version), **kw).to_keyring()


def assert_rule(old: Keyring, new: Keyring, max_fallbacks: int = 3) -> None:
    assert new.current == old.next
    assert new.previous == (old.current, *old.previous)[:max_fallbacks]
    assert new.next is not None
    assert new.next not in (old.current, old.next, *old.previous)


# -- one rotation ------------------------------------------------------------------------------


def test_rotation_writes_the_next_version_with_the_rule_applied(
    openbao: BaoServer, kv_path: str
) -> None:
    old = Keyring(current=make_key(), next=make_key(), previous=(make_key(),))
    openbao.write(kv_path, json.loads(keyring_to_json(old)))
    vault = provider(openbao, kv_path)

    report = rotate_keyring(vault)

    assert (report.written, report.version) == (True, "2")
    assert current_version(openbao, kv_path) == 2
    new = stored(openbao, kv_path)
    assert_rule(old, new)
    assert stored(openbao, kv_path, 1).same_keys(old)  # version 1 untouched
    assert report.fingerprints == new.fingerprints
    fetched = vault.fetch()
    assert fetched.same_keys(new)
    assert fetched.version == "2"


def test_repeated_rotations_trim_previous(openbao: BaoServer, kv_path: str) -> None:
    openbao.write(kv_path, json.loads(keyring_to_json(new_keyring())))
    vault = provider(openbao, kv_path)
    history = [stored(openbao, kv_path)]
    for round_ in range(5):
        report = rotate_keyring(vault, max_fallbacks=2)
        assert report.version == str(round_ + 2)
        history.append(stored(openbao, kv_path))
        assert_rule(history[-2], history[-1], 2)
    assert history[-1].previous == (history[-2].current, history[-3].current)


def test_keyring_json_in_a_field_keeps_the_other_members(openbao: BaoServer, kv_path: str) -> None:
    old = new_keyring()
    openbao.write(kv_path, {"keyring": keyring_to_json(old), "database": "db-url"})

    rotate_keyring(provider(openbao, kv_path, field="keyring"))

    data = version_data(openbao, kv_path)
    assert data["database"] == "db-url"
    assert isinstance(data["keyring"], str)  # stored as it was: a JSON string
    assert_rule(old, stored(openbao, kv_path, field="keyring"))


def test_keyring_as_a_nested_object_in_a_field(openbao: BaoServer, kv_path: str) -> None:
    old = new_keyring()
    openbao.write(kv_path, {"keyring": json.loads(keyring_to_json(old))})

    rotate_keyring(provider(openbao, kv_path, field="keyring"))

    data = version_data(openbao, kv_path)
    assert isinstance(data["keyring"], dict)
    assert_rule(old, stored(openbao, kv_path, field="keyring"))


def test_plain_field_rotates_and_old_versions_become_fallbacks(
    openbao: BaoServer, kv_path: str
) -> None:
    first, second = make_key(), make_key()
    openbao.write(kv_path, {"secret_key": first, "other": "x"})
    openbao.write(kv_path, {"secret_key": second, "other": "x"})
    vault = provider(openbao, kv_path)

    report = rotate_keyring(vault)

    assert report.version == "3"
    data = version_data(openbao, kv_path)
    assert data["other"] == "x"
    assert parse_mapping(data, default_field="secret_key").kind == "plain"
    assert data["secret_key"] not in (first, second)
    keyring = vault.fetch()
    assert keyring.current == data["secret_key"]
    assert keyring.previous == (second, first)


def test_zero_fallbacks_refuses_a_keyring_rotation(openbao: BaoServer, kv_path: str) -> None:
    openbao.write(kv_path, json.loads(keyring_to_json(new_keyring())))
    with pytest.raises(RotationError, match="max_fallbacks is 0"):
        rotate_keyring(provider(openbao, kv_path), max_fallbacks=0)
    assert current_version(openbao, kv_path) == 1


def test_a_value_that_cannot_be_rotated(openbao: BaoServer, kv_path: str) -> None:
    openbao.write(kv_path, {"unrelated": "value"})
    with pytest.raises(RotationError, match="cannot be rotated"):
        rotate_keyring(provider(openbao, kv_path))
    assert current_version(openbao, kv_path) == 1


# -- concurrency -------------------------------------------------------------------------------


def _rotate_together(vaults: list[VaultProvider]) -> list[RotationReport]:
    """Run one rotation per provider in its own thread; every thread reads before any writes."""
    barrier = threading.Barrier(len(vaults), timeout=30)
    for vault in vaults:
        real_read = vault.read_secret_version
        first = [True]

        def read(
            version: int | None = None,
            *,
            _real: Any = real_read,
            _first: list[bool] = first,
        ) -> tuple[dict[str, Any], int | None, float | None]:
            result = _real(version)
            if _first[0]:  # only the read that the write's cas comes from
                _first[0] = False
                barrier.wait()
            return result

        vault.read_secret_version = read  # type: ignore[method-assign]

    reports: list[RotationReport | None] = [None] * len(vaults)
    errors: list[Exception] = []

    def run(index: int) -> None:
        try:
            reports[index] = rotate_keyring(vaults[index])
        except Exception as exc:  # noqa: BLE001 - handed to the main thread, which fails on it
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(vaults))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return [report for report in reports if report is not None]


def test_two_concurrent_rotations_write_exactly_one_version(
    openbao: BaoServer, kv_path: str
) -> None:
    old = new_keyring()
    openbao.write(kv_path, json.loads(keyring_to_json(old)))
    # Two providers: two processes (say, two scheduled runs that fired together).
    reports = _rotate_together([provider(openbao, kv_path), provider(openbao, kv_path)])

    assert len(reports) == 2
    assert current_version(openbao, kv_path) == 2  # one new version, not two
    assert sorted(r.written for r in reports) == [False, True]
    winner, loser = sorted(reports, key=lambda r: not r.written)
    assert (winner.version, loser.version) == ("2", "2")
    assert "another rotation" in loser.how
    new = stored(openbao, kv_path)
    assert_rule(old, new)  # rotated once, not twice
    assert winner.fingerprints == loser.fingerprints == new.fingerprints


def test_a_conflict_is_logged_without_key_material(
    openbao: BaoServer, kv_path: str, caplog: pytest.LogCaptureFixture
) -> None:
    openbao.write(kv_path, json.loads(keyring_to_json(new_keyring())))
    _rotate_together([provider(openbao, kv_path), provider(openbao, kv_path)])
    assert "another rotation wrote version 2 first" in caplog.text


# -- permissions and engines -------------------------------------------------------------------


def test_a_read_only_approle_cannot_rotate(openbao: BaoServer, kv_path: str) -> None:
    openbao.write(kv_path, json.loads(keyring_to_json(new_keyring())))
    mount, role_id, secret_id = openbao.approle([openbao.read_policy(kv_path)])
    environ = openbao.environ(VAULT_ROLE_ID=role_id, VAULT_SECRET_ID=secret_id)
    reader = provider(openbao, kv_path, auth="approle", auth_mount=mount, environ=environ)
    assert reader.fetch().version == "1"  # it can read...

    with pytest.raises(AccessDenied) as raised:
        rotate_keyring(reader)  # ...but not write

    assert "write" in str(raised.value)
    assert current_version(openbao, kv_path) == 1


def test_an_approle_with_write_access_rotates(openbao: BaoServer, kv_path: str) -> None:
    openbao.write(kv_path, json.loads(keyring_to_json(new_keyring())))
    policy = openbao.policy(
        f'path "secret/data/{kv_path}" {{ capabilities = ["read", "create", "update"] }}\n'
        f'path "secret/metadata/{kv_path}" {{ capabilities = ["read"] }}\n'
    )
    mount, role_id, secret_id = openbao.approle([policy])
    environ = openbao.environ(VAULT_ROLE_ID=role_id, VAULT_SECRET_ID=secret_id)

    report = rotate_keyring(
        provider(openbao, kv_path, auth="approle", auth_mount=mount, environ=environ)
    )

    assert (report.written, report.version) == (True, "2")


def test_kv_v1_is_refused(openbao: BaoServer, kv_path: str) -> None:
    openbao.write_v1(kv_path, json.loads(keyring_to_json(new_keyring())))
    v1 = provider(openbao, kv_path, mount=openbao.kv1_mount(), kv_version=1)
    with pytest.raises(RotationError, match="KV v2"):
        rotate_keyring(v1)
    with pytest.raises(RotationError, match="KV v2"):
        init_keyring(v1)


# -- init --------------------------------------------------------------------------------------


def test_init_writes_a_first_keyring_only_where_none_exists(
    openbao: BaoServer, kv_path: str
) -> None:
    vault = provider(openbao, kv_path)

    first = init_keyring(vault)

    assert (first.written, first.version) == (True, "1")
    keyring = vault.fetch()
    assert keyring.next is not None
    assert keyring.previous == ()
    assert first.fingerprints == keyring.fingerprints

    again = init_source(provider(openbao, kv_path))

    assert (again.written, again.version) == (False, "1")
    assert again.fingerprints == first.fingerprints
    assert current_version(openbao, kv_path) == 1


def test_init_leaves_an_existing_plain_key_alone(openbao: BaoServer, kv_path: str) -> None:
    key = make_key()
    openbao.write(kv_path, {"secret_key": key})
    report = init_keyring(provider(openbao, kv_path))
    assert not report.written
    assert version_data(openbao, kv_path) == {"secret_key": key}


def test_init_with_a_field(openbao: BaoServer, kv_path: str) -> None:
    vault = provider(openbao, kv_path, field="django")
    init_keyring(vault)
    assert list(version_data(openbao, kv_path)) == ["django"]
    assert vault.fetch().next is not None


def test_init_then_rotate_through_the_dispatcher(openbao: BaoServer, kv_path: str) -> None:
    vault = provider(openbao, kv_path)
    init_source(vault)
    first = vault.fetch()
    # The keyring is seconds old: its `next` cannot have reached every cache yet.
    report = rotate_source(vault)
    assert (report.skipped, report.written, report.version) == (True, False, "1")
    assert report.how.startswith("skipped: the last rotation is ")
    assert current_version(openbao, kv_path) == 1
    # Sixteen minutes later on the server's clock (its created_time against its Date header).
    ServerClock(16 * 60).on_vault(vault)
    report = rotate_source(vault)
    assert (report.skipped, report.written, report.version) == (False, True, "2")
    assert_rule(first, vault.fetch())


@pytest.mark.parametrize("field", [None, "django"])
def test_init_adopt_env_then_two_rotations_retire_the_weak_key(
    openbao: BaoServer,
    kv_path: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    field: str | None,
) -> None:
    weak = make_weak_key()
    for name, value in openbao.environ(openbao.root_token).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("OLD_SECRET_KEY", weak)
    url = f"vault://secret/{kv_path}" + (f"#{field}" if field else "")

    assert main(["init", url, "--adopt-env", "OLD_SECRET_KEY"]) == 0
    adopted = provider(openbao, kv_path, field=field).fetch()
    assert (adopted.current, adopted.previous) == (weak, ())
    assert adopted.next is not None
    assert not is_weak(adopted.next)
    # Create-only: a second adoption of another key is refused, the secret stays as it was.
    monkeypatch.setenv("OLD_SECRET_KEY", make_weak_key())
    assert main(["init", url, "--adopt-env", "OLD_SECRET_KEY"]) == 1
    assert current_version(openbao, kv_path) == 1

    # The rotation itself, without a minimum interval to wait out between the two.
    rotate_keyring(provider(openbao, kv_path, field=field))
    first = provider(openbao, kv_path, field=field).fetch()
    assert first.current == adopted.next
    assert first.previous == (weak,)
    # The marker that lets the weak key be trusted goes with the key, not before it.
    assert adopted.adopted == first.adopted == adoption_marker(weak)
    rotate_keyring(provider(openbao, kv_path, field=field))
    second = provider(openbao, kv_path, field=field).fetch()
    assert weak not in (second.current, second.next, *second.previous)
    assert second.weak == ()
    assert second.adopted is None
    out = capsys.readouterr()
    assert_no_key_material(out.out + out.err, "CLI output")


# -- the scheduled handler ---------------------------------------------------------------------


@pytest.fixture
def handler_env(openbao: BaoServer, vault_env: pytest.MonkeyPatch) -> BaoServer:
    """Only what the handler is given: SECRET_KEYRING_* and the usual VAULT_* variables."""
    for name, value in openbao.environ().items():
        vault_env.setenv(name, value)
    return openbao


def _configured(server: BaoServer, path: str, monkeypatch: pytest.MonkeyPatch) -> Keyring:
    """A keyring at ``path``, and the handler pointed at it with the root token."""
    old = new_keyring()
    server.write(path, json.loads(keyring_to_json(old)))
    monkeypatch.setenv("VAULT_TOKEN", server.root_token)
    monkeypatch.setenv("SECRET_KEYRING_SOURCE", f"vault://secret/{path}")
    return old


def test_handler_rotates_the_configured_source(
    handler_env: BaoServer, kv_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = _configured(handler_env, kv_path, monkeypatch)
    monkeypatch.setenv("SECRET_KEYRING_MIN_INTERVAL", "0")  # the keyring is seconds old

    result = lambda_handler({"source": "aws.events", "detail-type": "Scheduled Event"}, None)

    new = stored(handler_env, kv_path)
    assert_rule(old, new)
    assert result["source"] == f"vault://secret/{kv_path}"
    assert (result["version"], result["rotated"], result["skipped"]) == ("2", True, False)
    assert result["fingerprints"] == new.fingerprints
    assert_no_key_material(json.dumps(result), "the handler's result")


def test_handler_skip_says_how_to_rotate_anyway(
    handler_env: BaoServer, kv_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The handler has no ``--force``: its skip names the setting that rotates anyway."""
    _configured(handler_env, kv_path, monkeypatch)

    result = lambda_handler({"source": "aws.scheduler"}, None)

    assert (result["rotated"], result["skipped"]) == (False, True)
    assert str(result["how"]).endswith("(SECRET_KEYRING_MIN_INTERVAL=0 rotates anyway)")


def test_handler_logs_in_with_approle_from_the_environment(
    handler_env: BaoServer, kv_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler_env.write(kv_path, json.loads(keyring_to_json(new_keyring())))
    policy = handler_env.policy(
        f'path "secret/data/{kv_path}" {{ capabilities = ["read", "update"] }}\n'
        f'path "secret/metadata/{kv_path}" {{ capabilities = ["read"] }}\n'
    )
    mount, role_id, secret_id = handler_env.approle([policy])
    monkeypatch.setenv("VAULT_ROLE_ID", role_id)
    monkeypatch.setenv("VAULT_SECRET_ID", secret_id)
    monkeypatch.setenv(
        "SECRET_KEYRING_SOURCE", f"vault://secret/{kv_path}?auth=approle&auth_mount={mount}"
    )
    monkeypatch.setenv("SECRET_KEYRING_MAX_FALLBACKS", "1")
    monkeypatch.setenv("SECRET_KEYRING_MIN_INTERVAL", "0")

    for round_ in range(3):
        result = lambda_handler({}, None)
        assert result["version"] == str(round_ + 2)
    assert len(stored(handler_env, kv_path).previous) == 1


@pytest.mark.parametrize(
    ("variables", "match"),
    [
        ({}, "SECRET_KEYRING_SOURCE is not set"),
        ({"SECRET_KEYRING_SOURCE": "file:///run/secrets/key"}, "must be a vault:// URL"),
        (
            {"SECRET_KEYRING_SOURCE": "vault://secret/x", "SECRET_KEYRING_MAX_FALLBACKS": "x"},
            "0 to 18",
        ),
        (
            {"SECRET_KEYRING_SOURCE": "vault://secret/x", "SECRET_KEYRING_MAX_FALLBACKS": "19"},
            "0 to 18",
        ),
        ({"SECRET_KEYRING_SOURCE": "nope://x"}, "nope"),
        (
            {"SECRET_KEYRING_SOURCE": "vault://secret/x", "SECRET_KEYRING_MIN_INTERVAL": "15m"},
            "SECRET_KEYRING_MIN_INTERVAL must be a number of seconds",
        ),
        (
            {"SECRET_KEYRING_SOURCE": "vault://secret/x", "SECRET_KEYRING_MIN_INTERVAL": "-1"},
            "SECRET_KEYRING_MIN_INTERVAL must be a number of seconds, 0 or more",
        ),
        (
            {"SECRET_KEYRING_SOURCE": "vault://secret/x", "SECRET_KEYRING_MIN_INTERVAL": "nan"},
            "SECRET_KEYRING_MIN_INTERVAL must be a number of seconds, 0 or more",
        ),
    ],
)
def test_handler_configuration_errors(
    handler_env: BaoServer,
    monkeypatch: pytest.MonkeyPatch,
    variables: dict[str, str],
    match: str,
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match=match):
        lambda_handler({}, None)


def test_handler_skips_a_keyring_younger_than_the_minimum_interval(
    handler_env: BaoServer, kv_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default (900 s) applies without any setting; the result says why nothing changed."""
    old = _configured(handler_env, kv_path, monkeypatch)

    result = lambda_handler({}, None)

    assert (result["version"], result["rotated"], result["skipped"]) == ("1", False, True)
    assert result["how"].startswith("skipped: the last rotation is ")
    assert result["fingerprints"] == old.fingerprints
    assert current_version(handler_env, kv_path) == 1
    assert_no_key_material(json.dumps(result), "the handler's result")


def test_handler_with_a_missing_secret(
    handler_env: BaoServer, kv_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAULT_TOKEN", handler_env.root_token)
    monkeypatch.setenv("SECRET_KEYRING_SOURCE", f"vault://secret/{kv_path}")
    with pytest.raises(SecretNotFound):
        lambda_handler({}, None)
