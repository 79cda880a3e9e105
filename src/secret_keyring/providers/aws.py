"""AWS Secrets Manager provider (needs the ``aws`` extra: boto3)."""

from __future__ import annotations

from typing import Any

from secret_keyring.keyring import Keyring
from secret_keyring.providers.base import BaseProvider, require_extra

__all__ = ["AwsSecretsManagerProvider"]


class AwsSecretsManagerProvider(BaseProvider):
    """Reads a keyring from a Secrets Manager secret, by name or ARN."""

    def __init__(
        self,
        secret_id: str,
        *,
        field: str | None = None,
        region: str | None = None,
        profile: str | None = None,
        role_arn: str | None = None,
        endpoint_url: str | None = None,
        max_fallbacks: int = 3,
        client: Any = None,
        session: Any = None,
    ) -> None:
        require_extra("boto3", "aws")
        super().__init__(
            f"aws-secretsmanager://{secret_id}" + (f"#{field}" if field else "")
        )
        self.secret_id = secret_id
        self.field = field
        self.region = region
        self.profile = profile
        self.role_arn = role_arn
        self.endpoint_url = endpoint_url
        self.max_fallbacks = max_fallbacks
        self._client = client
        self._session = session

    def fetch(self) -> Keyring:
        raise NotImplementedError("AwsSecretsManagerProvider.fetch lands with the AWS issue")
