"""Read the Terraform configuration with python-hcl2 and answer questions about it.

Terraform providers cannot be downloaded here, so ``terraform validate`` cannot run. This module
does the part of it that needs no provider schema: it finds every reference in every expression
(``var.x``, ``local.x``, ``module.m.out``, ``data.t.n``, ``ephemeral.t.n``, ``type.name``) so the
tests can check that each one resolves, and it evaluates the small subset of expressions that
policies are built from (literals, references and string templates) so the policies can be
rendered and tried against real servers.

python-hcl2 keeps HCL's own spelling: a literal string comes back with its quotes
(``'"read"'``), an expression as ``'${...}'`` and block labels quoted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
from hcl2 import SerializationOptions

REPO = Path(__file__).resolve().parents[2]
TERRAFORM = REPO / "terraform"
MODULES = {
    "aws-secret": TERRAFORM / "modules/aws-secret",
    "vault-secret": TERRAFORM / "modules/vault-secret",
    "vault-rotation-aws": TERRAFORM / "modules/vault-rotation-aws",
}
EXAMPLES = {
    "aws-complete": TERRAFORM / "examples/aws-complete",
    "vault-complete": TERRAFORM / "examples/vault-complete",
    "vault-rotation-aws-complete": TERRAFORM / "examples/vault-rotation-aws-complete",
}

_KEYWORDS = frozenset({"for", "in", "if", "true", "false", "null"})
#: Roots Terraform defines itself; ``each``/``count`` only inside their meta-argument blocks.
_BUILTIN_ROOTS = frozenset({"each", "count", "path", "self", "terraform"})
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_FOR_VARS = re.compile(r"\bfor\s+([A-Za-z_][\w-]*)(?:\s*,\s*([A-Za-z_][\w-]*))?\s+in\b")
_SIMPLE_REF = re.compile(r"^[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*|\[\d+\])*$")


class CannotEvaluate(ValueError):
    """The expression is beyond the literal/reference/template subset evaluated here."""


# -- expressions ------------------------------------------------------------------------------


def is_expression(value: object) -> bool:
    return isinstance(value, str) and value.startswith("${") and value.endswith("}")


def is_quoted(value: object) -> bool:
    return isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"'


def literal(value: object) -> str:
    """The text of a quoted literal without interpolation; anything else raises."""
    if not is_quoted(value) or "${" in str(value):
        raise CannotEvaluate(f"not a plain string literal: {value!r}")
    return _unescape(str(value)[1:-1])


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), text)


def source(value: str) -> str:
    """HCL source of an attribute value as python-hcl2 returned it."""
    return value[2:-1] if is_expression(value) and not is_quoted(value) else value


def _skip_string(text: str, start: int, interpolations: list[str]) -> int:
    """Skip the string literal opening at ``start``; collect its interpolations' sources."""
    i = start + 1
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char == '"':
            return i + 1
        if text.startswith("$${", i) or text.startswith("%%{", i):
            i += 3
            continue
        if text.startswith("%{", i):
            raise CannotEvaluate("template directives (%{...}) are not supported")
        if text.startswith("${", i):
            end = _skip_code(text, i + 2, closing="}")
            interpolations.append(text[i + 2 : end - 1])
            i = end
            continue
        i += 1
    raise CannotEvaluate(f"unterminated string in {text!r}")


def _skip_code(text: str, start: int, closing: str) -> int:
    """Index just past the ``closing`` brace that ends the code starting at ``start``."""
    depth = 0
    i = start
    while i < len(text):
        char = text[i]
        if char == '"':
            i = _skip_string(text, i, [])
            continue
        if char in "{[(":
            depth += 1
        elif char in "}])":
            if depth == 0 and char == closing:
                return i + 1
            depth -= 1
        i += 1
    raise CannotEvaluate(f"unbalanced braces in {text!r}")


