"""Slack's Socket Mode side: `apps.connections.open`, the WebSocket link, envelopes and acks.

Written from Slack's documentation and SDKs (not copied):

* `apps.connections.open` (https://docs.slack.dev/reference/methods/apps.connections.open)
  takes an app-level token (`xapp-`, scope `connections:write`) in the Authorization header
  only ("passing it as a POST parameter will result in an error") and answers
  `{"ok": true, "url": "wss://..."}`: a one-time link. Here the link is `ws://` to this
  emulator. A bot token is refused (`not_allowed_token_type`, Slack's error for a token of
  the wrong kind).
* On connecting Slack sends `{"type": "hello", "num_connections": n, "debug_info": {...},
  "connection_info": {"app_id": ...}}`; an app may hold up to 10 connections, and each
  envelope goes to one of them
  (https://docs.slack.dev/apis/events-api/using-socket-mode, SLACK_NOTES).
* Envelopes, as in python-slack-sdk's tests/slack_sdk/socket_mode/mock_socket_mode_server.py:
  `{"envelope_id", "type": "events_api" | "slash_commands" | "interactive", "payload",
  "accepts_response_payload", "retry_attempt", "retry_reason"}` (the last two for events).
  The app acknowledges with `{"envelope_id", "payload"?}` (slack_sdk's SocketModeResponse);
  Bolt sends no acknowledgement when its listener failed (slack_bolt adapter/socket_mode
  async_internals.send_async_response), and Slack then sends the event again, with
  `retry_attempt` one higher, up to three times, as the Events API retries.
* `{"type": "disconnect", "reason": "refresh_requested"}` asks the app to connect anew;
  slack_sdk opens a new link (calling `apps.connections.open` again) and drops the old one.
  Slack closes the old connection a little later; envelopes it did not acknowledge are sent
  again elsewhere.

Stricter than Slack where it can be: a link works once, an envelope's acknowledgement must
name an envelope sent on that connection, and anything else the app sends is recorded as a
protocol problem (:attr:`SocketModeHub.problems`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect

MAX_CONNECTIONS = 10
EVENT_RETRIES = 3  # the Events API's: "up to three times"
LINK_PATH = "/_socket_mode/link"


@dataclass
class _Connection:
    id: int
    socket: WebSocket
    closed: bool = False


@dataclass(frozen=True)
class Ack:
    """What the app acknowledged an envelope with (`payload`: its answer, if any)."""

    envelope_id: str
    payload: dict[str, Any] | None
    attempts: int  # deliveries it took (1: acknowledged the first time)


class SocketModeHub:
    """The app's Socket Mode connections to this emulator, and envelope delivery over them."""

    def __init__(self, *, app_token: str, app_id: str, base_url: Callable[[], str]) -> None:
        self.app_token = app_token
        self.app_id = app_id
        self._base_url = base_url
        self._tickets: set[str] = set()
        self._connections: dict[int, _Connection] = {}
        self._ids = itertools.count(1)
        self._turn = itertools.count()
        self._changed = asyncio.Event()
        self.problems: list[str] = []
        self.envelopes: list[dict[str, Any]] = []  # every envelope sent, in order
        # Sent and not yet acknowledged: envelope_id -> waiter. An acknowledgement may come
        # over another of the app's connections (slack_sdk sends it on whichever is current
        # when its listener returns, e.g. after a refresh).
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._sent: set[str] = set()
        self.late_acks: list[str] = []  # acknowledged after Slack had given up waiting
        self.connections_opened = 0
        self._closing: set[asyncio.Future[None]] = set()

    # -- apps.connections.open ---------------------------------------------------------------

    def open_link(self, token: str | None, *, in_header: bool) -> tuple[int, dict[str, Any]]:
        """(HTTP status, body) of `apps.connections.open`."""
        if not token:
            return 200, {"ok": False, "error": "not_authed"}
        if not in_header:
            return 200, {"ok": False, "error": "invalid_auth"}
        if token != self.app_token:
            if token.startswith("xapp-"):
                return 200, {"ok": False, "error": "invalid_auth"}
            return 200, {"ok": False, "error": "not_allowed_token_type"}
        ticket = secrets.token_hex(8)
        self._tickets.add(ticket)
        ws_base = self._base_url().replace("http://", "ws://", 1)
        url = f"{ws_base}{LINK_PATH}/?ticket={ticket}&app_id={self.app_id}"
        return 200, {"ok": True, "url": url}

    # -- the link ----------------------------------------------------------------------------

    async def serve(self, socket: WebSocket, ticket: str | None) -> None:
        """One connection, from the handshake until either side closes it."""
        if ticket is None or ticket not in self._tickets:
            self.problems.append(f"a connection with an unknown or used ticket: {ticket!r}")
            await socket.close(code=1008)
            return
        self._tickets.discard(ticket)
        await socket.accept()
        if len(self._open()) >= MAX_CONNECTIONS:
            await socket.send_text(
                json.dumps({"type": "disconnect", "reason": "too_many_websockets"})
            )
            await socket.close()
            return
        connection = _Connection(id=next(self._ids), socket=socket)
        self._connections[connection.id] = connection
        self.connections_opened += 1
        await socket.send_text(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": len(self._open()),
                    "debug_info": {"host": "emulator", "approximate_connection_time": 18060},
                    "connection_info": {"app_id": self.app_id},
                }
            )
        )
        self._notify()
        try:
            while True:
                text = await socket.receive_text()
                self._read(connection, text)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            self._drop(connection)

    def _read(self, connection: _Connection, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            self.problems.append(f"not JSON: {text[:200]!r}")
            return
        envelope_id = str(message.get("envelope_id") or "") if isinstance(message, dict) else ""
        if envelope_id not in self._sent:
            self.problems.append(f"an acknowledgement of no envelope sent: {text[:200]!r}")
            return
        payload = message.get("payload")
        if payload is not None and not isinstance(payload, dict):
            self.problems.append(f"an acknowledgement whose payload is not an object: {text!r}")
            payload = None
        waiter = self._waiting.pop(envelope_id, None)
        if waiter is None or waiter.done():
            self.late_acks.append(envelope_id)
            return
        waiter.set_result(payload or {})

    def _drop(self, connection: _Connection) -> None:
        # Envelopes it was sent and did not acknowledge wait out their time, as Slack's do,
        # and an event goes out again then.
        connection.closed = True
        self._connections.pop(connection.id, None)
        self._notify()

    def _open(self) -> list[_Connection]:
        return [c for c in self._connections.values() if not c.closed]

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    @property
    def connection_count(self) -> int:
        return len(self._open())

    async def wait_for_connections(self, count: int = 1, *, within: float = 10.0) -> None:
        async with asyncio.timeout(within):
            while len(self._open()) < count:
                await self._changed.wait()

    # -- delivering --------------------------------------------------------------------------

    async def deliver(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        retry_attempt: int = 0,
        retry_reason: str = "",
        ack_within: float = 3.0,
        redeliver: bool = False,
    ) -> Ack | None:
        """Send one envelope to one connection and wait for its acknowledgement.

        `kind`: `events_api`, `slash_commands` or `interactive`. With `redeliver` an event
        that is not acknowledged in `ack_within` seconds (or whose connection closed) is sent
        again, up to EVENT_RETRIES times, as Slack does. None: never acknowledged.
        """
        attempts = 0
        while True:
            attempts += 1
            envelope_id = str(uuid.uuid4())
            envelope: dict[str, Any] = {
                "envelope_id": envelope_id,
                "payload": payload,
                "type": kind,
                "accepts_response_payload": kind != "events_api",
            }
            if kind == "events_api":
                envelope["retry_attempt"] = retry_attempt
                envelope["retry_reason"] = retry_reason
            answer = await self._send(envelope, ack_within)
            if answer is not None:
                return Ack(envelope_id=envelope_id, payload=answer or None, attempts=attempts)
            if not (redeliver and kind == "events_api") or retry_attempt >= EVENT_RETRIES:
                return None
            retry_attempt += 1
            retry_reason = "timeout"

    async def _send(self, envelope: dict[str, Any], ack_within: float) -> dict[str, Any] | None:
        envelope_id = envelope["envelope_id"]
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(ack_within):
                connection = await self._next_connection()
                self._waiting[envelope_id] = waiter
                self._sent.add(envelope_id)
                self.envelopes.append(envelope)
                with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                    await connection.socket.send_text(json.dumps(envelope))
                return await waiter
        except TimeoutError:
            return None
        finally:
            self._waiting.pop(envelope_id, None)

    async def _next_connection(self) -> _Connection:
        while not (open_now := self._open()):
            await self._changed.wait()
        return open_now[next(self._turn) % len(open_now)]

    # -- refreshing --------------------------------------------------------------------------

    async def refresh(self, *, close_after: float = 0.5) -> None:
        """Ask every connection to reconnect (`refresh_requested`), and close each after
        `close_after` seconds, as Slack does."""
        for connection in self._open():
            with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                await connection.socket.send_text(
                    json.dumps(
                        {
                            "type": "disconnect",
                            "reason": "refresh_requested",
                            "debug_info": {"host": "emulator"},
                        }
                    )
                )
            self._closing.add(asyncio.ensure_future(self._close(connection, after=close_after)))

    async def _close(self, connection: _Connection, *, after: float = 0.0) -> None:
        if after:
            await asyncio.sleep(after)
        if connection.closed:
            return
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await connection.socket.close()
        self._drop(connection)

    async def close_all(self) -> None:
        for closing in self._closing:
            closing.cancel()
        self._closing.clear()
        for connection in list(self._open()):
            await self._close(connection)
