"""Refuse request bodies over a limit with 413, before they are read into memory.

Pure ASGI, in front of every endpoint: a declared Content-Length over the limit is refused at
once, unread; a body streamed without one (chunked) is counted as it arrives and refused as soon
as it passes the limit. Each path prefix may have its own limit (Slack's requests are small);
every other path gets the default. Each refusal logs one warning line. The rest of a refused
body is never held: a declared one is not read at all (the connection closes), a streamed one is
read on by the server and dropped, so that the client, still sending, gets its 413.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.errors import error_response

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024


class BodyTooLarge(HTTPException):
    """Raised from `receive`; FastAPI lets HTTPExceptions from the body read through, so the
    app's error handler answers it."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than the limit of {_size(limit)}.")


class BodyLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int = MAX_BODY_BYTES,
        limits: Mapping[str, int] | None = None,
    ) -> None:
        """`max_bytes` for every path; `limits` maps a path prefix (`/slack/`) to its own."""
        self.app = app
        self.max_bytes = max_bytes
        self.limits = dict(limits or {})

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.limits.items():
            if path.startswith(prefix):
                return limit
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _content_length(Headers(scope=scope).get("content-length"))
        if declared is not None and declared > limit:
            _log_refusal(scope, limit, f"declares {declared} bytes")
            await _refuse(limit, scope, receive, send)
            return
        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    if not exceeded:
                        exceeded = True
                        _log_refusal(scope, limit, f"passed it after {received} bytes")
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await _refuse(limit, scope, receive, send)


async def _refuse(limit: int, scope: Scope, receive: Receive, send: Send) -> None:
    response = error_response(413, str(BodyTooLarge(limit).detail))
    response.headers["Connection"] = "close"
    await response(scope, receive, send)


def _log_refusal(scope: Scope, limit: int, what: str) -> None:
    logger.warning(
        "%s %s refused with 413: the body is over the limit of %s (it %s)",
        scope["method"],
        scope["path"],
        _size(limit),
        what,
    )


def _content_length(value: str | None) -> int | None:
    """The declared length, or None if there is none (or it is not a plain number; the server
    refuses those before the app sees them)."""
    if value is None or not (value.isascii() and value.isdigit()):
        return None
    return int(value)


def _size(limit: int) -> str:
    for unit, size in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if limit % size == 0:
            return f"{limit // size} {unit}"
    return f"{limit} bytes"
