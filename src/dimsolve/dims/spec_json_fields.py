"""Typed access to an untrusted spec JSON document, with the JSON path in every error.

The spec form and the traced-inputs record come from tools and service requests; a wrong value
must be a ``SpecJsonError`` naming where it is (``dims[2].root``), never a ``KeyError`` or
``TypeError`` from deep inside the reader: the shared ``dimsolve.json_fields`` reader, raising
this module's error class, plus the spec's own value kinds (sizes, input paths).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from dimsolve import json_fields
from dimsolve.dims.model import InputPath, Key
from dimsolve.json_fields import JsonPathError, type_name

SCHEMA_VERSION = 1
MAX_SIZE = 2**63 - 1  # torch sizes are int64


class SpecJsonError(JsonPathError):
    """JSON that is not a valid spec; ``path`` locates the bad value (``dims[2].root``, ``$`` for the root)."""


expect_list = partial(json_fields.expect_list, error=SpecJsonError)
expect_str = partial(json_fields.expect_str, error=SpecJsonError)
expect_int = partial(json_fields.expect_int, error=SpecJsonError)


def expect_size(value: Any, path: str) -> int:
    size = expect_int(value, path)
    if not 0 <= size <= MAX_SIZE:
        raise SpecJsonError(f"a size must be from 0 to {MAX_SIZE}", path)
    return size


class JsonObject(json_fields.JsonObject):
    error = SpecJsonError

    def size(self, key: str, default: int | None) -> int | None:
        value = self.optional(key, None)
        return default if value is None else expect_size(value, self.at(key))


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
