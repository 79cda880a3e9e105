"""Live refresh in the running test project when the backend is OpenBao or Secrets Manager."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from devservers.moto import REGION, MotoServer
from devservers.openbao import BaoServer
from secret_keyring import CachedKeyring, Provider
from secret_keyring.django import live
from secret_keyring.providers.aws import AwsSecretsManagerProvider
from secret_keyring.providers.vault import VaultProvider
from secret_keyring.testing import FakeClock
from tests.plugins.leakguard import make_key

Install = Callable[[Provider, float], tuple[CachedKeyring, FakeClock]]


def _login(client: Client) -> None:
    response = client.post("/login/", {"username": "alice", "password": "wonderland-pass"})
    assert response.status_code == 200


@pytest.mark.vault
def test_vault_new_version_is_applied_on_the_first_request_past_the_ttl(
    openbao: BaoServer, kv_path: str, live_site: Install, user: User
) -> None:
    first = {"current": make_key(), "next": make_key(), "previous": []}
    openbao.write(kv_path, first)
    provider = VaultProvider("secret", kv_path, environ=openbao.environ(openbao.root_token))
    cache, clock = live_site(provider, 30.0)
    assert settings.SECRET_KEY == first["current"]
    client = Client()
    _login(client)
    client.get("/signed/set/", {"value": "kept"})

    second = {"current": first["next"], "next": make_key(), "previous": [first["current"]]}
    version = openbao.write(kv_path, second)
    clock.advance(29)
    assert client.get("/whoami/").content == b"alice"
    assert settings.SECRET_KEY == first["current"]  # within the TTL: not re-read
    clock.advance(1.001)
    assert client.get("/whoami/").content == b"alice"  # this request applies version 2
    assert settings.SECRET_KEY == second["current"]
    clock.advance(live._SETTLE_SECONDS)
    client.get("/whoami/")  # the bridge fallbacks settle at a later request
    assert settings.SECRET_KEY_FALLBACKS == [second["next"], first["current"]]
    assert cache.status()["version"] == str(version)
    assert client.get("/signed/get/").content == b"kept"


@pytest.mark.vault
def test_vault_plain_field_keeps_earlier_versions_as_fallbacks(
    openbao: BaoServer, kv_path: str, live_site: Install, user: User
) -> None:
    old, new = make_key(), make_key()
    openbao.write(kv_path, {"secret_key": old})
    provider = VaultProvider("secret", kv_path, environ=openbao.environ(openbao.root_token))
    _, clock = live_site(provider, 10.0)
    client = Client()
    _login(client)
    openbao.write(kv_path, {"secret_key": new})
    clock.advance(10.001)
    assert client.get("/whoami/").content == b"alice"
    assert settings.SECRET_KEY == new
    clock.advance(live._SETTLE_SECONDS)
    client.get("/whoami/")
    assert settings.SECRET_KEY_FALLBACKS == [old]


@pytest.mark.aws
def test_aws_awscurrent_move_is_applied_on_the_first_request_past_the_ttl(
    secretsmanager: Any, aws_env: MotoServer, live_site: Install, user: User
) -> None:
    first = {"current": make_key(), "next": make_key(), "previous": []}
    arn = secretsmanager.create_secret(Name="prod/site", SecretString=json.dumps(first))["ARN"]
    provider = AwsSecretsManagerProvider(arn, region=REGION, endpoint_url=aws_env.endpoint_url)
    cache, clock = live_site(provider, 60.0)
    client = Client()
    _login(client)
    token = client.get("/signed/set/", {"value": "kept"})
    assert token.status_code == 200

    second = {"current": first["next"], "next": make_key(), "previous": [first["current"]]}
    new_version = secretsmanager.put_secret_value(SecretId=arn, SecretString=json.dumps(second))[
        "VersionId"
    ]  # moves AWSCURRENT; the old version becomes AWSPREVIOUS
    clock.advance(60.001)
    assert client.get("/whoami/").content == b"alice"
    assert settings.SECRET_KEY == second["current"]
    assert cache.status()["version"] == new_version
    assert client.get("/signed/get/").content == b"kept"
    aws_env.reset_counts()
    clock.advance(60.001)
    client.get("/whoami/")  # nothing changed: one DescribeSecret, no GetSecretValue
    assert aws_env.counts() == {"secretsmanager:DescribeSecret": 1}
