"""Suite-wide fixtures. Server fixtures live in tests/plugins/ so every test folder shares them."""

pytest_plugins = [
    "tests.plugins.leakguard",
    "tests.plugins.openbao",
    "tests.plugins.moto_server",
]
