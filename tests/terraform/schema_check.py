"""Check the Terraform configuration against the providers' real schemas, without the providers.

``terraform validate`` needs the provider plugins, which are not downloaded where the tests run.
The schema extracts under ``schema/`` (written by ``schema/regenerate.py`` from the provider
binding packages on PyPI) carry what validate would ask the plugins for, and this module checks,
for every directory of .tf files under terraform/, every ``resource``, ``data``, ``ephemeral``,
``provider`` and ``module`` block:

* the type exists (a type missing from the extract is an error that says to regenerate it);
* every argument and nested block is known, at every nesting level, ``dynamic`` blocks included;
* every required argument and block is set (a ``dynamic`` block counts);
* a block allowed once appears once; a ``dynamic`` block that may yield more, or whose count
  cannot be told from its ``for_each``, is reported as unresolvable;
* references ``TYPE.NAME.ATTR``, ``data.TYPE.NAME.ATTR`` and ``ephemeral.TYPE.NAME.ATTR`` point at
  a declared block and at an attribute its type has;
* an ephemeral value (from an ephemeral resource, an ephemeral variable or output, or a local
  built from one) reaches only write-only arguments of resources, and otherwise only places
  that accept it (ephemeral resources, provider blocks, ephemeral outputs and module inputs);
* ``lifecycle.ignore_changes`` names arguments or blocks of the type;
* module calls pass only the inputs the module declares, every input it requires, and are read
  only through outputs it declares.

What an extract cannot show (value types, conflicts between arguments, provider-side
validation) is listed in docs/terraform.md.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from tests.terraform import tfconfig

SCHEMA_DIR = Path(__file__).with_name("schema")
EXTRACTS = ("newest", "minimum")
REGENERATE = (
    "regenerate the schema extract (python -m tests.terraform.schema.regenerate, "
    "see docs/terraform.md)"
)

# Terraform's own arguments and blocks, per kind of block (not part of any provider schema).
_META = {
    "resource": {"count", "for_each", "depends_on", "provider", "lifecycle"}
    | {"provisioner", "connection"},
    "data": {"count", "for_each", "depends_on", "provider", "lifecycle"},
    "ephemeral": {"count", "for_each", "depends_on", "provider", "lifecycle"},
    "provider": {"alias", "version"},
}
_MODULE_META = {"source", "version", "providers", "count", "for_each", "depends_on"}
_REFERENCE_ROOTS = frozenset({"data", "ephemeral"})


@dataclass(frozen=True)
class Problem:
    file: str
    address: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.address}: {self.message}"


@dataclass(frozen=True)
class Extract:
    """One schema extract (``schema/<name>.json``)."""

    name: str
    data: Mapping[str, Any]

    @classmethod
    def load(cls, name: str, directory: Path = SCHEMA_DIR) -> Extract:
        path = directory / f"{name}.json"
        return cls(name, json.loads(path.read_text(encoding="utf-8")))

    @property
    def providers(self) -> Mapping[str, Any]:
        return self.data["providers"]  # type: ignore[no-any-return]

    def label(self, provider: str) -> str:
        info = self.providers.get(provider)
        if info is None:
            return f"{self.name}.json"
        return f"{self.name}.json: {provider} {info['version']}"

    def schema(self, kind: str, type_name: str) -> Mapping[str, Any] | None:
        if kind == "provider":
            info = self.providers.get(type_name)
            return None if info is None else info["configuration"]
        return self.data[kind].get(type_name)  # type: ignore[no-any-return]

    def why_missing(self, kind: str, type_name: str) -> str | None:
        """None when the type may be skipped on purpose, else the error to report."""
        entry = f"{kind} {type_name}"
        provider = type_name if kind == "provider" else tfconfig.implied_provider(type_name)
        if entry in self.data.get("not_covered", []):
            return None
        if entry in self.data.get("absent", []):
            return f"{kind} type {type_name!r} does not exist in {self.label(provider)}"
        return f"{kind} type {type_name!r} is not in the schema extract {self.name}.json: " + (
            "a misspelt type, or a new one: " + REGENERATE
        )

    def write_only_known(self, provider: str) -> bool:
        return bool(self.providers.get(provider, {}).get("write_only_flags"))


# -- blocks ------------------------------------------------------------------------------------


def is_block_list(value: object) -> bool:
    """True for a body written with block syntax (python-hcl2 marks each with __is_block__)."""
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(item, dict) and item.get("__is_block__") for item in value)
    )


def _keys(body: Mapping[str, Any]) -> Iterator[str]:
    return (key for key in body if not key.startswith("__"))


def _dynamic(body: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for item in body.get("dynamic", []):
        for label, spec in item.items():
            if not label.startswith("__"):
                yield (label[1:-1] if tfconfig.is_quoted(label) else label), spec


_LIST = r"\[(?P<{name}>[^\[\]]*)\]"
_CONDITIONAL = re.compile(
    r"^\$\{\s*[^?]+\?\s*" + _LIST.format(name="a") + r"\s*:\s*" + _LIST.format(name="b") + r"\s*\}$"
)
_LITERAL = re.compile(r"^\$\{\s*" + _LIST.format(name="a") + r"\s*\}$")


def dynamic_max_count(for_each: object) -> int | None:
    """Most blocks a ``for_each`` can yield when it is a list literal or a conditional between
    two (``COND ? [X] : []``); None when that cannot be told without evaluating it."""
    if isinstance(for_each, list):
        return len(for_each)
    text = str(for_each)
    match = _CONDITIONAL.match(text) or _LITERAL.match(text)
    if match is None:
        return None
    return max(
        len([item for item in match.group(group).split(",") if item.strip()])
        for group in match.groupdict()
    )


@dataclass
class _Context:
    extract: Extract
    file: str
    address: str
    problems: list[Problem]

    def report(self, where: str, message: str) -> None:
        self.problems.append(Problem(self.file, where or self.address, message))


def _suggest(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_body(
    context: _Context,
    body: Mapping[str, Any],
    schema: Mapping[str, Any],
    where: str,
    meta: set[str],
) -> None:
    """Arguments, nested blocks, required ones and block counts of one block body."""
    _check_names(context, body, schema, where, meta)
    dynamic_counts = _check_dynamic(context, body, schema, where)
    for name, flags in schema["arguments"].items():
        if flags.get("required") and name not in body:
            context.report(where, f"missing required argument {name!r}")
    for name, block in schema["blocks"].items():
        if block.get("required") and name not in body and name not in dynamic_counts:
            context.report(where, f"missing required block {name!r}")
        if block.get("nesting") == "single":
            static = len(body[name]) if is_block_list(body.get(name)) else 0
            _check_single(context, where, name, static, dynamic_counts.get(name, []))


def _check_names(
    context: _Context,
    body: Mapping[str, Any],
    schema: Mapping[str, Any],
    where: str,
    meta: set[str],
) -> None:
    arguments: Mapping[str, Any] = schema["arguments"]
    blocks: Mapping[str, Any] = schema["blocks"]
    for key in _keys(body):
        if key in meta or key == "dynamic":
            continue
        value = body[key]
        if key in blocks:
            # `key = {...}` is accepted too: the bindings do not tell a block from a nested
            # attribute, so only block syntax is checked further.
            if is_block_list(value):
                for index, item in enumerate(value):
                    inner = f"{where}.{key}[{index}]" if len(value) > 1 else f"{where}.{key}"
                    check_body(context, item, blocks[key], inner, set())
        elif key in arguments:
            if is_block_list(value):
                context.report(where, f"{key!r} is an argument, not a block: write `{key} = ...`")
        else:
            kind = "block" if is_block_list(value) else "argument"
            known = set(arguments) | set(blocks)
            context.report(where, f"unknown {kind} {key!r}{_suggest(key, known)}")


def _check_dynamic(
    context: _Context, body: Mapping[str, Any], schema: Mapping[str, Any], where: str
) -> dict[str, list[int | None]]:
    """Check every ``dynamic`` block's content; the most blocks each may yield, by label."""
    blocks: Mapping[str, Any] = schema["blocks"]
    counts: dict[str, list[int | None]] = {}
    for label, spec in _dynamic(body):
        if label not in blocks:
            context.report(where, f"unknown block {label!r} in dynamic{_suggest(label, blocks)}")
            continue
        counts.setdefault(label, []).append(dynamic_max_count(spec.get("for_each")))
        for content in spec.get("content", []):
            check_body(context, content, blocks[label], f"{where}.dynamic.{label}", set())
    return counts


