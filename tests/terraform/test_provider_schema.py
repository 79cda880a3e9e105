"""Every module and example against the real provider schemas, offline: the newest packaged
provider versions and the minimum versions versions.tf declares (schema/*.json, written by
schema/regenerate.py from the provider binding packages on PyPI)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.terraform import schema_check, tfconfig
from tests.terraform.schema import regenerate
from tests.terraform.tfconfig import Config


@pytest.fixture(scope="module")
def loaded(configs: dict[str, Config]) -> dict[Path, Config]:
    """The session's parsed modules and examples, reused; any other directory is parsed once."""
    return {config.path.resolve(): config for config in configs.values()}


@pytest.mark.parametrize("name", schema_check.EXTRACTS)
def test_configuration_matches_the_provider_schemas(loaded: dict[Path, Config], name: str) -> None:
    extract = schema_check.Extract.load(name)
    problems = schema_check.check_tree(extract, loaded=loaded)
    assert not problems, "\n".join(map(str, problems))


def test_every_configuration_directory_is_checked(loaded: dict[Path, Config]) -> None:
    """The check walks terraform/ itself: a new module is covered without registering it."""
    schema_check.check_tree(schema_check.Extract.load("newest"), loaded=loaded)
    checked = {path for path in loaded if tfconfig.TERRAFORM in path.parents}
    assert checked >= {path.resolve() for path in tfconfig.configuration_dirs()}
    assert len(checked) >= 4


@pytest.mark.parametrize("name", schema_check.EXTRACTS)
def test_extract_records_where_it_comes_from(name: str) -> None:
    extract = schema_check.Extract.load(name)
    assert extract.data["generator"] == regenerate.GENERATOR
    assert (tfconfig.REPO / regenerate.GENERATOR).is_file()
    assert extract.data["set"] == name
    for provider, info in extract.providers.items():
        assert info["source"] == f"hashicorp/{provider}"
        assert info["version"].count(".") == 2, info
        if name == "newest":
            assert regenerate.NEWEST[provider] == regenerate.Pin(
                info["package"], info["package_version"]
            )
        else:
            assert (info["package"], info["package_version"]) in {
                (pin.package, pin.version) for pin in regenerate.MINIMUM_BY_FLOOR.values()
            }
    if name == "newest":
        assert set(extract.providers) == set(regenerate.NEWEST)


def test_minimum_extract_holds_the_floors_versions_tf_declares(
    loaded: dict[Path, Config],
) -> None:
    """When a floor in versions.tf moves, this fails until the extract is regenerated."""
    extract = schema_check.Extract.load("minimum")
    floors = regenerate.declared_floors(schema_check.load_tree(loaded=loaded))
    assert set(floors) == set(extract.providers)
    for provider, declared in floors.items():
        version = extract.providers[provider]["version"]
        for floor, where in declared.items():
            assert version.startswith(f"{floor}."), (
                f"{where} declares {provider} >= {floor} but minimum.json holds {version}: "
                + schema_check.REGENERATE
            )


def test_newest_extract_is_not_older_than_the_minimum() -> None:
    newest = schema_check.Extract.load("newest").providers
    minimum = schema_check.Extract.load("minimum").providers
    for provider, info in minimum.items():
        assert _version(newest[provider]["version"]) >= _version(info["version"])
    # Write-only flags exist in the newest (CDK Terrain) packages; the check relies on them.
    assert all(newest[p]["write_only_flags"] for p in ("aws", "vault"))


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


@pytest.mark.parametrize("name", schema_check.EXTRACTS)
def test_extracts_hold_the_types_expected_soon(name: str) -> None:
    """Types module work in progress is expected to use are extracted ahead of it, so the check
    covers it after a merge without downloading anything."""
    extract = schema_check.Extract.load(name)
    for kind, type_name in sorted(regenerate.expected_types()):
        entry = f"{kind} {type_name}"
        assert (
            type_name in extract.data[kind]
            or entry in extract.data["absent"]
            or entry in extract.data["not_covered"]
        ), f"{entry} is listed in expected-types.txt but not in {name}.json: " + (
            schema_check.REGENERATE
        )


def test_a_type_missing_from_the_extract_fails_never_passes(loaded: dict[Path, Config]) -> None:
    extract = schema_check.Extract.load("newest")
    data = {**extract.data, "resource": dict(extract.data["resource"])}
    del data["resource"]["aws_secretsmanager_secret_version"]
    problems = schema_check.check_tree(schema_check.Extract("newest", data), loaded=loaded)
    messages = {p.address: p.message for p in problems}
    assert messages
    assert all("aws_secretsmanager_secret_version" in address for address in messages), messages
    assert all("regenerate the schema extract" in message for message in messages.values())


def test_a_type_the_provider_version_lacks_is_named_as_such(loaded: dict[Path, Config]) -> None:
    extract = schema_check.Extract.load("minimum")
    data = {**extract.data, "resource": dict(extract.data["resource"])}
    del data["resource"]["aws_kms_alias"]
    data["absent"] = [*data["absent"], "resource aws_kms_alias"]
    problems = schema_check.check_tree(schema_check.Extract("minimum", data), loaded=loaded)
    assert [p.message for p in problems] == [
        "resource type 'aws_kms_alias' does not exist in minimum.json: aws "
        + extract.providers["aws"]["version"]
    ]


def test_ephemeral_types_a_package_cannot_describe_are_skipped_not_passed() -> None:
    """The HashiCorp packages of the minimum versions generate no ephemeral resources: the
    extract lists those types as not covered, and the newest extract checks them."""
    minimum = schema_check.Extract.load("minimum")
    newest = schema_check.Extract.load("newest")
    for entry in minimum.data["not_covered"]:
        kind, type_name = entry.split(" ")
        assert kind == "ephemeral"
        assert not minimum.providers[tfconfig.implied_provider(type_name)]["ephemeral_resources"]
        assert type_name in newest.data["ephemeral"]


def test_docs_name_the_versions_each_extract_holds() -> None:
    """docs/terraform.md's table follows a regeneration."""
    doc = (tfconfig.REPO / "docs" / "terraform.md").read_text(encoding="utf-8")
    for name in schema_check.EXTRACTS:
        for provider, info in schema_check.Extract.load(name).providers.items():
            package = f"`{info['package']}` {info['package_version']}"
            row = f"| {provider} | {info['version']} | {package} |"
            assert row in doc, f"docs/terraform.md lacks the row {row!r}"


@pytest.mark.parametrize(
    ("for_each", "most"),
    [
        ("${local.in_vpc ? [1] : []}", 1),
        ("${var.key == null ? [] : [var.key]}", 1),
        ('${["a", "b"]}', 2),
        (["a"], 1),
        ("${toset(var.subnets)}", None),
        ("${var.subnets}", None),
    ],
)
def test_dynamic_block_counts_that_can_be_told(for_each: object, most: int | None) -> None:
    assert schema_check.dynamic_max_count(for_each) == most
