"""A moto server for IAM enforcement tests, run as its own process by the ``moto_iam`` fixture.

Why a process of its own: moto keeps the IAM switch (``INITIAL_NO_AUTH_ACTION_COUNT``, read from
the environment when ``moto.settings`` is imported, and the request counter) in module globals.
In-process, turning enforcement on would also turn it on for every other moto user in the test
session.

Why a small addition: moto checks Secrets Manager calls against the resource ``"*"`` only, so a
statement scoped to a secret ARN, which is the whole point of a least-privilege policy, never
matches and every call is denied. AWS authorises these calls against the ARN of the secret named
by ``SecretId``; :func:`_secret_resource` gives moto that same ARN. Policy evaluation itself
(action and resource matching, conditions, explicit deny) stays moto's own.

Protocol: prints ``{"port": N}`` once listening on 127.0.0.1, serves until stdin closes.
"""

from __future__ import annotations

import json
import sys

from moto.secretsmanager.responses import SecretsManagerResponse
from moto.server import ThreadedMotoServer


def _secret_resource(self: SecretsManagerResponse) -> str:
    secret_id = self._get_param("SecretId")
    if not secret_id:
        return "*"  # account-level calls such as ListSecrets and CreateSecret
    secret = self.backend.secrets.get(secret_id)
    if secret is not None:
        return str(secret.arn)
    if secret_id.startswith("arn:"):
        return str(secret_id)
    return f"arn:aws:secretsmanager:{self.region}:{self.current_account}:secret:{secret_id}"


def main() -> int:
    SecretsManagerResponse._determine_resource = _secret_resource  # type: ignore[attr-defined]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    sys.stdout.write(json.dumps({"port": port}) + "\n")
    sys.stdout.flush()
    sys.stdin.read()
    server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
