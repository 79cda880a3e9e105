"""The extract generator on a small assembly shaped like the binding packages' (the real wheels
are tens of megabytes and only downloaded when the extracts are regenerated): a wheel holding
``_jsii/*.jsii.tgz`` whose ``package/.jsii`` redirects to a gzip-compressed ``.jsii.gz``."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.terraform import schema_check, tfconfig
from tests.terraform.schema import regenerate

REGISTRY = "https://registry.terraform.io/providers/hashicorp/demo/1.2.3/docs"
P = "@acme/provider-demo"


def _prop(name: str, anchor: str | None, type_: dict[str, Any], **extra: Any) -> dict[str, Any]:
    docs = {"summary": f"Docs at Terraform Registry: {{@link {REGISTRY}#{anchor} X#{anchor}}}."}
    return {"name": name, "docs": docs if anchor else {}, "type": type_, **extra}


def _class(fqn: str, path: str, name: str, config: str, getters: list[dict[str, Any]]) -> Any:
    return {
        "kind": "class",
        "fqn": fqn,
        "docs": {"summary": f"Represents a {{@link {REGISTRY}{path} {name}}}."},
        "initializer": {
            "parameters": [{"name": "scope"}, {"name": "config", "type": {"fqn": config}}]
        },
        "properties": [{"name": "tfResourceType", "static": True}, *getters],
    }


STRING = {"primitive": "string"}
WRITE_ONLY = {"deprecated": "Write-only: the provider never returns this value; reading it ..."}

ASSEMBLY = {
    "schema": "jsii/0.10.0",
    "name": P,
    "version": "9.9.9",
    "types": {
        f"{P}.thing.Thing": _class(
            f"{P}.thing.Thing",
            "/resources/thing",
            "demo_thing",
            f"{P}.thing.ThingConfig",
            [
                {"name": "arn", "type": STRING},
                {"name": "selfAttribute", "type": STRING},
                {"name": "nameInput", "type": STRING},
                {"name": "name", "type": STRING},
                {"name": "valueWo", "type": STRING, "docs": WRITE_ONLY},
                {"name": "hasValueWo", "type": {"primitive": "boolean"}},
            ],
        ),
        f"{P}.thing.ThingConfig": {
            "kind": "interface",
            "datatype": True,
            "properties": [
                _prop("name", "name", STRING),
                _prop("valueWo", "value_wo", STRING, optional=True),
                _prop("rules", "rules", {"fqn": f"{P}.thing.ThingRules"}),
                _prop(
                    "tag",
                    "tag",
                    {
                        "union": {
                            "types": [
                                {"fqn": "cdktn.IResolvable"},
                                {
                                    "collection": {
                                        "kind": "array",
                                        "elementtype": {"fqn": f"{P}.thing.ThingTag"},
                                    }
                                },
                            ]
                        }
                    },
                    optional=True,
                ),
                _prop("labels", "labels", {"collection": {"kind": "map", "elementtype": STRING}}),
            ],
        },
        f"{P}.thing.ThingRules": {
            "kind": "interface",
            "datatype": True,
            "properties": [_prop("days", "days", {"primitive": "number"}, optional=True)],
        },
        f"{P}.thing.ThingTag": {
            "kind": "interface",
            "datatype": True,
            "properties": [_prop("key", "key", STRING), _prop("ipv6Cidr", None, STRING)],
        },
        f"{P}.provider.DemoProvider": _class(
            f"{P}.provider.DemoProvider", "", "demo", f"{P}.provider.DemoProviderConfig", []
        ),
        f"{P}.provider.DemoProviderConfig": {
            "kind": "interface",
            "datatype": True,
            "properties": [_prop("region", "region", STRING, optional=True)],
        },
        f"{P}.dataDemoThing.DataDemoThing": _class(
            f"{P}.dataDemoThing.DataDemoThing",
            "/data-sources/thing",
            "demo_thing",
            f"{P}.dataDemoThing.DataDemoThingConfig",
            [{"name": "createdAt", "type": STRING}],
        ),
        f"{P}.dataDemoThing.DataDemoThingConfig": {
            "kind": "interface",
            "datatype": True,
            "properties": [_prop("name", "name", STRING)],
        },
    },
}


def _wheel(directory: Path, package: str, version: str, assembly: dict[str, Any]) -> Path:
    """A wheel laid out like the binding packages, the assembly behind a gzip redirect."""
    tarball = io.BytesIO()
    with tarfile.open(fileobj=tarball, mode="w:gz") as tar:
        redirect = {"schema": "jsii/file-redirect", "compression": "gzip", "filename": ".jsii.gz"}
        for name, data in (
            (".jsii", json.dumps(redirect).encode()),
            (".jsii.gz", gzip.compress(json.dumps(assembly).encode())),
        ):
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    module = package.replace("-", "_")
    wheel = directory / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(f"{module}/_jsii/provider-demo@{version}.jsii.tgz", tarball.getvalue())
    return wheel


@pytest.fixture
def extract_data(tmp_path: Path) -> dict[str, Any]:
    _wheel(tmp_path, "acme-provider-demo", "9.9.9", ASSEMBLY)
    wanted = {
        ("resource", "demo_thing"),
        ("data", "demo_thing"),
        ("resource", "demo_missing"),
        ("ephemeral", "demo_secret"),
        ("provider", "demo"),
    }
    pins = {"demo": regenerate.Pin("acme-provider-demo", "9.9.9")}
    return regenerate.extract("newest", pins, wanted, tmp_path, "a test set")


def test_provenance_and_types(extract_data: dict[str, Any]) -> None:
    assert extract_data["generator"] == regenerate.GENERATOR
    assert extract_data["providers"]["demo"] == {
        "source": "hashicorp/demo",
        "version": "1.2.3",
        "package": "acme-provider-demo",
        "package_version": "9.9.9",
        "write_only_flags": True,
        "ephemeral_resources": False,
        "configuration": {"arguments": {"region": {}}, "blocks": {}, "attributes": []},
    }
    assert extract_data["absent"] == ["resource demo_missing"]
    # This package generates no ephemeral resources at all: unknown, not absent.
    assert extract_data["not_covered"] == ["ephemeral demo_secret"]
    assert extract_data["data"]["demo_thing"]["attributes"] == ["created_at"]


def test_arguments_blocks_and_attributes(extract_data: dict[str, Any]) -> None:
    thing = extract_data["resource"]["demo_thing"]
    assert thing["arguments"] == {
        "labels": {"required": True},
        "name": {"required": True},
        "value_wo": {"write_only": True},
    }
    assert thing["blocks"] == {
        "rules": {
            "nesting": "single",
            "required": True,
            "arguments": {"days": {}},
            "blocks": {},
        },
        "tag": {
            "nesting": "list",
            "required": False,
            # Without a registry link the name comes from the camelCase property.
            "arguments": {"ipv6_cidr": {"required": True}, "key": {"required": True}},
            "blocks": {},
        },
    }
    # "selfAttribute" is how the bindings rename a clashing attribute: both spellings are kept.
    assert thing["attributes"] == ["arn", "has_value_wo", "self", "self_attribute"]


def test_written_extract_is_what_the_check_reads(
    extract_data: dict[str, Any], tmp_path: Path
) -> None:
    regenerate.write(tmp_path / "newest.json", extract_data)
    assert schema_check.Extract.load("newest", tmp_path).data == extract_data
    # One line per type: diffs of a regeneration stay readable.
    lines = (tmp_path / "newest.json").read_text(encoding="utf-8").splitlines()
    assert any(line.startswith('    "demo_thing": {') for line in lines)


def test_a_floor_without_a_pinned_package_says_what_to_add() -> None:
    with pytest.raises(regenerate.RegenerateError, match="add the binding package built for aws"):
        regenerate.minimum_pins({"aws": {"5.9": "terraform/modules/x"}})
    with pytest.raises(regenerate.RegenerateError, match="different floors"):
        regenerate.minimum_pins({"aws": {"6.0": "a", "6.1": "b"}})


def test_expected_types_file_is_well_formed() -> None:
    types = regenerate.expected_types()
    assert ("resource", "aws_scheduler_schedule") in types
    assert ("resource", "vault_aws_auth_backend_role") in types
    assert {kind for kind, _ in types} <= set(regenerate.KINDS)


@pytest.mark.parametrize(
    ("constraint", "floor"),
    [(">= 6.0", "6.0"), (">= 6.0.1, < 7.0", "6.0"), ("~> 5.4", "5.4"), ("< 7.0, >= 6.2", "6.2")],
)
def test_floor_of_a_version_constraint(tmp_path: Path, constraint: str, floor: str) -> None:
    (tmp_path / "versions.tf").write_text(
        'terraform {\n  required_providers {\n    aws = {\n      source  = "hashicorp/aws"\n'
        f'      version = "{constraint}"\n    }}\n  }}\n}}\n',
        encoding="utf-8",
    )
    floors = regenerate.declared_floors([tfconfig.load(tmp_path)])
    assert floors == {"aws": {floor: str(tmp_path)}}


def test_a_constraint_without_a_lower_bound_is_refused(tmp_path: Path) -> None:
    (tmp_path / "versions.tf").write_text(
        'terraform {\n  required_providers {\n    aws = {\n      source  = "hashicorp/aws"\n'
        '      version = "< 7.0"\n    }\n  }\n}\n',
        encoding="utf-8",
    )
    with pytest.raises(regenerate.RegenerateError, match="needs one lower bound"):
        regenerate.declared_floors([tfconfig.load(tmp_path)])
