"""Suite-wide fixtures. Server fixtures live in tests/plugins/ so every test folder shares them."""

import sys
from collections.abc import Iterator

import pytest

pytest_plugins = [
    "tests.plugins.leakguard",
    "tests.plugins.openbao",
    "tests.plugins.moto_server",
    "tests.plugins.summary",
]


@pytest.fixture(autouse=True)
def _forget_failed_startups() -> Iterator[None]:
    """``secret_keys()`` remembers a start-up that ran out of time, for the life of the process;
    the test process is many processes' worth of start-ups."""
    yield
    helper = sys.modules.get("secret_keyring.django")
    if helper is not None:
        helper._failed_startups.clear()
