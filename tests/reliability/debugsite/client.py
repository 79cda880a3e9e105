"""Run in a subprocess: request paths with Django's test client and print the pages.

Arguments are paths to GET, or ``write:SRC:DST`` to copy a file in between (the test's way of
rotating in a bad payload after start-up). ``--no-clearing`` turns the library's clearing of
traceback locals off (the negative control).
"""

from __future__ import annotations

import shutil
import sys

import django

if "--no-clearing" in sys.argv:
    from secret_keyring import cache, errors

    def _keep(exc: BaseException) -> None:
        del exc

    errors.clear_locals = _keep
    cache.clear_locals = _keep  # type: ignore[attr-defined]

django.setup()

from django.test import Client  # noqa: E402 - after django.setup()

client = Client(raise_request_exception=False)
for argument in sys.argv[1:]:
    if argument == "--no-clearing":
        continue
    if argument.startswith("write:"):
        _, source, target = argument.split(":", 2)
        shutil.copyfile(source, target)
        continue
    response = client.get(argument, HTTP_ACCEPT="text/html")
    sys.stdout.write(f"\n=== {argument} {response.status_code}\n")
    sys.stdout.write(response.content.decode("utf-8", "replace"))
