"""OpenBao has no built-in ``aws`` auth method, and docs/terraform.md says so.

vault-rotation-aws logs its Lambda in with the ``aws`` auth method. Vault ships it; OpenBao has
it only as the external plugin ``openbao-plugin-auth-aws``. The request below is what the Vault
provider's ``vault_auth_backend`` sends to enable a method (``POST sys/auth/PATH`` with its
``type``), as the vault-rotation-aws example does, and it stands in for that apply against an
OpenBao without the plugin: OpenBao's own answer is what the docs must quote.
"""

from __future__ import annotations

import re

import pytest

from tests.terraform import tfconfig
from tests.terraform.conftest import PolicyBao

pytestmark = pytest.mark.vault

DOC = tfconfig.REPO / "docs" / "terraform.md"


def _section(title: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", text, re.S | re.M)
    assert match, f"docs/terraform.md has no section {title!r}"
    return match.group(1)


def test_openbao_refuses_the_aws_auth_method_until_the_plugin_is_registered(
    policy_bao: PolicyBao,
) -> None:
    status, answer = policy_bao.request("POST", "sys/auth/aws", body={"type": "aws"})

    assert status == 400, answer
    (error,) = answer["errors"]
    section = _section("OpenBao and the `aws` auth method")
    assert f"`{error}`" in section, (error, section)


def test_the_docs_say_how_to_register_the_plugin() -> None:
    section = _section("OpenBao and the `aws` auth method")
    assert "openbao-plugin-auth-aws" in section
    # `bao plugin register [flags] TYPE NAME`: an auth plugin registered under the name the
    # example's vault_auth_backend asks for.
    joined = re.sub(r"\\\n\s*", "", section)  # shell line continuations
    assert re.search(r"bao plugin register .*-command=openbao-plugin-auth-aws auth aws\n", joined)
    table = DOC.read_text(encoding="utf-8").split("\n## ", 1)[0]
    (row,) = [line for line in table.splitlines() if "modules/vault-rotation-aws" in line]
    assert "OpenBao with the `aws` auth plugin registered" in row
