"""Typed access to an untrusted GuardSet JSON document, with the JSON path in every error.

Reading a cache entry or a service request must fail with ``GuardSetFormatError`` naming the bad
value (``guards[3].expr``), never with a ``KeyError`` or ``TypeError`` from deep inside the
reader; every field access goes through ``JsonObject`` so that holds by construction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

SCHEMA_VERSION = 1

T = TypeVar("T")


class GuardSetFormatError(ValueError):
    """JSON that is not a valid ``GuardSet``; ``path`` locates the bad value (``guards[3].expr``, ``$`` for the root)."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(f"{path}: {message}")
        self.message = message
        self.path = path


def join_path(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return key if path == "$" else f"{path}.{key}"


def type_name(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def expect_int(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise GuardSetFormatError(f"expected an integer, got {type_name(value)}", path)
    return value


def expect_str(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise GuardSetFormatError(f"expected a string, got {type_name(value)}", path)
    return value


class JsonObject:
    """A JSON object being read: typed field access with the JSON path in every error."""

    def __init__(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise GuardSetFormatError(f"expected an object, got {type_name(value)}", path)
        self.value: dict[Any, Any] = value
        self.path = path
        self.used: set[str] = set()

    def at(self, key: str) -> str:
        return join_path(self.path, key)

    def raw(self, key: str) -> Any:
        if key not in self.value:
            raise GuardSetFormatError("missing required field", self.at(key))
        self.used.add(key)
        return self.value[key]

    def optional(self, key: str, default: Any) -> Any:
        if key not in self.value:
            return default
        return self.raw(key)

    def integer(self, key: str) -> int:
        return expect_int(self.raw(key), self.at(key))

    def string(self, key: str, default: str | None = None) -> str:
        value = self.raw(key) if default is None else self.optional(key, default)
        return expect_str(value, self.at(key))

    def boolean(self, key: str) -> bool:
        value = self.raw(key)
        if not isinstance(value, bool):
            raise GuardSetFormatError(f"expected true or false, got {type_name(value)}", self.at(key))
        return value

    def array(self, key: str, read: Callable[[Any, str], T]) -> list[T]:
        value = self.raw(key)
        if not isinstance(value, list):
            raise GuardSetFormatError(f"expected an array, got {type_name(value)}", self.at(key))
        return [read(item, join_path(self.at(key), i)) for i, item in enumerate(value)]

    def finish(self) -> None:
        unknown = sorted(str(k) for k in self.value if k not in self.used)
        if unknown:
            raise GuardSetFormatError(f"unknown field {unknown[0]!r}", self.at(unknown[0]))

