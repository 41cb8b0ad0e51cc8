"""Typed access to an untrusted JSON document, with the JSON path in every error.

Spec documents, traced-input records, GuardSets from the cache and service requests are all read
from JSON nobody vouches for. A wrong value must be an error naming where it is
(``guards[3].expr``, ``dims[2].root``), never a ``KeyError`` or ``TypeError`` from deep inside a
reader; every field access goes through ``JsonObject`` so that holds by construction. Each
document kind raises its own subclass of ``JsonPathError`` (chosen by ``JsonObject.error``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, TypeVar

T = TypeVar("T")


class JsonPathError(ValueError):
    """Invalid JSON for its document kind; ``path`` locates the bad value (``$`` for the root)."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(f"{path}: {message}")
        self.message = message
        self.path = path


def load_json(text: str | bytes, error: type[JsonPathError] = JsonPathError) -> Any:
    """``json.loads``, with its refusals as ``error`` at ``$`` in words a client can act on (Python's
    own say "use sys.set_int_max_str_digits()" for a number of 5,000 digits)."""
    import json

    try:
        return json.loads(text)
    except RecursionError:
        raise error("not valid JSON: nested too deeply", "$") from None
    except ValueError as exc:
        reason = str(exc)
        if "integer string conversion" in reason:
            reason = "a number has more digits than Python reads (4,300)"
        raise error(f"not valid JSON: {reason}", "$") from None


def join_path(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return key if path == "$" else f"{path}.{key}"


def type_name(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def expect_int(value: Any, path: str, error: type[JsonPathError] = JsonPathError) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise error(f"expected an integer, got {type_name(value)}", path)
    return value


def expect_str(value: Any, path: str, error: type[JsonPathError] = JsonPathError) -> str:
    if not isinstance(value, str):
        raise error(f"expected a string, got {type_name(value)}", path)
    return value


def expect_list(value: Any, path: str, error: type[JsonPathError] = JsonPathError) -> list[Any]:
    if not isinstance(value, list):
        raise error(f"expected an array, got {type_name(value)}", path)
    return value


class JsonObject:
    """A JSON object being read: typed field access, and ``finish`` refuses the fields nobody read."""

    error: ClassVar[type[JsonPathError]] = JsonPathError

    def __init__(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise self.error(f"expected an object, got {type_name(value)}", path)
        self.value: dict[Any, Any] = value
        self.path = path
        self.used: set[str] = set()

    def at(self, key: str | int) -> str:
        return join_path(self.path, key)

    def raw(self, key: str) -> Any:
        if key not in self.value:
            raise self.error("missing required field", self.at(key))
        self.used.add(key)
        return self.value[key]

    def optional(self, key: str, default: Any) -> Any:
        return self.raw(key) if key in self.value else default

    def integer(self, key: str, default: int | None = None) -> int:
        """A required integer, or with ``default`` an optional one (absent or null gives the default)."""
        value = self.raw(key) if default is None else self.optional(key, None)
        if value is None and default is not None:
            return default
        return expect_int(value, self.at(key), self.error)

    def string(self, key: str, default: str | None = None) -> str:
        value = self.raw(key) if default is None else self.optional(key, default)
        return expect_str(value, self.at(key), self.error)

    def boolean(self, key: str) -> bool:
        value = self.raw(key)
        if not isinstance(value, bool):
            raise self.error(f"expected true or false, got {type_name(value)}", self.at(key))
        return value

    def array(self, key: str, read: Callable[[Any, str], T]) -> list[T]:
        value = expect_list(self.raw(key), self.at(key), self.error)
        return [read(item, join_path(self.at(key), i)) for i, item in enumerate(value)]

    def finish(self, allowed: Sequence[str] = ()) -> None:
        unknown = sorted(str(k) for k in self.value if k not in self.used and k not in allowed)
        if unknown:
            raise self.error(f"unknown field {unknown[0]!r}", self.at(unknown[0]))
