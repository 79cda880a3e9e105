"""docs/terraform.md shows both complete examples exactly as they are in terraform/examples."""

from __future__ import annotations

import re

import pytest

from tests.terraform import tfconfig

DOC = tfconfig.REPO / "docs" / "terraform.md"


@pytest.mark.parametrize("name", sorted(tfconfig.EXAMPLES))
def test_docs_page_shows_the_example_verbatim(name: str) -> None:
    blocks = re.findall(r"^```hcl\n(.*?)^```$", DOC.read_text(encoding="utf-8"), re.S | re.M)
    example = (tfconfig.EXAMPLES[name] / "main.tf").read_text(encoding="utf-8")
    assert example in blocks, f"docs/terraform.md does not show {name}/main.tf as it is"


def test_module_readmes_show_the_handler_and_write_only_arguments() -> None:
    aws = (tfconfig.MODULES["aws-secret"] / "README.md").read_text(encoding="utf-8")
    vault = (tfconfig.MODULES["vault-secret"] / "README.md").read_text(encoding="utf-8")
    assert "secret_keyring.rotation.aws.lambda_handler" in aws
    assert "secret_string_wo" in aws
    assert "data_json_wo" in vault
    assert 'options = { cas = "0" }' in vault
    rotation = (tfconfig.MODULES["vault-rotation-aws"] / "README.md").read_text(encoding="utf-8")
    assert "secret_keyring.rotation.vault.lambda_handler" in rotation
    assert "secret-keyring lambda-zip vault-rotation.zip --backend vault" in rotation
