"""Delivers `webhook` outbox rows: one signed POST each, its outcome classified, and every
attempt written to the delivery log.

The row carries only the delivery's id. The body, the URL and the secret are read at send
time, so a rotated secret or a changed URL applies to deliveries still owed, and a deleted or
disabled subscription is sent nothing more.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.clock import Clock
from app.outbox.delivery import Attempt, DeliveryOutcome, RetryPolicy, retry_after_seconds
from app.outbox.enums import OutboxKind, OutboxStatus
from app.outbox.handlers import DeliveryHandlers
from app.outbox.models import OutboxMessage
from app.webhooks.enums import DeliveryStatus
from app.webhooks.models import WebhookDelivery, WebhookSubscription
from app.webhooks.signing import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature,
)

USER_AGENT = "ticketbot-webhooks/1"
# Enough of a refusal's body to say why in the delivery log; the rest is never read.
RESPONSE_EXCERPT_BYTES = 512

_STATUS_OF_ROW = {
    OutboxStatus.PENDING: DeliveryStatus.PENDING,
    OutboxStatus.DELIVERED: DeliveryStatus.DELIVERED,
    OutboxStatus.FAILED: DeliveryStatus.FAILED,
    OutboxStatus.CANCELLED: DeliveryStatus.CANCELLED,
}


def webhook_retry_policy(
    *, window: timedelta, backoff_cap_seconds: float, max_attempts: int
) -> RetryPolicy:
    """Receivers may be down for a while: retry for `window` (a day), at most an hour apart."""
    return RetryPolicy(
        max_attempts=max_attempts, backoff_cap_seconds=backoff_cap_seconds, give_up_after=window
    )


def build_http_client(timeout_seconds: float) -> httpx.AsyncClient:
    """The one client all webhook POSTs share (its connection pool is per process)."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_seconds),
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
    )


class WebhookSender:
    def __init__(
        self,
        client: httpx.AsyncClient,
        session_factory: async_sessionmaker[AsyncSession],
        clock: Clock,
    ) -> None:
        self._client = client
        self._session_factory = session_factory
        self._clock = clock

    async def send(self, target: str, payload: dict[str, Any], attempt: Attempt) -> DeliveryOutcome:
        """Receivers dedupe on the event id (the body's `id`), so a repeat is harmless."""
        async with self._session_factory() as session:
            found = (
                await session.execute(
                    select(
                        WebhookDelivery.event_id,
                        WebhookDelivery.event_type,
                        WebhookDelivery.body,
                        WebhookSubscription.url,
                        WebhookSubscription.secret,
                        WebhookSubscription.active,
                    )
                    .join(
                        WebhookSubscription,
                        WebhookSubscription.id == WebhookDelivery.subscription_id,
                    )
                    .where(WebhookDelivery.id == payload.get("delivery_id"))
                )
            ).first()
        if found is None:
            return DeliveryOutcome.cancelled("the webhook was deleted")
        if not found.active:
            return DeliveryOutcome.cancelled("the webhook was disabled")
        body = found.body.encode()
        sent_at = str(int(self._clock.now().timestamp()))
        headers = {
            "Content-Type": "application/json",
            EVENT_HEADER: found.event_type,
            DELIVERY_HEADER: found.event_id,
            TIMESTAMP_HEADER: sent_at,
            SIGNATURE_HEADER: signature(found.secret, sent_at, body),
        }
        try:
            async with self._client.stream(
                "POST", found.url, content=body, headers=headers
            ) as response:
                excerpt = await _excerpt(response)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            return DeliveryOutcome.rejected(f"bad webhook URL: {exc}")
        except httpx.TimeoutException as exc:
            return DeliveryOutcome.retry(f"timed out: {type(exc).__name__}")
        except httpx.TransportError as exc:
            reason = str(exc) or type(exc).__name__
            return DeliveryOutcome.retry(f"could not reach the receiver: {reason}")
        return self._classify(response, excerpt)

    def _classify(self, response: httpx.Response, excerpt: str) -> DeliveryOutcome:
        status = response.status_code
        said = f"receiver answered {status}" + (f": {excerpt}" if excerpt else "")
        if 200 <= status < 300:
            return DeliveryOutcome.delivered({"status_code": status}, status_code=status)
        if status in (408, 429) or status >= 500:
            return DeliveryOutcome.retry(
                said, status_code=status, retry_after=self._retry_after(response)
            )
        return DeliveryOutcome.rejected(said, status_code=status)

    def _retry_after(self, response: httpx.Response) -> float | None:
        return retry_after_seconds(response.headers.get("retry-after"), self._clock.now())


async def _excerpt(response: httpx.Response) -> str:
    if 200 <= response.status_code < 300:
        return ""
    taken = b""
    async for chunk in response.aiter_bytes():
        taken += chunk
        if len(taken) >= RESPONSE_EXCERPT_BYTES:
            break
    text = taken[:RESPONSE_EXCERPT_BYTES].decode("utf-8", errors="replace")
    return " ".join(text.split())[:200]


async def record_attempt(session: AsyncSession, row: OutboxMessage, now: datetime) -> None:
    """Copy the attempt's outcome from the outbox row to the delivery log (same transaction)."""
    delivery_id = (row.payload or {}).get("delivery_id")
    delivery = await session.get(WebhookDelivery, delivery_id) if delivery_id else None
    if delivery is None:
        return  # deleted with its subscription
    delivery.status = _STATUS_OF_ROW[row.status]
    delivery.attempts = row.attempts
    delivery.last_attempt_at = now
    delivery.last_status_code = row.last_status_code
    delivery.last_error = row.last_error
    delivery.next_attempt_at = row.next_attempt_at if row.status is OutboxStatus.PENDING else None
    if row.status is OutboxStatus.DELIVERED:
        delivery.delivered_at = row.delivered_at


def register_webhook_delivery_handlers(handlers: DeliveryHandlers) -> None:
    handlers.on_attempt(OutboxKind.WEBHOOK, record_attempt)
