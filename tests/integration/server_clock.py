"""Move a real server's clock as its client sees it: the ``Date`` header of every answer.

The rotation's interval guard takes "now" from the backend's ``Date`` header, so a test cannot
let time pass by moving the local clock: OpenBao and moto answer with the real time, and no
test sleeps. These helpers shift the header in the client, where a proxy rewriting it would;
they stand in for the backend's clock having moved on by ``offset`` seconds since the version
was written (``created_time`` and ``CreatedDate`` stay the server's own).
"""

from __future__ import annotations

import email.utils
from typing import Any

from secret_keyring.providers.aws import AwsSecretsManagerProvider
from secret_keyring.providers.vault import VaultProvider


class ServerClock:
    """How far ahead of the real server's clock its answers' ``Date`` header is made to read.

    Attributes:
        offset: seconds added to every ``Date`` from now on (change it at will).
    """

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset

    def shifted(self, date: str) -> str:
        stamp = email.utils.parsedate_to_datetime(date).timestamp()
        return email.utils.formatdate(stamp + self.offset, usegmt=True)

    def on_vault(self, provider: VaultProvider) -> ServerClock:
        """Shift the answers ``provider``'s session receives (ahead of the session's own hook,
        which then records the shifted header)."""

        def shift(response: Any, *args: Any, **kwargs: Any) -> None:
            if "Date" in response.headers:
                response.headers["Date"] = self.shifted(response.headers["Date"])

        provider.session.client().session.hooks["response"].insert(0, shift)
        return self

    def on_aws(self, provider: AwsSecretsManagerProvider) -> ServerClock:
        """Shift the ``date`` header botocore hands back with every parsed answer."""

        def shift(parsed: dict[str, Any], **kwargs: Any) -> None:
            headers = parsed.get("ResponseMetadata", {}).get("HTTPHeaders", {})
            if "date" in headers:
                headers["date"] = self.shifted(headers["date"])

        provider.client().meta.events.register("after-call.secrets-manager", shift)
        return self
