"""Handlers told about a delivery's result, in the transaction that records it as delivered.

This is how "what Slack returned" reaches the row that needs it: the triage card's `ts` is
stored on its ticket so later changes edit the card instead of posting a new one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

DeliveryHandler = Callable[
    [AsyncSession, dict[str, Any], dict[str, Any], datetime], Awaitable[None]
]
"""(session, the row's on_delivered_args, the delivery's result, now) -> None"""


class DeliveryHandlers:
    def __init__(self) -> None:
        self._handlers: dict[str, DeliveryHandler] = {}

    def register(self, name: str, handler: DeliveryHandler) -> None:
        if name in self._handlers:
            raise ValueError(f"delivery handler {name!r} registered twice")
        self._handlers[name] = handler

    def get(self, name: str) -> DeliveryHandler:
        try:
            return self._handlers[name]
        except KeyError:
            raise LookupError(f"no delivery handler named {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._handlers
