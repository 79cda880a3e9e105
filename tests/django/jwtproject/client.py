"""One process of the API, driven by Django's test client: ``issue`` or ``call TOKEN``.

Each run is a new process, as after a deploy or a restart: ``issue`` creates the user and prints
a fresh access token, ``call`` presents a token and prints the response's status and body.
"""

from __future__ import annotations

import json
import sys

import django

django.setup()

from django.contrib.auth.models import User  # noqa: E402 - after setup
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402


def main(argv: list[str]) -> None:
    client = Client()
    if argv[0] == "issue":
        call_command("migrate", verbosity=0)
        User.objects.create_user("alice", password="wonderland-pass")
        response = client.post("/api/token/", {"username": "alice", "password": "wonderland-pass"})
        print(json.dumps({"status": response.status_code, "access": response.json()["access"]}))
    else:
        response = client.get("/api/whoami/", headers={"authorization": f"Bearer {argv[1]}"})
        print(json.dumps({"status": response.status_code, "body": response.json()}))


if __name__ == "__main__":
    main(sys.argv[1:])