def code_segments(expr: str) -> Iterator[str]:
    """Yield the code of ``expr`` outside string literals, then of every interpolation."""
    outside: list[str] = []
    interpolations: list[str] = []
    i = 0
    while i < len(expr):
        if expr[i] == '"':
            end = _skip_string(expr, i, interpolations)
            outside.append(" " * (end - i))
            i = end
            continue
        outside.append(expr[i])
        i += 1
    yield "".join(outside)
    for inner in interpolations:
        yield from code_segments(inner)


@dataclass(frozen=True)
class Reference:
    root: str
    parts: tuple[str, ...]

    def __str__(self) -> str:
        return ".".join((self.root, *self.parts))


@dataclass
class Scan:
    references: list[Reference] = field(default_factory=list)
    functions: set[str] = field(default_factory=set)
    bound: set[str] = field(default_factory=set)


def _traversal(code: str, i: int) -> tuple[list[str], int]:
    parts: list[str] = []
    while i < len(code):
        if code[i] == "." and (match := _IDENT.match(code, i + 1)):
            parts.append(match.group())
            i = match.end()
        elif code[i] == "[":
            i = _skip_code(code, i + 1, closing="]")
        else:
            break
    return parts, i


def scan_expression(expr: str) -> Scan:
    """References, function calls and for-expression variables of one expression."""
    result = Scan()
    for match in _FOR_VARS.finditer(expr):
        result.bound.update(name for name in match.groups() if name)
    for code in code_segments(expr):
        for match in _IDENT.finditer(code):
            start, end = match.span()
            name = match.group()
            inside_word = start > 0 and (code[start - 1].isalnum() or code[start - 1] in "_-.")
            if inside_word or name in _KEYWORDS:
                continue
            rest = code[end:].lstrip()
            if rest.startswith("("):
                result.functions.add(name)
                continue
            if rest.startswith("=") and not rest.startswith(("==", "=>")):
                continue  # an object key, as in jsonencode({ current = ... })
            if rest.startswith("::"):
                continue  # provider-defined function namespace (none used)
            parts, _ = _traversal(code, end)
            result.references.append(Reference(name, tuple(parts)))
    return result


def walk_values(value: object, path: str = "") -> Iterator[tuple[str, str]]:
    """Yield (attribute path, expression source) for every expression in a body."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key.startswith("__"):
                continue
            if is_expression(key) or is_quoted(key):
                yield f"{path}.<key>", source(key)
            yield from walk_values(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for item in value:
            yield from walk_values(item, path)
    elif isinstance(value, str):
        yield path, source(value)


# -- configuration ----------------------------------------------------------------------------


def _label(text: str) -> str:
    return text[1:-1] if is_quoted(text) else text


@dataclass
class Config:
    """One directory of .tf files, i.e. one Terraform module."""

    path: Path
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    resources: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    data: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    ephemerals: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    modules: dict[str, dict[str, Any]] = field(default_factory=dict)
    providers: dict[str, dict[str, Any]] = field(default_factory=dict)
    terraform: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)

    def blocks(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every block body with a readable address."""
        for name, body in self.variables.items():
            yield f"variable.{name}", body
        for name, body in self.outputs.items():
            yield f"output.{name}", body
        for (kind, name), body in self.resources.items():
            yield f"{kind}.{name}", body
        for (kind, name), body in self.data.items():
            yield f"data.{kind}.{name}", body
        for (kind, name), body in self.ephemerals.items():
            yield f"ephemeral.{kind}.{name}", body
        for name, body in self.modules.items():
            yield f"module.{name}", body
        for name, body in self.providers.items():
            yield f"provider.{name}", body
        for name, expr in self.locals.items():
            yield f"local.{name}", {"value": expr}

    def expressions(self) -> Iterator[tuple[str, str]]:
        """(address.attribute, source) of every expression, minus type constraints and
        lifecycle.ignore_changes (attribute names, not expressions)."""
        for address, body in self.blocks():
            for attribute, value in body.items():
                if attribute.startswith("__") or (
                    address.startswith("variable.") and attribute == "type"
                ):
                    continue
                checked = value
                if attribute == "lifecycle":
                    checked = [
                        {k: v for k, v in item.items() if k != "ignore_changes"} for item in value
                    ]
                for where, expr in walk_values(checked, attribute):
                    yield f"{address}.{where}", expr

    def dynamic_labels(self) -> set[str]:
        labels: set[str] = set()

        def visit(value: object) -> None:
            if isinstance(value, dict):
                for key, item in value.items():
                    if key == "dynamic":
                        for block in item:
                            labels.update(_label(k) for k in block if not k.startswith("__"))
                    visit(item)
            elif isinstance(value, list):
                for item in value:
                    visit(item)

        for _, body in self.blocks():
            visit(body)
        return labels


