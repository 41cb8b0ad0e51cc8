"""An answer that is not a report: what went wrong, where in the request, and which limit."""

from __future__ import annotations


class ServiceError(Exception):
    """A request the service refuses, answered as ``ErrorModel`` with HTTP ``status``.

    ``kind`` is a stable machine-readable word (``limit_exceeded``, ``invalid_request`` ...), ``path``
    the JSON path of the offending value (``guardset.guards[3].expr``), ``limit`` the name of the
    server limit that was hit (``max_guards``) and ``limit_value`` its value.
    """

    def __init__(self, status: int, kind: str, message: str, path: str | None = None, limit: str | None = None,
                 limit_value: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message
        self.path = path
        self.limit = limit
        self.limit_value = limit_value

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.status} {self.kind}: {where}{self.message}"


def join_path(prefix: str, path: str) -> str:
    """``guardset`` + ``guards[3].expr`` -> ``guardset.guards[3].expr``; ``$`` is the prefix itself."""
    if path in ("", "$"):
        return prefix
    return f"{prefix}{path}" if path.startswith("[") else f"{prefix}.{path}"


def invalid(message: str, path: str | None = None) -> ServiceError:
    return ServiceError(422, "invalid_request", message, path)


def limit_exceeded(message: str, path: str | None, limit: str, value: int, status: int = 422) -> ServiceError:
    return ServiceError(status, "limit_exceeded", message, path, limit, value)
