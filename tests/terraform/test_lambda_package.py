"""The packages the modules deploy: `secret-keyring lambda-zip PATH` must produce a zip in which
the aws-secret module's handler string resolves to a callable, and `--backend vault` one from
which vault-rotation-aws's handler, with nothing but the standard library, rotates a keyring in
OpenBao."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from devservers.openbao import BaoServer
from secret_keyring.keygen import new_keyring
from secret_keyring.payload import keyring_to_json, parse_mapping
from secret_keyring.rotation.lambda_zip import HANDLERS
from tests.plugins.leakguard import assert_no_key_material
from tests.terraform import tfconfig

ROTATION_MODULE = "secret_keyring.rotation.aws"
_PROBE = """
import importlib, sys
sys.path.insert(0, sys.argv[1])
module = importlib.import_module(sys.argv[2])
assert callable(getattr(module, sys.argv[3]))
print(module.__file__)
"""


def _handler() -> str:
    function = tfconfig.load(tfconfig.MODULES["aws-secret"]).resources[
        ("aws_lambda_function", "rotation")
    ]
    return tfconfig.literal(function["handler"])


def test_lambda_zip_contains_the_handler(tmp_path: Path) -> None:
    rotation = pytest.importorskip(
        ROTATION_MODULE,
        reason=f"{ROTATION_MODULE} (the rotation Lambda, built with the rotation issue) does not "
        "exist yet, so there is no `secret-keyring lambda-zip` package to check",
    )
    handler = _handler()
    module_name, function_name = handler.rsplit(".", 1)
    assert module_name == ROTATION_MODULE
    assert callable(getattr(rotation, function_name))

    package = tmp_path / "build" / "rotation.zip"
    built = subprocess.run(
        [sys.executable, "-m", "secret_keyring", "lambda-zip", str(package)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    with zipfile.ZipFile(package) as archive:
        names = set(archive.namelist())
        assert archive.testzip() is None
    assert f"{module_name.replace('.', '/')}.py" in names
    assert not any("/django/" in name for name in names), "the Lambda ships without Django"

    # Import the handler from the zip the way the Lambda runtime does (zip root on sys.path),
    # in a fresh interpreter where the zip comes first.
    probe = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            _PROBE,
            str(package),
            module_name,
            function_name,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip().startswith(str(package)), probe.stdout


# -- the Vault rotation Lambda (terraform/modules/vault-rotation-aws) ---------------------------

_VAULT_RUN = """
import json, sys
zip_path = sys.argv[1]
# Started with -I -S: no site-packages at all. The runtime's botocore is not needed for token
# auth; everything else (this package, hvac, requests...) must come from the zip.
sys.path.insert(0, zip_path)
module_name, function_name = sys.argv[2].rsplit(".", 1)
module = __import__(module_name, fromlist=[function_name])
result = getattr(module, function_name)({"source": "aws.scheduler"}, None)
outside = sorted(
    name for name, mod in sys.modules.items()
    if name.split(".")[0] in {"secret_keyring", "hvac", "requests", "urllib3", "certifi", "idna",
                              "charset_normalizer"}
    and not str(getattr(mod, "__file__", None) or zip_path).startswith(zip_path)
)
print(json.dumps({"result": result, "outside": outside,
                  "django": "django" in sys.modules, "boto3": "boto3" in sys.modules}))
"""


def _vault_handler() -> str:
    function = tfconfig.load(tfconfig.MODULES["vault-rotation-aws"]).resources[
        ("aws_lambda_function", "this")
    ]
    return tfconfig.literal(function["handler"])


@pytest.mark.vault
def test_vault_zip_alone_rotates_a_keyring_in_openbao(tmp_path: Path, openbao: BaoServer) -> None:
    """What the Lambda runtime does with the module's package: only the standard library and
    the zip on the path, the handler string from the module, the environment the module sets
    (token auth here: OpenBao has no AWS auth method to log in with)."""
    handler = _vault_handler()
    assert handler == HANDLERS["vault"]
    package = tmp_path / "vault-rotation.zip"
    built = subprocess.run(
        [sys.executable, "-m", "secret_keyring", "lambda-zip", str(package), "--backend", "vault"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    old = new_keyring()
    path = openbao.new_path("zip")
    openbao.write(path, json.loads(keyring_to_json(old)))
    env = {
        "HOME": str(tmp_path),
        "VAULT_ADDR": openbao.addr,
        "VAULT_TOKEN": openbao.root_token,
        "SECRET_KEYRING_SOURCE": f"vault://secret/{path}",
        "SECRET_KEYRING_MIN_INTERVAL": "0",  # the keyring was written a moment ago
    }

    run = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _VAULT_RUN, str(package), handler],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )

    assert run.returncode == 0, run.stderr
    assert_no_key_material(run.stdout + run.stderr, "the Lambda's output")
    seen = json.loads(run.stdout)
    assert seen["outside"] == [], "imported from outside the zip"
    assert not seen["django"]
    assert not seen["boto3"]
    assert (seen["result"]["rotated"], seen["result"]["version"]) == (True, "2")
    data = openbao.client().secrets.kv.v2.read_secret_version(path, raise_on_deleted_version=True)
    new = parse_mapping(data["data"]["data"]).to_keyring()
    assert new.current == old.next
    assert new.previous == (old.current,)
