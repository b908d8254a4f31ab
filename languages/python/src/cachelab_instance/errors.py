"""The HTTP errors of the instance: one catalogue of codes, as ``packages/app/src/errors.ts``."""

from __future__ import annotations

from typing import Final

#: Stable codes of the errors the API returns in ``{"error": {"code", "message"}}``.
INVALID_ID: Final = "E_INVALID_ID"
INVALID_BODY: Final = "E_INVALID_BODY"
INVALID_JSON: Final = "E_INVALID_JSON"
INVALID_HEADER: Final = "E_INVALID_HEADER"
INVALID_QUERY: Final = "E_INVALID_QUERY"
BODY_TOO_LARGE: Final = "E_BODY_TOO_LARGE"
HEADERS_TOO_LARGE: Final = "E_HEADERS_TOO_LARGE"
UNSUPPORTED_MEDIA_TYPE: Final = "E_UNSUPPORTED_MEDIA_TYPE"
BAD_REQUEST: Final = "E_BAD_REQUEST"
USER_NOT_FOUND: Final = "E_USER_NOT_FOUND"
VERSION_UNAVAILABLE: Final = "E_VERSION_UNAVAILABLE"
PRECONDITION_FAILED: Final = "E_PRECONDITION_FAILED"
ROUTE_NOT_FOUND: Final = "E_ROUTE_NOT_FOUND"
METHOD_NOT_ALLOWED: Final = "E_METHOD_NOT_ALLOWED"
DB_UNAVAILABLE: Final = "E_DB_UNAVAILABLE"
OVERLOADED: Final = "E_OVERLOADED"
INTERNAL: Final = "E_INTERNAL"


class HttpError(Exception):
    """An error that maps to one HTTP answer: its status, a stable code, a message for clients."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def invalid_body(message: str) -> HttpError:
    """A 400 ``E_INVALID_BODY`` naming what is wrong with the body."""
    return HttpError(400, INVALID_BODY, message)


def invalid_header(message: str) -> HttpError:
    """A 400 ``E_INVALID_HEADER``."""
    return HttpError(400, INVALID_HEADER, message)


def db_unavailable() -> HttpError:
    """A 503 ``E_DB_UNAVAILABLE`` (the answer carries ``Retry-After: 1``)."""
    return HttpError(503, DB_UNAVAILABLE, "the database is unavailable; retry shortly")
