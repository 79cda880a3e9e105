"""The rules that keep the start-up path cheap, checked on every module that path loads.

Nobody lists those modules: a fresh interpreter does what a settings import does (``import
secret_keyring.django`` and every registered scheme's provider class, ``secret_keys()`` from the
local sources, and a first fetch from each network backend against a refused loopback port, so
that their sessions, clients and error mappers load too) and reports which ``secret_keyring``
modules it loaded. A module added anywhere on that path is checked without being registered here.

Why each rule exists, and what it saves (measured), is in docs/architecture.md, "The start-up
path".
"""

from __future__ import annotations

import ast
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from secret_keyring.urls import PROVIDERS, provider_class
from tests.plugins.leakguard import make_key

SDKS = ("boto3", "botocore", "hvac", "requests", "urllib3", "django")
RULES = "docs/architecture.md, section 'The start-up path'"

# Run by a fresh interpreter. argv: a refused loopback address, the environment variable that
# holds a key, "settings" or "import", then the SDKs to look for. It prints what it loaded, as
# JSON; nothing it prints is key material.
_START_UP = """
import json, sys

entry = sys.argv[3]
if entry == "import":
    # What importing the entry points costs: no source built, no key fetched.
    import secret_keyring, secret_keyring.providers, secret_keyring.django
    from secret_keyring.urls import PROVIDERS, provider_class
    for scheme in PROVIDERS:
        provider_class(scheme)
else:
    from secret_keyring.django import secret_keys
    from secret_keyring.errors import SourceError
    from secret_keyring.urls import PROVIDERS, provider_class, provider_from_url
    for scheme in PROVIDERS:
        provider_class(scheme)
    import os, pathlib
    pathlib.Path("key").write_text(os.environ[sys.argv[2]])
    for url in ("env://" + sys.argv[2], "file://" + os.path.abspath("key"), "dev://"):
        secret_keys(url)
    # A network backend's first fetch, in this thread: secret_keys() would retry the refused
    # connection until its startup_timeout, and a shorter timeout could give up before the
    # fetch's helper thread has loaded the client and the error mapper.
    refused = sys.argv[1]
    for url in (
        "vault://secret/app/django?addr=http://" + refused,
        "aws-secretsmanager://prod/app/django?region=eu-west-1&endpoint_url=http://" + refused,
    ):
        try:
            provider_from_url(url).fetch()
        except SourceError:  # refused: what matters is what the attempt loaded
            pass
print(json.dumps({
    "modules": {
        name: module.__file__
        for name, module in sorted(sys.modules.items())
        if name.split(".")[0] == "secret_keyring" and getattr(module, "__file__", None)
    },
    "sdks": sorted({name.split(".")[0] for name in sys.modules} & set(sys.argv[4:])),
}))
"""


def _start_up(tmp_path: Path, entry: str) -> dict[str, object]:
    """What a fresh interpreter loaded doing ``entry`` (``settings`` or ``import``)."""
    # Bound, never listening: a connection to it is refused at once.
    with socket.socket() as refused:
        refused.bind(("127.0.0.1", 0))
        address = "{}:{}".format(*refused.getsockname())
        env = {**os.environ, "STARTUP_RULES_KEY": make_key()}
        for name in [n for n in env if n.startswith(("VAULT_", "BAO_", "AWS_", "DJANGO_"))]:
            del env[name]
        # Credentials that get each request as far as the refused connection.
        env.update(VAULT_TOKEN="test", AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test")
        done = subprocess.run(
            [sys.executable, "-c", _START_UP, address, "STARTUP_RULES_KEY", entry, *SDKS],
            capture_output=True,
            text=True,
            check=False,
            cwd=tmp_path,  # dev:// writes its keyring file here
            env=env,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr[-3000:]
    loaded: dict[str, object] = json.loads(done.stdout)
    return loaded


@pytest.fixture(scope="module")
def start_up_modules(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every ``secret_keyring`` module a settings import loads, found by doing one."""
    loaded = _start_up(tmp_path_factory.mktemp("start-up"), "settings")
    modules = loaded["modules"]
    assert isinstance(modules, dict)
    return {name: Path(path) for name, path in modules.items()}


def test_the_start_up_path_is_found_not_listed(start_up_modules: dict[str, Path]) -> None:
    """The discovery reaches every registered backend's provider and what a fetch loads
    lazily (a payload parser, a client, an error mapper), not only what importing loads."""
    expected = {provider_class(scheme).__module__ for scheme in PROVIDERS}
    expected |= {
        "secret_keyring.django",
        "secret_keyring.payload",
        "secret_keyring.providers.vault.session",
        "secret_keyring.providers.aws.client",
        "secret_keyring.providers.aws.errors",
    }
    assert expected <= set(start_up_modules)


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _runtime_nodes(tree: ast.Module) -> Iterator[ast.AST]:
    """Every node that runs, skipping ``if TYPE_CHECKING:`` blocks."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(c for c in ast.iter_child_nodes(node) if not _type_checking_only(c))


def _dataclass_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text("utf-8"))
    found = []
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import) and any(a.name == "dataclasses" for a in node.names):
            found.append(f"line {node.lineno}: import dataclasses")
        elif isinstance(node, ast.ImportFrom) and node.module == "dataclasses":
            found.append(f"line {node.lineno}: from dataclasses import ...")
        elif isinstance(node, ast.ClassDef) and any(
            ast.unparse(base).rpartition(".")[2] == "NamedTuple" for base in node.bases
        ):
            found.append(f"line {node.lineno}: class {node.name}(NamedTuple)")
    return found


def test_no_start_up_module_generates_a_dataclass(start_up_modules: dict[str, Path]) -> None:
    """A frozen dataclass's methods are generated when its class is created, at import: ~4.1M
    instructions a class, against ~0.28M for a ``secret_keyring._record.Record`` subclass
    (~1.7M for a ``typing.NamedTuple``), and importing ``dataclasses`` costs ~34M more."""
    found = [
        f"{name} ({path.name}) {use}"
        for name, path in start_up_modules.items()
        for use in _dataclass_uses(path)
    ]
    assert not found, (
        f"start-up modules must subclass secret_keyring._record.Record for value objects"
        f" ({RULES}): {found}"
    )


def test_importing_the_entry_points_loads_no_sdk(tmp_path: Path) -> None:
    """Importing the package, its Django module and every registered provider class loads
    no SDK (boto3 alone is ~580M instructions, hvac with requests ~420M, which a site on
    another backend would pay): a provider imports its SDK when it is built. Django is there
    because ``secret_keyring.django`` needs it."""
    loaded = _start_up(tmp_path, "import")
    assert loaded["sdks"] == ["django"], f"imported at import time ({RULES}): {loaded['sdks']}"


def test_the_dataclass_check_sees_what_it_must(tmp_path: Path) -> None:
    """The AST check itself: a dataclass or NamedTuple at run time is found, one imported for
    type checkers only is not."""
    module = tmp_path / "module.py"
    module.write_text(
        "from typing import TYPE_CHECKING, NamedTuple\n"
        "if TYPE_CHECKING:\n"
        "    from dataclasses import Field\n"
        "def later():\n"
        "    import dataclasses\n"
        "class Pair(NamedTuple):\n"
        "    a: int\n",
        "utf-8",
    )
    assert sorted(_dataclass_uses(module)) == [
        "line 5: import dataclasses",
        "line 6: class Pair(NamedTuple)",
    ]
