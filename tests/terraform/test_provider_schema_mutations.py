"""The schema check is not vacuous: run over a copy of terraform/ with injected faults, it reports
each fault, where it is, and nothing else.

The faults are added as new files (a faults.tf in a copy of the aws-secret module, a small
caller and callee module beside it) rather than edits of existing lines, so they stay valid
whatever the modules themselves become.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.terraform import schema_check, tfconfig

MODULE_FAULTS = """
resource "aws_secretsmanager_secret" "unknown_argument" {
  name          = "fault"
  recovery_days = 7
}

resource "aws_iam_role_policy" "missing_required" {
  name   = "fault"
  policy = "{}"
}

resource "aws_kms_aliass" "unknown_type" {
  name = "alias/fault"
}

resource "aws_secretsmanager_secret_rotation" "duplicated_block" {
  secret_id           = "fault"
  rotation_lambda_arn = "arn:aws:lambda:eu-west-1:123456789012:function:fault"

  rotation_rules {
    automatically_after_days = 1
  }

  rotation_rules {
    automatically_after_days = 2
  }
}

resource "aws_secretsmanager_secret_rotation" "no_rules" {
  secret_id = "fault"
}

ephemeral "random_password" "fault" {
  length = 50
}

resource "aws_secretsmanager_secret_version" "ephemeral_in_normal_argument" {
  secret_id     = "fault"
  secret_string = jsonencode({ current = ephemeral.random_password.fault.result })
}

resource "aws_lambda_function" "unresolvable_dynamic" {
  function_name = "fault"
  role          = "arn:aws:iam::123456789012:role/fault"

  dynamic "vpc_config" {
    for_each = toset(["a", "b"])

    content {
      subnet_ids         = [vpc_config.value]
      security_group_ids = []
    }
  }
}

data "aws_iam_policy_document" "nested_faults" {
  statement {
    sidd = "Fault"

    principal {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_secretsmanager_secret_version" "bad_ignore_changes" {
  secret_id     = "fault"
  secret_string = "fault"

  lifecycle {
    ignore_changes = [version_stage]
  }
}

output "unknown_attribute" {
  value = aws_secretsmanager_secret.unknown_argument.arnn
}

output "undeclared_block" {
  value = aws_secretsmanager_secret.nope.arn
}
"""

CALLEE = """
variable "name" {
  type = string
}

variable "needed" {
  type = string
}

output "source_url" {
  value = var.name
}
"""

CALLER = """
provider "random" {
  regoin = "eu-west-1"
}

ephemeral "random_password" "fault" {
  length = 50
}

module "secret" {
  source = "../../modules/fault-callee"

  name          = ephemeral.random_password.fault.result
  unknown_input = 1
}

output "bad_module_output" {
  value = module.secret.sourceurl
}
"""

FAULTS = "terraform/modules/aws-secret/faults.tf"
CALLER_FILE = "terraform/examples/fault-caller/main.tf"

# (file, address, fragment of the message) of every fault, as the newest extract reports them.
EXPECTED = [
    (FAULTS, "aws_secretsmanager_secret.unknown_argument", "unknown argument 'recovery_days'"),
    (FAULTS, "aws_iam_role_policy.missing_required", "missing required argument 'role'"),
    (FAULTS, "aws_kms_aliass.unknown_type", "regenerate the schema extract"),
    (
        FAULTS,
        "aws_secretsmanager_secret_rotation.duplicated_block",
        "block 'rotation_rules' is allowed once, found 2 times",
    ),
    (
        FAULTS,
        "aws_secretsmanager_secret_version.ephemeral_in_normal_argument",
        "reaches 'secret_string', which is not a write-only argument",
    ),
    (FAULTS, "aws_lambda_function.unresolvable_dynamic", "'vpc_config' is allowed once; unresol"),
    (FAULTS, "data.aws_iam_policy_document.nested_faults.statement", "unknown argument 'sidd'"),
    (
        FAULTS,
        "data.aws_iam_policy_document.nested_faults.statement",
        "unknown block 'principal' (did you mean 'principals'?)",
    ),
    (
        FAULTS,
        "aws_secretsmanager_secret_version.bad_ignore_changes",
        "ignore_changes names 'version_stage'",
    ),
    (FAULTS, "output.unknown_attribute.value", "has no attribute 'arnn'"),
    (FAULTS, "output.undeclared_block.value", "no resource block aws_secretsmanager_secret.nope"),
    (CALLER_FILE, "provider.random", "unknown argument 'regoin'"),
    (CALLER_FILE, "module.secret", "unknown input 'unknown_input'"),
    (CALLER_FILE, "module.secret", "missing input 'needed'"),
    (CALLER_FILE, "module.secret", "passed to input 'name', which is not declared `ephemeral"),
    (
        CALLER_FILE,
        "output.bad_module_output.value",
        "module 'secret' has no output 'sourceurl' (did you mean 'source_url'?)",
    ),
]

# The minimum versions: rotation_rules was required before aws 6.x made it optional, and the
# HashiCorp packages carry no write-only flags, so the ephemeral fault goes unseen there (the
# newest extract catches it).
EXPECTED_MINIMUM = [
    *(fault for fault in EXPECTED if "ephemeral_in_normal_argument" not in fault[1]),
    (
        FAULTS,
        "aws_secretsmanager_secret_rotation.no_rules",
        "missing required block 'rotation_rules'",
    ),
]


@pytest.fixture(scope="module")
def faulty_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of terraform/modules (the examples only call them) plus the faults."""
    tree = tmp_path_factory.mktemp("faults") / "terraform"
    shutil.copytree(
        tfconfig.TERRAFORM / "modules",
        tree / "modules",
        ignore=shutil.ignore_patterns(".terraform*"),
    )
    (tree / "modules/aws-secret/faults.tf").write_text(MODULE_FAULTS, encoding="utf-8")
    (tree / "modules/fault-callee").mkdir()
    (tree / "modules/fault-callee/main.tf").write_text(CALLEE, encoding="utf-8")
    (tree / "examples/fault-caller").mkdir(parents=True)
    (tree / "examples/fault-caller/main.tf").write_text(CALLER, encoding="utf-8")
    return tree


@pytest.fixture(scope="module")
def parsed() -> dict[Path, tfconfig.Config]:
    """The faulty tree is parsed once for both extracts."""
    return {}


def _relative(problem: schema_check.Problem, tree: Path) -> str:
    return "terraform/" + str(Path(problem.file).relative_to(tree))


@pytest.mark.parametrize(
    ("extract", "expected"), [("newest", EXPECTED), ("minimum", EXPECTED_MINIMUM)]
)
def test_every_injected_fault_is_reported(
    faulty_tree: Path,
    parsed: dict[Path, tfconfig.Config],
    extract: str,
    expected: list[tuple[str, str, str]],
) -> None:
    problems = schema_check.check_tree(schema_check.Extract.load(extract), faulty_tree, parsed)
    unmatched = list(problems)
    missed = []
    for file, address, fragment in expected:
        hit = next(
            (
                p
                for p in unmatched
                if _relative(p, faulty_tree) == file
                and p.address == address
                and fragment in p.message
            ),
            None,
        )
        if hit is None:
            missed.append(f"{file}: {address}: ...{fragment}...")
        else:
            unmatched.remove(hit)
    report = "\n".join(str(p) for p in problems)
    assert not missed, "faults not reported:\n" + "\n".join(missed) + "\n\nreported:\n" + report
    assert not unmatched, "unexpected problems:\n" + "\n".join(map(str, unmatched))
