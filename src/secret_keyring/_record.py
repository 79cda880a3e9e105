"""``Record``: the library's immutable value objects, without ``dataclasses``.

``@dataclass(frozen=True)`` compiles six methods per class when the class is created: about
1.2 ms each on Python 3.11, and importing ``dataclasses`` costs another millisecond. The records
on the start-up path (the keyring, the parsed payload and URL, the Vault settings and login) are
created at import time of every process, before its first key; ``benchmarks/run.py`` (section c)
measures that start-up against bare SDK calls. A ``Record`` subclass costs what a plain class
costs: its fields are read from the class's annotations once, and one ``__init__``, ``__eq__``,
``__hash__`` and ``__repr__`` serve every record.

For type checkers ``Record`` is a dataclass transform: ``mypy`` checks the constructor's
arguments against the annotated fields and their defaults, and refuses assignments.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not from typing: importing typing is not free, and nothing else needs it
if TYPE_CHECKING:
    from typing import Any, ClassVar

    from typing_extensions import Self, dataclass_transform
else:

    def dataclass_transform(**_: object) -> object:
        return lambda cls: cls


__all__ = ["Record"]

_MISSING = object()


@dataclass_transform(eq_default=True, frozen_default=True)
class Record:
    """An immutable value object: positional or keyword construction from the annotated fields
    (with their class-level defaults), equality and hashing by value, ``repr`` by field, and no
    assignment after ``__init__``. A subclass may define its own ``__init__`` (validation) and
    set its fields with ``_set``; pickling and copying rebuild through ``__init__``."""

    _fields: ClassVar[tuple[str, ...]] = ()
    _defaults: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        # The class's own annotations (strings, the names are all that is used); not through
        # inspect.get_annotations(), which would import inspect for this.
        annotations = cls.__dict__.get("__annotations__", {})  # noqa: RUF063
        own = [
            name
            for name, annotation in annotations.items()
            if not str(annotation).startswith(("ClassVar", "typing.ClassVar", "Final"))
        ]
        cls._fields = (*cls._fields, *(name for name in own if name not in cls._fields))
        cls._defaults = {
            **cls._defaults,
            **{name: cls.__dict__[name] for name in own if name in cls.__dict__},
        }
        setattr(cls, "__match_args__", cls._fields)  # noqa: B010 - not declared on Record

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        name = type(self).__name__
        if len(args) > len(self._fields):
            raise TypeError(f"{name}() takes {len(self._fields)} arguments, got {len(args)}")
        values = dict(zip(self._fields, args, strict=False))
        for field, value in kwargs.items():
            if field not in self._fields or field in values:
                raise TypeError(f"{name}() got an unexpected or repeated argument {field!r}")
            values[field] = value
        for field in self._fields:
            if field not in values:
                default = self._defaults.get(field, _MISSING)
                if default is _MISSING:
                    raise TypeError(f"{name}() is missing the argument {field!r}")
                values[field] = default
        self._set(**values)

    def _set(self, **values: Any) -> None:
        for field, value in values.items():
            object.__setattr__(self, field, value)

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, field) for field in self._fields)

    def _replace(self, **changes: Any) -> Self:
        """A copy with ``changes`` (built through ``__init__``)."""
        return type(self)(**{**dict(zip(self._fields, self._values(), strict=True)), **changes})

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Record) or other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{field}={value!r}" for field, value in zip(self._fields, self._values(), strict=True)
        )
        return f"{type(self).__name__}({shown})"

    def __setattr__(self, name: str, value: object) -> None:
        del value  # may be a key: not for a traceback that shows locals
        raise AttributeError(f"cannot assign to field {name!r}: {type(self).__name__} is frozen")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}: {type(self).__name__} is frozen")

    def __reduce__(self) -> tuple[type[Self], tuple[Any, ...]]:
        return (type(self), self._values())
