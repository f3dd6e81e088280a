"""A webhook receiver for tests: an HTTP server on a free local port that records every request,
answers what it is told to (500, 429 with Retry-After, 410, ...), and can go down and come back
on the same port."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)

    def signed_with(self, secret: str) -> bool:
        """True if the signature headers check out for `secret` (as a receiver would check)."""
        timestamp = self.headers["X-Ticketbot-Timestamp"]
        digest = hmac.new(
            secret.encode(), f"{timestamp}.".encode() + self.body, hashlib.sha256
        ).hexdigest()
        return hmac.compare_digest(self.headers["X-Ticketbot-Signature"], f"v1={digest}")


@dataclass
class _Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self._script: list[_Answer] = []
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/ticketbot"

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port or 0, reuse_address=True)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        """Go down: connections are refused until `start()` again (on the same port)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def answer_next(
        self, status: int, *, times: int = 1, headers: dict[str, str] | None = None, body: str = ""
    ) -> None:
        self._script.extend(_Answer(status, dict(headers or {}), body) for _ in range(times))

    def delivered(self) -> list[Received]:
        return [request for request in self.requests if 200 <= request.answered < 300]

    def delivered_types(self) -> list[str]:
        return [request.json["type"] for request in self.delivered()]

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        answer = self._script.pop(0) if self._script else _Answer(200, body="ok")
        self.requests.append(Received(request.path, dict(request.headers), body, answer.status))
        return web.Response(status=answer.status, headers=answer.headers, text=answer.body)