def _labelled(items: list[dict[str, Any]], depth: int) -> Iterator[tuple[tuple[str, ...], Any]]:
    for item in items:
        if depth == 1:
            for name, body in item.items():
                if not name.startswith("__"):
                    yield (_label(name),), body
        else:
            for kind, inner in item.items():
                if kind.startswith("__"):
                    continue
                for name, body in inner.items():
                    if not name.startswith("__"):
                        yield (_label(kind), _label(name)), body


def load(path: Path) -> Config:
    config = Config(path)
    options = SerializationOptions(with_comments=False)
    for tf in sorted(path.glob("*.tf")):
        with tf.open(encoding="utf-8") as handle:
            parsed: dict[str, Any] = hcl2.load(handle, serialization_options=options)
        config.files[tf.name] = parsed
        for labels, body in _labelled(parsed.get("variable", []), 1):
            config.variables[labels[0]] = body
        for labels, body in _labelled(parsed.get("output", []), 1):
            config.outputs[labels[0]] = body
        for labels, body in _labelled(parsed.get("module", []), 1):
            config.modules[labels[0]] = body
        for labels, body in _labelled(parsed.get("resource", []), 2):
            config.resources[(labels[0], labels[1])] = body
        for labels, body in _labelled(parsed.get("data", []), 2):
            config.data[(labels[0], labels[1])] = body
        for labels, body in _labelled(parsed.get("ephemeral", []), 2):
            config.ephemerals[(labels[0], labels[1])] = body
        for block in parsed.get("locals", []):
            config.locals.update({k: v for k, v in block.items() if not k.startswith("__")})
        for labels, body in _labelled(parsed.get("provider", []), 1):
            config.providers[labels[0]] = body
        config.terraform.extend(parsed.get("terraform", []))
    return config


def configuration_dirs(root: Path = TERRAFORM) -> list[Path]:
    """Every directory of .tf files under ``root`` (Terraform's working directories excepted):
    the modules, the examples and any directory added later."""
    return sorted({p.parent for p in root.rglob("*.tf") if ".terraform" not in p.parts})


def implied_provider(type_name: str) -> str:
    """Terraform's implied provider of a resource type: its prefix up to the first underscore."""
    return type_name.split("_", 1)[0]


def required_providers(config: Config) -> dict[str, dict[str, str]]:
    """Local name -> {source, version} from the ``terraform { required_providers }`` blocks."""
    found: dict[str, dict[str, str]] = {}
    for block in config.terraform:
        for required in block.get("required_providers", []):
            for name, spec in required.items():
                if not name.startswith("__") and isinstance(spec, dict):
                    # source and version are strings; configuration_aliases is a list.
                    found[name] = {k: literal(v) for k, v in spec.items() if is_quoted(v)}
    return found


def all_configs() -> dict[str, Config]:
    return {name: load(path) for name, path in {**MODULES, **EXAMPLES}.items()}


def module_source_dir(config: Config, call: str) -> Path:
    return (config.path / literal(config.modules[call]["source"])).resolve()


