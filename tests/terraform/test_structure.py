"""Shape of the modules and examples, read with python-hcl2: files, versions, typed and described
variables, the create toggle, and every reference resolving inside its module (the part of
`terraform validate` that needs no provider schema)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.terraform import tfconfig
from tests.terraform.tfconfig import Config

MODULE_NAMES = sorted(tfconfig.MODULES)
ALL_NAMES = sorted({**tfconfig.MODULES, **tfconfig.EXAMPLES})
EXAMPLE_NAMES = sorted(tfconfig.EXAMPLES)
META_ARGUMENTS = {"source", "version", "providers", "count", "for_each", "depends_on"}


def _module_outputs(config: Config) -> dict[str, set[str]]:
    return {
        call: set(tfconfig.load(tfconfig.module_source_dir(config, call)).outputs)
        for call in config.modules
    }


def test_every_terraform_file_is_checked(configs: dict[str, Config]) -> None:
    """Each .tf file under terraform/ parses and belongs to a module or example the tests know,
    so a new directory cannot slip past the checks."""
    checked = {
        (config.path / name).resolve() for config in configs.values() for name in config.files
    }
    found = {path.resolve() for path in tfconfig.TERRAFORM.rglob("*.tf")}
    assert found == checked
    assert len(found) == 24


@pytest.mark.parametrize("name", MODULE_NAMES)
def test_module_files(name: str) -> None:
    files = {path.name for path in tfconfig.MODULES[name].iterdir()}
    assert {"main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"} <= files


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_example_files(name: str) -> None:
    files = {path.name for path in tfconfig.EXAMPLES[name].iterdir()}
    assert {"main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"} <= files


@pytest.mark.parametrize(
    ("name", "providers"),
    [
        ("aws-secret", {"aws": ">= 6.0", "random": ">= 3.7"}),
        ("vault-secret", {"vault": ">= 5.0", "random": ">= 3.7"}),
        ("aws-complete", {"aws": ">= 6.0", "random": ">= 3.7"}),
        ("vault-complete", {"vault": ">= 5.0", "random": ">= 3.7"}),
        ("vault-rotation-aws", {"aws": ">= 6.0", "vault": ">= 5.0"}),
        (
            "vault-rotation-aws-complete",
            {"aws": ">= 6.0", "vault": ">= 5.0", "random": ">= 3.7"},
        ),
    ],
)
def test_versions(configs: dict[str, Config], name: str, providers: dict[str, str]) -> None:
    (terraform,) = configs[name].terraform
    assert tfconfig.literal(terraform["required_version"]) == ">= 1.11"
    (required,) = terraform["required_providers"]
    declared = {key: value for key, value in required.items() if not key.startswith("__")}
    assert set(declared) == set(providers)
    for provider, constraint in providers.items():
        assert tfconfig.literal(declared[provider]["source"]) == f"hashicorp/{provider}"
        assert tfconfig.literal(declared[provider]["version"]) == constraint


@pytest.mark.parametrize("name", ALL_NAMES)
def test_variables_are_typed_and_described(configs: dict[str, Config], name: str) -> None:
    for variable, body in configs[name].variables.items():
        assert "type" in body, f"variable {variable} has no type"
        assert len(tfconfig.literal(body.get("description", '""'))) > 10, (
            f"variable {variable} has no description"
        )


@pytest.mark.parametrize("name", ALL_NAMES)
def test_outputs_are_described(configs: dict[str, Config], name: str) -> None:
    for output, body in configs[name].outputs.items():
        assert len(tfconfig.literal(body.get("description", '""'))) > 10, (
            f"output {output} has no description"
        )


@pytest.mark.parametrize("name", MODULE_NAMES)
def test_modules_validate_their_inputs(configs: dict[str, Config], name: str) -> None:
    """Names, key length, versions, intervals and credential lifetimes are checked at plan time,
    before any API call."""
    variables = configs[name].variables
    validated = {variable for variable, body in variables.items() if body.get("validation")}
    expected = {
        "aws-secret": {
            "name",
            "key_length",
            "secret_string_wo_version",
            "kms_key_arn",
            "lambda_zip_path",
        },
        "vault-secret": {
            "name",
            "key_length",
            "data_json_wo_version",
            "mount",
            "jwt_roles",
            "kubernetes_roles",
            "approle_roles",
        },
        "vault-rotation-aws": {
            "name",
            "mount",
            "rotator_policy_name",
            "max_fallbacks",
            "min_interval_seconds",
            "vault_address",
            "vault_token_ttl",
            "schedule_expression",
            "lambda_zip_path",
        },
    }[name]
    assert expected <= validated


@pytest.mark.parametrize("name", MODULE_NAMES)
def test_create_toggle(configs: dict[str, Config], name: str) -> None:
    """`create = false` creates nothing: every resource, ephemeral value and data source that
    needs an argument is counted by, or iterates over, something derived from var.create."""
    config = configs[name]
    create = config.variables["create"]
    assert create["type"] == "bool"
    assert create["default"] is True
    derived = _derived_from(config, "var.create")
    always_read = {("aws_caller_identity", "current"), ("aws_region", "current")}
    blocks = [
        *(("resource", key, body) for key, body in config.resources.items()),
        *(("ephemeral", key, body) for key, body in config.ephemerals.items()),
        *(("data", key, body) for key, body in config.data.items() if key not in always_read),
    ]
    for kind, key, body in blocks:
        meta = body.get("count", body.get("for_each"))
        assert meta is not None, f"{kind} {key} has neither count nor for_each"
        refs = {f"{ref.root}.{ref.parts[0]}" for ref in tfconfig.references_in(meta) if ref.parts}
        assert refs & derived, f"{kind} {key} is not governed by var.create ({meta})"


def _derived_from(config: Config, root: str) -> set[str]:
    """``root`` and every local that depends on it, transitively."""
    derived = {root}
    changed = True
    while changed:
        changed = False
        for name, expr in config.locals.items():
            address = f"local.{name}"
            if address in derived:
                continue
            if any(str(ref) in derived for ref in tfconfig.references_in(expr)):
                derived.add(address)
                changed = True
    return derived


@pytest.mark.parametrize("name", MODULE_NAMES)
def test_modules_configure_no_provider(configs: dict[str, Config], name: str) -> None:
    """Provider configuration belongs to the caller (and keeps the module usable with
    count/for_each and aliased providers)."""
    assert not configs[name].providers


@pytest.mark.parametrize("name", ALL_NAMES)
def test_every_reference_resolves(configs: dict[str, Config], name: str) -> None:
    config = configs[name]
    assert tfconfig.unresolved(config, _module_outputs(config)) == []


@pytest.mark.parametrize("name", ALL_NAMES)
def test_every_variable_and_local_is_used(configs: dict[str, Config], name: str) -> None:
    config = configs[name]
    used = {
        str(ref)
        for _, expr in config.expressions()
        for ref in tfconfig.scan_expression(expr).references
    }
    for body in config.variables.values():  # cross-variable validation counts as a use
        for _, expr in tfconfig.walk_values(body.get("validation", [])):
            used |= {str(ref) for ref in tfconfig.scan_expression(expr).references}
    unused_variables = {v for v in config.variables if not _used(f"var.{v}", used)}
    unused_locals = {v for v in config.locals if not _used(f"local.{v}", used)}
    assert not unused_variables, f"unused variables: {sorted(unused_variables)}"
    assert not unused_locals, f"unused locals: {sorted(unused_locals)}"


def _used(address: str, used: set[str]) -> bool:
    return any(ref == address or ref.startswith(address + ".") for ref in used)


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_examples_call_their_module_correctly(configs: dict[str, Config], name: str) -> None:
    config = configs[name]
    assert config.modules, "an example must use a module"
    for call, body in config.modules.items():
        module = tfconfig.load(tfconfig.module_source_dir(config, call))
        arguments = {key for key in body if not key.startswith("__")} - META_ARGUMENTS
        assert arguments <= set(module.variables), (
            f"{call}: unknown inputs {sorted(arguments - set(module.variables))}"
        )
        required = {v for v, b in module.variables.items() if "default" not in b}
        assert required <= arguments, f"{call}: missing inputs {sorted(required - arguments)}"
        assert tfconfig.literal(body["source"]).startswith("../../modules/")


@pytest.mark.parametrize("name", MODULE_NAMES)
def test_readme_lists_every_input_and_output(configs: dict[str, Config], name: str) -> None:
    readme = (tfconfig.MODULES[name] / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\|\s*`([a-z0-9_]+)`\s*\|", readme, flags=re.MULTILINE))
    config = configs[name]
    assert set(config.variables) <= listed, sorted(set(config.variables) - listed)
    assert set(config.outputs) <= listed, sorted(set(config.outputs) - listed)


def test_reference_check_catches_mistakes(tmp_path: Path) -> None:
    """Control: the resolver is not vacuous."""
    (tmp_path / "main.tf").write_text(
        """
variable "name" {
  type        = string
  description = "x"
}

locals {
  slug = replace(var.name, "/", "-")
}

resource "aws_iam_role" "this" {
  name = "${local.slgu}-${var.nmae}"
  tags = { for k, v in var.tags : k => v }
}

output "arn" {
  value = aws_iam_role.tihs.arn
}

output "policy" {
  value = data.aws_iam_policy_document.missing.json
}

output "ok" {
  value = jsonencode({ current = local.slug, name = aws_iam_role.this.name })
}
""",
        encoding="utf-8",
    )
    problems = tfconfig.unresolved(tfconfig.load(tmp_path))
    assert sorted(problem.split(": ")[1] for problem in problems) == [
        "aws_iam_role.tihs.arn",
        "data.aws_iam_policy_document.missing.json",
        "local.slgu",
        "var.nmae",
        "var.tags",
    ]
