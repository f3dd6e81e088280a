"""Handlers told about a delivery's result, in the transaction that records it as delivered.

This is how "what Slack returned" reaches the row that needs it: the triage card's `ts` is
stored on its ticket so later changes edit the card instead of posting a new one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.outbox.enums import OutboxKind
from app.outbox.models import OutboxMessage

DeliveryHandler = Callable[
    [AsyncSession, dict[str, Any], dict[str, Any], datetime], Awaitable[None]
]
"""(session, the row's on_delivered_args, the delivery's result, now) -> None"""

HandlerPrepare = Callable[[AsyncSession, list[dict[str, Any]]], Awaitable[object]]
"""(session, the on_delivered_args of every row of one batch with this handler) -> whatever it
loaded: what the handlers of a batch each read, read at once before they run (e.g. their
tickets, which `session.get` then finds loaded). The dispatcher keeps the answer until the
batch is recorded, so the session's identity map keeps what it loaded."""

AttemptHook = Callable[[AsyncSession, OutboxMessage, datetime], Awaitable[None]]
"""(session, the row as just recorded, now) -> None: told about every attempt at a row of one
kind, whatever its outcome (the webhook delivery log is kept this way); or, registered with a
delivered-handler, told when a row of that handler has failed for good."""


class DeliveryHandlers:
    def __init__(self) -> None:
        self._handlers: dict[str, DeliveryHandler] = {}
        self._prepares: dict[str, HandlerPrepare] = {}
        self._attempt_hooks: dict[OutboxKind, AttemptHook] = {}
        self._failed_hooks: dict[str, AttemptHook] = {}

    def register(
        self,
        name: str,
        handler: DeliveryHandler,
        *,
        prepare: HandlerPrepare | None = None,
        failed: AttemptHook | None = None,
    ) -> None:
        """`handler` is told about a row's result when it is delivered; `failed`, if given,
        when a row of this handler has failed for good instead."""
        if name in self._handlers:
            raise ValueError(f"delivery handler {name!r} registered twice")
        self._handlers[name] = handler
        if prepare is not None:
            self._prepares[name] = prepare
        if failed is not None:
            self._failed_hooks[name] = failed

    def failed_hook(self, name: str) -> AttemptHook | None:
        return self._failed_hooks.get(name)

    def prepare_for(self, name: str) -> HandlerPrepare | None:
        return self._prepares.get(name)

    def get(self, name: str) -> DeliveryHandler:
        try:
            return self._handlers[name]
        except KeyError:
            raise LookupError(f"no delivery handler named {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._handlers

    def on_attempt(self, kind: OutboxKind, hook: AttemptHook) -> None:
        if kind in self._attempt_hooks:
            raise ValueError(f"attempt hook for {kind} registered twice")
        self._attempt_hooks[kind] = hook

    def attempt_hook(self, kind: OutboxKind) -> AttemptHook | None:
        return self._attempt_hooks.get(kind)