# -- references ---------------------------------------------------------------------------------


def unresolved(config: Config, module_outputs: Mapping[str, set[str]] | None = None) -> list[str]:
    """Every reference in ``config`` that names nothing it declares.

    ``module_outputs`` maps a module call to the outputs of the module it calls.
    """
    problems: list[str] = []
    iterators = config.dynamic_labels()
    resource_types = {kind for kind, _ in config.resources}
    for where, expr in config.expressions():
        scan = scan_expression(expr)
        for ref in scan.references:
            problem = _check_reference(config, ref, scan.bound | iterators, resource_types)
            if problem is None and ref.root == "module" and module_outputs is not None:
                call, output = (*ref.parts, "", "")[:2]
                if output and output not in module_outputs.get(call, set()):
                    problem = f"module {call!r} has no output {output!r}"
            if problem:
                problems.append(f"{where}: {ref}: {problem}")
    return problems


def _check_reference(  # noqa: PLR0911 - one return per kind of reference, in Terraform's order
    config: Config, ref: Reference, bound: set[str], resource_types: set[str]
) -> str | None:
    first = ref.parts[0] if ref.parts else None
    second = ref.parts[1] if len(ref.parts) > 1 else None
    if ref.root in bound or ref.root in _BUILTIN_ROOTS:
        return None
    if ref.root == "var":
        return None if first in config.variables else "no such variable"
    if ref.root == "local":
        return None if first in config.locals else "no such local"
    if ref.root == "module":
        return None if first in config.modules else "no such module call"
    if ref.root == "data":
        return None if (first, second) in config.data else "no such data source"
    if ref.root == "ephemeral":
        return None if (first, second) in config.ephemerals else "no such ephemeral resource"
    if ref.root in resource_types:
        return None if (ref.root, first) in config.resources else "no such resource"
    return "unknown name"


def references_in(value: object) -> list[Reference]:
    refs: list[Reference] = []
    for _, expr in walk_values(value):
        refs.extend(scan_expression(expr).references)
    return refs


def functions_used(config: Config) -> set[str]:
    names: set[str] = set()
    for _, expr in config.expressions():
        names |= scan_expression(expr).functions
    for body in config.variables.values():
        for validation in body.get("validation", []):
            for _, expr in walk_values(validation):
                names |= scan_expression(expr).functions
    return names


# -- evaluation ---------------------------------------------------------------------------------


class Evaluator:
    """Evaluates literals, references and string templates; ``known`` supplies the values of
    references that only exist after apply (ARNs, the region, ...). Locals are evaluated from
    their own expressions when those stay within the subset."""

    def __init__(self, config: Config, known: Mapping[str, object]) -> None:
        self.config = config
        self.known = dict(known)

    def value(self, value: object) -> object:
        if isinstance(value, bool | int | float) or value is None:
            return value
        if isinstance(value, list):
            return [self.value(item) for item in value]
        if not isinstance(value, str):
            raise CannotEvaluate(f"cannot evaluate {value!r}")
        if is_quoted(value):
            return self._template(value[1:-1])
        return self.reference(source(value).strip())

    def reference(self, text: str) -> object:
        if text in self.known:
            return self.known[text]
        if not _SIMPLE_REF.match(text):
            raise CannotEvaluate(f"not a plain reference: {text!r}")
        if text.startswith("local.") and text[6:] in self.config.locals:
            return self.value(self.config.locals[text[6:]])
        raise CannotEvaluate(f"no value for {text!r}")

    def _template(self, body: str) -> str:
        pieces: list[str] = []
        i = 0
        while i < len(body):
            if body.startswith("${", i):
                end = _skip_code(body, i + 2, closing="}")
                pieces.append(str(self.reference(body[i + 2 : end - 1].strip())))
                i = end
            elif body[i] == "\\":
                pieces.append(_unescape(body[i : i + 2]))
                i += 2
            else:
                pieces.append(body[i])
                i += 1
        return "".join(pieces)

    def dynamic_items(self, for_each: str) -> list[object]:
        """``COND ? [X] : []`` and ``COND ? [] : [X]``, the shapes the modules use."""
        match = re.fullmatch(r"\$\{\s*(\S+)\s*\?\s*(\[[^\]]*\])\s*:\s*(\[[^\]]*\])\s*\}", for_each)
        if not match:
            raise CannotEvaluate(f"unsupported for_each: {for_each!r}")
        condition = self.reference(match.group(1))
        chosen = match.group(2) if condition else match.group(3)
        inner = chosen[1:-1].strip()
        if not inner:
            return []
        return [int(inner)] if inner.isdigit() else [self.reference(inner)]


