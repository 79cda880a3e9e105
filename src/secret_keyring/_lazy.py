"""PEP 562 lazy attributes: a package's public names loaded on first use.

Keeps ``import secret_keyring`` and ``import secret_keyring.providers`` nearly free; the modules
behind the names (and their standard-library imports) load when a name is first touched.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping

TYPE_CHECKING = False  # not from typing: importing typing costs more than this whole package
if TYPE_CHECKING:
    from typing import Any


def lazy_attributes(
    package: str, names: Mapping[str, str], public: list[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return a module ``__getattr__`` and ``__dir__`` for ``names`` (name -> module path)."""
    namespace = importlib.import_module(package).__dict__

    def get_attribute(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value  # later look-ups skip __getattr__
        return value

    def list_names() -> list[str]:
        return sorted({*namespace, *public})

    return get_attribute, list_names
