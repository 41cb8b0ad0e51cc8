"""Typed access to an untrusted spec JSON document, with the JSON path in every error.

The spec form and the traced-inputs record come from tools and service requests; a wrong value
must be a ``SpecJsonError`` naming where it is (``dims[2].root``), never a ``KeyError`` or
``TypeError`` from deep inside the reader, so every field access goes through ``JsonObject``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dimsolve.dims.model import InputPath, Key

SCHEMA_VERSION = 1
MAX_SIZE = 2**63 - 1  # torch sizes are int64


class SpecJsonError(ValueError):
    """JSON that is not a valid spec; ``path`` locates the bad value (``dims[2].root``, ``$`` for the root)."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(f"{path}: {message}")
        self.message = message
        self.path = path


def type_name(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def expect_list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise SpecJsonError(f"expected an array, got {type_name(value)}", path)
    return value


def expect_str(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise SpecJsonError(f"expected a string, got {type_name(value)}", path)
    return value


def expect_int(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecJsonError(f"expected an integer, got {type_name(value)}", path)
    return value


def expect_size(value: Any, path: str) -> int:
    size = expect_int(value, path)
    if not 0 <= size <= MAX_SIZE:
        raise SpecJsonError(f"a size must be from 0 to {MAX_SIZE}", path)
    return size


class JsonObject:
    """A JSON object being read: typed field access, and ``finish`` refuses the fields nobody read."""

    def __init__(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise SpecJsonError(f"expected an object, got {type_name(value)}", path)
        self.value: dict[Any, Any] = value
        self.path = path
        self.used: set[str] = set()

    def at(self, key: object) -> str:
        return str(key) if self.path == "$" else f"{self.path}.{key}"

    def raw(self, key: str) -> Any:
        if key not in self.value:
            raise SpecJsonError("missing required field", self.at(key))
        self.used.add(key)
        return self.value[key]

    def optional(self, key: str, default: Any) -> Any:
        return self.raw(key) if key in self.value else default

    def integer(self, key: str, default: int | None = None) -> int:
        """A required integer, or with ``default`` an optional one (absent or null gives the default)."""
        value = self.raw(key) if default is None else self.optional(key, None)
        if value is None and default is not None:
            return default
        return expect_int(value, self.at(key))

    def size(self, key: str, default: int | None) -> int | None:
        value = self.optional(key, None)
        return default if value is None else expect_size(value, self.at(key))

    def string(self, key: str) -> str:
        return expect_str(self.raw(key), self.at(key))

    def finish(self, allowed: Sequence[str] = ()) -> None:
        unknown = sorted(str(k) for k in self.value if k not in self.used and k not in allowed)
        if unknown:
            raise SpecJsonError(f"unknown field {unknown[0]!r}", self.at(unknown[0]))


def read_input_path(obj: JsonObject, key: str) -> InputPath:
    """``obj[key]`` as an input path: the parameter name, then dict keys and tuple/list indices."""
    where = obj.at(key)
    keys = expect_list(obj.raw(key), where)
    if not keys:
        raise SpecJsonError("an input path needs at least the parameter name", where)
    return InputPath(tuple(_read_key(k, f"{where}[{j}]", first=j == 0) for j, k in enumerate(keys)))


def _read_key(value: Any, path: str, *, first: bool) -> Key:
    if isinstance(value, str):
        return value
    if first:
        raise SpecJsonError(f"expected the parameter name (a string), got {type_name(value)}", path)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecJsonError(f"expected a string or an integer, got {type_name(value)}", path)
    if not 0 <= value < MAX_SIZE:
        raise SpecJsonError("an index must be a non-negative integer", path)
    return value
