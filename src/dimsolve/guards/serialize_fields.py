"""Typed access to an untrusted GuardSet JSON document, with the JSON path in every error.

Reading a cache entry or a service request must fail with ``GuardSetFormatError`` naming the bad
value (``guards[3].expr``), never with a ``KeyError`` or ``TypeError`` from deep inside the
reader: the shared ``dimsolve.json_fields`` reader, raising this module's error class.
"""

from __future__ import annotations

from functools import partial

from dimsolve import json_fields
from dimsolve.json_fields import JsonPathError, join_path, type_name

__all__ = ["SCHEMA_VERSION", "GuardSetFormatError", "JsonObject", "expect_int", "expect_str", "join_path",
           "type_name"]

SCHEMA_VERSION = 1


class GuardSetFormatError(JsonPathError):
    """JSON that is not a valid ``GuardSet``; ``path`` locates the bad value (``guards[3].expr``, ``$`` for the root)."""


class JsonObject(json_fields.JsonObject):
    error = GuardSetFormatError


expect_int = partial(json_fields.expect_int, error=GuardSetFormatError)
expect_str = partial(json_fields.expect_str, error=GuardSetFormatError)