def _check_single(
    context: _Context, where: str, name: str, static: int, dynamic: list[int | None]
) -> None:
    if static > 1:
        context.report(where, f"block {name!r} is allowed once, found {static} times")
    for count in dynamic:
        if count is None:
            context.report(
                where,
                f"block {name!r} is allowed once; unresolvable: cannot tell how many blocks "
                "its dynamic for_each yields (use `COND ? [1] : []`)",
            )
        elif static + count > 1:
            context.report(
                where,
                f"block {name!r} is allowed once, but static and dynamic blocks may "
                f"yield {static + count}",
            )


# -- one directory -----------------------------------------------------------------------------


@dataclass
class DirectoryCheck:
    """Every check of one directory of .tf files against one extract."""

    config: tfconfig.Config
    extract: Extract
    loaded: dict[Path, tfconfig.Config] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @cached_property
    def relative(self) -> str:
        try:
            return str(self.config.path.resolve().relative_to(tfconfig.REPO))
        except ValueError:
            return str(self.config.path)

    def file_of(self, section: str, labels: tuple[str, ...]) -> str:
        """The .tf file that declares the block (for the error location)."""
        for name, parsed in self.config.files.items():
            for item in parsed.get(section, []):
                node: Any = item
                for label in labels:
                    quoted = f'"{label}"'
                    node = node.get(quoted, node.get(label)) if isinstance(node, dict) else None
                if node is not None:
                    return f"{self.relative}/{name}"
        return self.relative

    def run(self) -> list[Problem]:
        self._providers()
        typed = {
            "resource": self.config.resources,
            "data": self.config.data,
            "ephemeral": self.config.ephemerals,
        }
        for kind, blocks in typed.items():
            for (type_name, name), body in blocks.items():
                self._typed_block(kind, type_name, name, body)
        self._modules()
        self._references()
        self._ephemeral_flow()
        return self.problems

    # -- blocks

    def _providers(self) -> None:
        required = tfconfig.required_providers(self.config)
        for name in sorted(set(required) | set(self.config.providers)):
            file = self.file_of("provider", (name,)) if name in self.config.providers else ""
            file = file or f"{self.relative}/versions.tf"
            if self.extract.schema("provider", name) is None:
                message = self.extract.why_missing("provider", name)
                self.problems.append(Problem(file, f"provider.{name}", str(message)))
        for name, body in self.config.providers.items():
            schema = self.extract.schema("provider", name)
            if schema is not None:
                context = _Context(
                    self.extract, self.file_of("provider", (name,)), "", self.problems
                )
                check_body(context, body, schema, f"provider.{name}", _META["provider"])

    def _typed_block(self, kind: str, type_name: str, name: str, body: Mapping[str, Any]) -> None:
        section = kind
        address = f"{type_name}.{name}" if kind == "resource" else f"{kind}.{type_name}.{name}"
        file = self.file_of(section, (type_name, name))
        schema = self.extract.schema(kind, type_name)
        if schema is None:
            message = self.extract.why_missing(kind, type_name)
            if message is not None:
                self.problems.append(Problem(file, address, message))
            return
        context = _Context(self.extract, file, address, self.problems)
        check_body(context, body, schema, address, _META[kind])
        for lifecycle in body.get("lifecycle", []):
            ignored = lifecycle.get("ignore_changes", [])
            if isinstance(ignored, str) and tfconfig.source(ignored).strip() == "all":
                continue
            known = set(schema["arguments"]) | set(schema["blocks"])
            for entry in ignored if isinstance(ignored, list) else [ignored]:
                first = re.split(r"[.\[]", tfconfig.source(str(entry)).strip(), maxsplit=1)[0]
                if first not in known:
                    context.report(
                        address,
                        f"lifecycle.ignore_changes names {first!r}, not an argument of "
                        f"{type_name}{_suggest(first, known)}",
                    )

    def _modules(self) -> None:
        for call, body in self.config.modules.items():
            file = self.file_of("module", (call,))
            target = self._module(call)
            if target is None:
                self.problems.append(
                    Problem(file, f"module.{call}", "only local module sources can be checked")
                )
                continue
            inputs = set(_keys(body)) - _MODULE_META
            declared = set(target.variables)
            for name in sorted(inputs - declared):
                self.problems.append(
                    Problem(
                        file,
                        f"module.{call}",
                        f"unknown input {name!r}{_suggest(name, declared)}",
                    )
                )
            required = {v for v, spec in target.variables.items() if "default" not in spec}
            for name in sorted(required - inputs):
                self.problems.append(Problem(file, f"module.{call}", f"missing input {name!r}"))

    def _module(self, call: str) -> tfconfig.Config | None:
        source = self.config.modules[call].get("source")
        try:
            text = tfconfig.literal(source)
        except tfconfig.CannotEvaluate:
            return None
        if not text.startswith(("./", "../")):
            return None
        return _load(self.loaded, (self.config.path / text).resolve())

    # -- references

    def _references(self) -> None:
        resource_types = {kind for kind, _ in self.config.resources}
        for where, expr in self.config.expressions():
            address = where
            for ref in tfconfig.scan_expression(expr).references:
                problem = self._reference(ref, resource_types)
                if problem:
                    file = self._file_of_address(address)
                    self.problems.append(Problem(file, address, f"{ref}: {problem}"))

    def _reference(self, ref: tfconfig.Reference, resource_types: set[str]) -> str | None:
        parts = ref.parts
        if ref.root == "module" and len(parts) >= 2:
            return self._module_output(parts[0], parts[1])
        if ref.root in _REFERENCE_ROOTS and len(parts) >= 3:
            kind, type_name, name, attribute = ref.root, parts[0], parts[1], parts[2]
            declared = self.config.data if kind == "data" else self.config.ephemerals
        elif ref.root in resource_types and len(parts) >= 2:
            kind, type_name, name, attribute = "resource", ref.root, parts[0], parts[1]
            declared = self.config.resources
        else:
            return None  # var., local., each., ...: resolved by tfconfig.unresolved
        if (type_name, name) not in declared:
            return f"no {kind} block {type_name}.{name} in this module"
        schema = self.extract.schema(kind, type_name)
        if schema is None:
            return None  # reported once, at the block
        known = set(schema["arguments"]) | set(schema["blocks"]) | set(schema["attributes"])
        if attribute in known:
            return None
        return f"{type_name} has no attribute {attribute!r}{_suggest(attribute, known)}"

    def _module_output(self, call: str, output: str) -> str | None:
        if call not in self.config.modules:
            return f"no module call {call!r} in this module"
        target = self._module(call)
        if target is None or output in target.outputs:
            return None
        return f"module {call!r} has no output {output!r}{_suggest(output, target.outputs)}"

    def _file_of_address(self, address: str) -> str:
        head = address.split(".")
        if head[0] in {"data", "ephemeral"} and len(head) >= 3:
            return self.file_of(head[0], (head[1], head[2]))
        if head[0] in {"variable", "output", "module", "provider"} and len(head) >= 2:
            return self.file_of(head[0], (head[1],))
        if head[0] == "local":
            return self.file_of("locals", ())
        if len(head) >= 2:
            return self.file_of("resource", (head[0], head[1]))
        return self.relative

    # -- ephemeral values

    def _ephemeral_symbols(self) -> set[str]:
        """``ephemeral.T.N``, ephemeral variables, module outputs marked ephemeral, and the
        locals built from any of them, as reference prefixes."""
        symbols = {f"ephemeral.{kind}.{name}" for kind, name in self.config.ephemerals}
        symbols |= {
            f"var.{name}"
            for name, spec in self.config.variables.items()
            if spec.get("ephemeral") is True
        }
        for call in self.config.modules:
            target = self._module(call)
            if target is not None:
                symbols |= {
                    f"module.{call}.{name}"
                    for name, spec in target.outputs.items()
                    if spec.get("ephemeral") is True
                }
        changed = True
        while changed:
            changed = False
            for name, expr in self.config.locals.items():
                symbol = f"local.{name}"
                if symbol not in symbols and self._uses(expr, symbols):
                    symbols.add(symbol)
                    changed = True
        return symbols

    @staticmethod
    def _uses(value: object, symbols: set[str]) -> str | None:
        for _, expr in tfconfig.walk_values(value):
            for ref in tfconfig.scan_expression(expr).references:
                text = str(ref)
                for symbol in symbols:
                    if text == symbol or text.startswith(symbol + "."):
                        return text
        return None

    def _ephemeral_flow(self) -> None:
        symbols = self._ephemeral_symbols()
        if not symbols:
            return
        for (type_name, name), body in self.config.resources.items():
            schema = self.extract.schema("resource", type_name)
            provider = tfconfig.implied_provider(type_name)
            if schema is None or not self.extract.write_only_known(provider):
                continue
            file = self.file_of("resource", (type_name, name))
            self._ephemeral_in_body(file, f"{type_name}.{name}", body, schema, symbols)
        for (type_name, name), body in self.config.data.items():
            source = self._uses({k: body[k] for k in _keys(body)}, symbols)
            if source:
                self.problems.append(
                    Problem(
                        self.file_of("data", (type_name, name)),
                        f"data.{type_name}.{name}",
                        f"ephemeral value {source} reaches a data source, which accepts none",
                    )
                )
        for name, body in self.config.outputs.items():
            source = self._uses(body.get("value"), symbols)
            if source and body.get("ephemeral") is not True:
                self.problems.append(
                    Problem(
                        self.file_of("output", (name,)),
                        f"output.{name}",
                        f"ephemeral value {source} in an output not marked `ephemeral = true`",
                    )
                )
        for call, body in self.config.modules.items():
            target = self._module(call)
            if target is None:
                continue
            for key in set(_keys(body)) - _MODULE_META:
                source = self._uses(body[key], symbols)
                spec = target.variables.get(key, {})
                if source and spec.get("ephemeral") is not True:
                    self.problems.append(
                        Problem(
                            self.file_of("module", (call,)),
                            f"module.{call}",
                            f"ephemeral value {source} passed to input {key!r}, which is not "
                            "declared `ephemeral = true`",
                        )
                    )

    def _ephemeral_in_body(
        self,
        file: str,
        where: str,
        body: Mapping[str, Any],
        schema: Mapping[str, Any],
        symbols: set[str],
    ) -> None:
        nested: list[tuple[str, Mapping[str, Any], Mapping[str, Any]]] = []
        for key in _keys(body):
            value = body[key]
            if key in schema["blocks"] and is_block_list(value):
                nested.extend((f"{where}.{key}", item, schema["blocks"][key]) for item in value)
                continue
            if key == "dynamic":
                for label, spec in _dynamic(body):
                    if label in schema["blocks"]:
                        nested.extend(
                            (f"{where}.dynamic.{label}", item, schema["blocks"][label])
                            for item in spec.get("content", [])
                        )
                continue
            if key in _META["resource"]:
                continue  # meta-arguments: provisioner and connection accept ephemeral values
            source = self._uses(value, symbols)
            if source and not schema["arguments"].get(key, {}).get("write_only"):
                self.problems.append(
                    Problem(
                        file,
                        where,
                        f"ephemeral value {source} reaches {key!r}, which is not a write-only "
                        "argument: it would be stored in the plan and state",
                    )
                )
        for inner_where, inner_body, inner_schema in nested:
            self._ephemeral_in_body(file, inner_where, inner_body, inner_schema, symbols)


# -- the whole tree ----------------------------------------------------------------------------


def _load(loaded: dict[Path, tfconfig.Config], path: Path) -> tfconfig.Config:
    if path not in loaded:
        loaded[path] = tfconfig.load(path)
    return loaded[path]


def check_tree(
    extract: Extract,
    root: Path = tfconfig.TERRAFORM,
    loaded: dict[Path, tfconfig.Config] | None = None,
) -> list[Problem]:
    """Every problem of every configuration under ``root`` against ``extract``; ``loaded``
    shares the parsed configurations between calls (parsing is most of the cost)."""
    loaded = {} if loaded is None else loaded
    problems: list[Problem] = []
    for config in load_tree(root, loaded):
        problems += DirectoryCheck(config, extract, loaded).run()
    return problems


def load_tree(
    root: Path = tfconfig.TERRAFORM, loaded: dict[Path, tfconfig.Config] | None = None
) -> list[tfconfig.Config]:
    """Every configuration under ``root``, parsed once per ``loaded``."""
    loaded = {} if loaded is None else loaded
    return [_load(loaded, path.resolve()) for path in tfconfig.configuration_dirs(root)]
