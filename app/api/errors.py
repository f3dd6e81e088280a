"""The REST API's one error translator: every refusal is JSON `{"error": ..., "details": [...]}`.

Domain errors map by kind (not authenticated 401, not allowed 403, not found 404, invalid
transition 409, invalid input 422); FastAPI's own validation errors become a 422 whose message
names each bad field; a database that cannot be reached is a 503 the client retries. Services
never know about HTTP.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.db import is_database_unavailable
from app.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    InvalidTransition,
    NotAllowed,
    NotAuthenticated,
    NotFound,
)

logger = logging.getLogger(__name__)

STATUS_BY_ERROR: tuple[tuple[type[DomainError], int], ...] = (
    (NotAuthenticated, 401),
    (NotAllowed, 403),
    (NotFound, 404),
    (InvalidTransition, 409),
    (Conflict, 409),
    (InvalidInput, 422),
)
BEARER_CHALLENGE = {"WWW-Authenticate": "Bearer"}

_SENTENCES = {
    404: "There is no such endpoint.",
    405: "This endpoint does not take that method.",
    413: "The request body is too large.",
}


class ErrorDetail(BaseModel):
    field: str = Field(description="The bad field, dotted for nested ones.", examples=["limit"])
    location: str = Field(description="query, path, body or header.", examples=["query"])
    message: str = Field(examples=["Input should be less than or equal to 200"])


class ErrorBody(BaseModel):
    """Every error the API answers with."""

    error: str = Field(
        description="What went wrong, as a sentence (plain text; people as Slack user ids).",
        examples=["This API key lacks the tickets:write scope needed here."],
    )
    code: str | None = Field(
        default=None,
        description="What went wrong, for programs: e.g. not_found, not_allowed, not_on_team,"
        " invalid_transition, invalid_input.",
        examples=["not_allowed"],
    )
    details: list[ErrorDetail] | None = Field(
        default=None, description="One entry per bad field, for validation errors."
    )


class ApiError(Exception):
    """A refusal the adapter itself makes (not a domain rule), e.g. 503 before set-up."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


def error_response(
    status_code: int,
    message: str,
    details: Sequence[ErrorDetail] | None = None,
    headers: Mapping[str, str] | None = None,
    code: str | None = None,
) -> JSONResponse:
    body = ErrorBody(error=message, code=code, details=list(details) if details else None)
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=status_code, headers=headers
    )


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: the error statuses it may answer, documented with ErrorBody."""
    descriptions = {
        401: "No valid API key (missing, malformed, unknown or revoked).",
        403: "The API key lacks the scope this endpoint needs.",
        404: "No such ticket.",
        409: "The ticket's status does not allow this change.",
        413: "The request body is over the limit (MAX_BODY_BYTES, 1 MiB by default).",
        422: "A parameter or the body is invalid; `details` names each bad field.",
        503: "Try again shortly: the database is unavailable, or ticketbot is not connected to"
        " its Slack workspace yet.",
    }
    return {code: {"model": ErrorBody, "description": descriptions[code]} for code in codes}


def status_for(error: DomainError) -> int:
    for kind, status in STATUS_BY_ERROR:
        if isinstance(error, kind):
            return status
    return 400


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    status = status_for(exc)
    logger.info("%s %s refused: %s", request.method, request.url.path, type(exc).__name__)
    headers = BEARER_CHALLENGE if status == 401 else None
    message = exc.render(lambda user_id: user_id) or "That cannot be done."
    details = (
        [ErrorDetail(field=exc.field, location="body", message=message)] if exc.field else None
    )
    return error_response(status, message, details, headers=headers, code=exc.code)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [_detail(error) for error in exc.errors()]
    summary = "; ".join(f"{d.field}: {d.message}" for d in details)
    return error_response(422, f"Invalid request. {summary}.", details)


def _detail(error: Any) -> ErrorDetail:
    """One bad field from pydantic's report: `status[0]` in the query, `priority` in the body."""
    location, *path = list(error.get("loc", ())) or ["body"]
    if error.get("type") == "json_invalid":
        reason = (error.get("ctx") or {}).get("error", "")
        message = f"not valid JSON ({reason})" if reason else "not valid JSON"
        return ErrorDetail(field="body", location="body", message=message)
    if not path and error.get("type") in ("model_attributes_type", "dict_type"):
        return ErrorDetail(field="body", location="body", message="must be a JSON object")
    field = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    given = error.get("input")
    if isinstance(given, str | int | float) and not isinstance(given, bool):
        shown = repr(given)
        if len(shown) <= 60 and shown not in message:
            message += f" (got {shown})"
    return ErrorDetail(
        field=field.removeprefix(".") or str(location), location=str(location), message=message
    )


# FastAPI's words (answered with 400) for a body it cannot even decode: bytes that are not
# UTF-8 JSON. Answered like any other invalid body, with the documented 422.
_UNPARSABLE_BODY = "There was an error parsing the body"


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    if exc.status_code == 400 and detail == _UNPARSABLE_BODY:
        return error_response(
            422,
            "Invalid request. body: not valid JSON.",
            [ErrorDetail(field="body", location="body", message="not valid UTF-8 JSON")],
        )
    default_phrase = detail is None or detail.lower() in {"not found", "method not allowed"}
    message = _SENTENCES.get(exc.status_code) if default_phrase else detail
    return error_response(
        exc.status_code, message or detail or "Request refused.", headers=exc.headers
    )


async def _out_of_range(request: Request, exc: Exception) -> JSONResponse:
    """A number too large for the database (SQLite's driver raises before the query runs)."""
    logger.info("%s %s: number out of range", request.method, request.url.path)
    return error_response(422, "Invalid request. A number in it is out of range.")


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status_code, exc.message)


async def _database_unavailable(request: Request, exc: Exception) -> Response:
    """The database could not be reached: 503 with one log line, so the client retries. A
    write that lost a race to a unique constraint (two requests opening a ticket from one
    message at the same moment) is a 409: sent again, it finds what the other one stored."""
    if isinstance(exc, IntegrityError):
        logger.info("%s %s answered 409: a concurrent write won", request.method, request.url.path)
        return error_response(
            409,
            "A concurrent request changed this at the same moment; send it again.",
            code="conflict",
        )
    if not is_database_unavailable(exc):
        raise exc  # a bug, not an outage: the server's own 500, with its traceback
    logger.warning(
        "%s %s answered 503: the database is unavailable (%s)",
        request.method,
        request.url.path,
        type(exc).__name__,
    )
    return error_response(
        503, "The database is unavailable; try again shortly.", headers={"Retry-After": "5"}
    )


def register_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(OverflowError, _out_of_range)
    app.add_exception_handler(DBAPIError, _database_unavailable)
    app.add_exception_handler(PoolTimeout, _database_unavailable)
    # A connection the driver could not open at all is raised unwrapped (asyncpg).
    app.add_exception_handler(ConnectionError, _database_unavailable)
