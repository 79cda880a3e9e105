"""``manage.py ensure_users '{"alice": "password"}'``: create the demo users if missing."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Create users from a JSON object of username -> password (existing ones are kept)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("users", help='JSON, e.g. {"alice": "pw"}')

    def handle(self, *args: Any, **options: Any) -> None:
        users: dict[str, str] = json.loads(options["users"])
        created = 0
        for name, password in users.items():
            if not User.objects.filter(username=name).exists():
                User.objects.create_user(name, password=password)
                created += 1
        self.stdout.write(f"{created} users created, {len(users) - created} existed")