def expand_blocks(body: dict[str, Any], name: str, evaluator: Evaluator) -> list[dict[str, Any]]:
    """Static ``name`` blocks plus the expansion of ``dynamic "name"`` blocks, with the
    iterator (``name.value``) made known to the evaluator."""
    blocks: list[dict[str, Any]] = list(body.get(name, []))
    for dynamic in body.get("dynamic", []):
        for label, spec in dynamic.items():
            if _label(label) != name:
                continue
            blocks.extend(
                {**content, "__iterator__": item}
                for item in evaluator.dynamic_items(spec["for_each"])
                for content in spec["content"]
            )
    return blocks


def raw_blocks(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """Static and dynamic ``name`` blocks, unevaluated (for checks on their literal parts)."""
    blocks: list[dict[str, Any]] = list(body.get(name, []))
    for dynamic in body.get("dynamic", []):
        for label, spec in dynamic.items():
            if _label(label) == name:
                blocks.extend(spec["content"])
    return blocks


def render_iam_policy(config: Config, name: str, known: Mapping[str, object]) -> dict[str, Any]:
    """The JSON policy ``data.aws_iam_policy_document.<name>`` produces, ARNs from ``known``."""
    body = config.data[("aws_iam_policy_document", name)]
    evaluator = Evaluator(config, known)
    statements: list[dict[str, Any]] = []
    for block in expand_blocks(body, "statement", evaluator):
        scoped = Evaluator(config, {**known, "statement.value": block.get("__iterator__")})
        unexpected = set(block) - {
            "sid",
            "effect",
            "actions",
            "resources",
            "condition",
            "__is_block__",
            "__iterator__",
        }
        if unexpected:
            raise CannotEvaluate(f"statement keys not rendered here: {sorted(unexpected)}")
        statement: dict[str, Any] = {
            "Effect": scoped.value(block.get("effect", '"Allow"')),
            "Action": scoped.value(block["actions"]),
            "Resource": scoped.value(block["resources"]),
        }
        if "sid" in block:
            statement["Sid"] = scoped.value(block["sid"])
        conditions: dict[str, dict[str, object]] = {}
        for condition in block.get("condition", []):
            test = str(scoped.value(condition["test"]))
            variable = str(scoped.value(condition["variable"]))
            conditions.setdefault(test, {})[variable] = scoped.value(condition["values"])
        if conditions:
            statement["Condition"] = conditions
        statements.append(statement)
    return {"Version": "2012-10-17", "Statement": statements}


def render_vault_policy(config: Config, name: str, known: Mapping[str, object]) -> dict[str, Any]:
    """``data.vault_policy_document.<name>`` as a Vault JSON policy document."""
    body = config.data[("vault_policy_document", name)]
    evaluator = Evaluator(config, known)
    paths: dict[str, dict[str, object]] = {}
    for rule in body.get("rule", []):
        path = str(evaluator.value(rule["path"]))
        if path in paths:
            raise CannotEvaluate(f"path {path!r} appears twice")
        paths[path] = {"capabilities": evaluator.value(rule["capabilities"])}
    return {"path": paths}
