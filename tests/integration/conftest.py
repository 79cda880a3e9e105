"""Fixtures shared by the integration tests (servers come from tests/plugins/)."""

from __future__ import annotations

import pytest

from devservers.moto import REGION, MotoServer
from secret_keyring.rotation import aws as rotation_aws


@pytest.fixture
def lambda_env(aws_env: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    """The rotation Lambda's environment: endpoint and region from the environment, no options
    set, and no client cached from another test (the handler keeps one per warm container)."""
    monkeypatch.setattr(rotation_aws, "_client", None)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", aws_env.endpoint_url)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.delenv("SECRET_KEYRING_MAX_FALLBACKS", raising=False)
    monkeypatch.delenv("SECRET_KEYRING_FIELD", raising=False)
    return aws_env
