"""The servers and secrets of ``make bench``: an OpenBao dev server and moto on loopback, both
holding the same keyring, for ``run.py`` and for a section run on its own
(``bench_fleet_scale.py``)."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import bench_aws  # noqa: E402 - the AWS environment of the cold starts is reused as it is

AWS_NAME = "bench/run/django"
VAULT_PATH = "bench/run/django"


def write_secrets(vault: Any, moto_env: dict[str, str]) -> None:
    """The same keyring (current, next, one previous) in OpenBao and in Secrets Manager."""
    import boto3

    from secret_keyring.keygen import new_keyring, rotate

    keyring = rotate(new_keyring())
    data = {"current": keyring.current, "next": keyring.next, "previous": list(keyring.previous)}
    vault.client().secrets.kv.v2.create_or_update_secret(
        VAULT_PATH, secret=data, mount_point="secret"
    )
    client = boto3.client(
        "secretsmanager",
        endpoint_url=moto_env["AWS_ENDPOINT_URL_SECRETS_MANAGER"],
        region_name=moto_env["AWS_DEFAULT_REGION"],
        aws_access_key_id=moto_env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=moto_env["AWS_SECRET_ACCESS_KEY"],
    )
    client.create_secret(Name=AWS_NAME, SecretString=json.dumps(data))


def child_env(
    moto_env: dict[str, str], vault_addr: str, vault_token: str, home: Path
) -> dict[str, str]:
    env = {
        k: v
        for k, v in moto_env.items()
        if not k.startswith(("VAULT_", "BAO_")) and k not in ("DJANGO_SETTINGS_MODULE",)
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("DJANGO_SECRET_KEY_SOURCE", None)
    env.update({"VAULT_ADDR": vault_addr, "VAULT_TOKEN": vault_token, "HOME": str(home)})
    return env


@contextlib.contextmanager
def bench_servers(workdir: Path) -> Iterator[tuple[Any, Any, Path, dict[str, str]]]:
    """An OpenBao dev server (with a file audit device) and moto, both holding the benchmark's
    keyring: ``(bao, moto, audit log, environment for the child processes)``; stopped after."""
    from devservers.moto import MotoServer
    from devservers.openbao import BaoServer

    audit = workdir / "openbao-audit.log"
    bao = BaoServer(workdir / "openbao", audit_log=audit).start()
    moto = MotoServer(workdir / "moto-server.log")
    try:
        moto.start()
        moto_env = bench_aws.client_env(moto.endpoint_url, "tests.django.project.settings")
        home = workdir / "home"
        home.mkdir()
        write_secrets(bao, moto_env)
        yield bao, moto, audit, child_env(moto_env, bao.addr, bao.root_token, home)
    finally:
        moto.stop()
        bao.stop()
