"""Managing webhook subscriptions and reading their delivery log.

A subscription's secret is made here and returned once, at creation; it is kept (not hashed)
because every delivery is signed with it. Deleting or disabling a subscription cancels what is
still owed to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import InvalidInput, InvalidTransition, NotFound
from app.outbox.enums import OutboxStatus
from app.outbox.models import OutboxMessage
from app.webhooks.enums import DeliveryStatus, WebhookEventType
from app.webhooks.events import queue_delivery
from app.webhooks.models import WebhookDelivery, WebhookSubscription
from app.webhooks.signing import new_secret
from app.workspaces.settings import settings_changed

MAX_URL_LENGTH = 2048
MAX_DESCRIPTION_LENGTH = 255
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_WEBHOOK_ID = 2**31 - 1  # INTEGER
MAX_DELIVERY_ID = 2**63 - 1  # BIGINT


@dataclass(frozen=True)
class CreatedSubscription:
    """A new subscription and its signing secret, returned to the caller this once."""

    subscription: WebhookSubscription
    secret: str


@dataclass(frozen=True)
class DeliveryPage:
    deliveries: list[WebhookDelivery]
    next_cursor: str | None


def check_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if (
        parts.scheme not in ("https", "http")
        or not parts.hostname
        or any(c.isspace() or not c.isprintable() for c in url)
    ):
        raise InvalidInput(f"A webhook URL must be an http(s) URL with a host; not {url!r}.")
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput(f"A webhook URL is at most {MAX_URL_LENGTH} characters.")
    if parts.username or parts.password:
        raise InvalidInput("A webhook URL must not carry credentials; deliveries are signed.")
    return url


def check_event_types(names: Iterable[str]) -> list[str]:
    """The event types asked for, each known, in a stable order; at least one."""
    wanted: set[WebhookEventType] = set()
    for name in names:
        try:
            wanted.add(WebhookEventType(name.strip()))
        except ValueError:
            choices = ", ".join(event.value for event in WebhookEventType)
            raise InvalidInput(f"Unknown event type {name!r}; choose from {choices}.") from None
    if not wanted:
        raise InvalidInput("A webhook needs at least one event type.")
    return [event.value for event in WebhookEventType if event in wanted]


def _check_description(description: str) -> str:
    description = description.strip()
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise InvalidInput(f"A description is at most {MAX_DESCRIPTION_LENGTH} characters.")
    return description


async def create_subscription(
    *,
    session: AsyncSession,
    workspace_id: int,
    url: str,
    event_types: Sequence[str],
    description: str = "",
    now: datetime,
) -> CreatedSubscription:
    await settings_changed(session, workspace_id)
    secret = new_secret()
    subscription = WebhookSubscription(
        workspace_id=workspace_id,
        url=check_url(url),
        description=_check_description(description),
        event_types=check_event_types(event_types),
        secret=secret,
        active=True,
        created_at=now,
        updated_at=now,
    )
    session.add(subscription)
    await session.flush()
    return CreatedSubscription(subscription=subscription, secret=secret)


async def list_subscriptions(
    *, session: AsyncSession, workspace_id: int
) -> list[WebhookSubscription]:
    return list(
        await session.scalars(
            select(WebhookSubscription)
            .where(WebhookSubscription.workspace_id == workspace_id)
            .order_by(WebhookSubscription.id)
        )
    )


async def get_subscription(
    *, session: AsyncSession, workspace_id: int, subscription_id: int, for_update: bool = False
) -> WebhookSubscription:
    if not 1 <= subscription_id <= MAX_WEBHOOK_ID:
        raise NotFound(f"Webhook {subscription_id} does not exist.")
    query = select(WebhookSubscription).where(
        WebhookSubscription.id == subscription_id,
        WebhookSubscription.workspace_id == workspace_id,
    )
    if for_update:
        query = query.with_for_update(key_share=True)
    subscription = await session.scalar(query)
    if subscription is None:
        raise NotFound(f"Webhook {subscription_id} does not exist.")
    return subscription


async def update_subscription(
    *,
    session: AsyncSession,
    subscription: WebhookSubscription,
    now: datetime,
    url: str | None = None,
    event_types: Sequence[str] | None = None,
    active: bool | None = None,
    description: str | None = None,
) -> WebhookSubscription:
    """Change what is given; a disabled subscription is owed nothing more (pending deliveries
    are cancelled), and enabling it again only sends events from then on."""
    await settings_changed(session, subscription.workspace_id)
    if url is not None:
        subscription.url = check_url(url)
    if event_types is not None:
        subscription.event_types = check_event_types(event_types)
    if description is not None:
        subscription.description = _check_description(description)
    if active is not None and active != subscription.active:
        subscription.active = active
        subscription.disabled_at = None if active else now
        if not active:
            await _cancel_pending(session, subscription.id, now, "the webhook was disabled")
    subscription.updated_at = now
    return subscription


async def delete_subscription(
    *, session: AsyncSession, subscription: WebhookSubscription, now: datetime
) -> None:
    """Delete it and its delivery log; nothing still owed to it is sent."""
    await settings_changed(session, subscription.workspace_id)
    await _cancel_pending(session, subscription.id, now, "the webhook was deleted")
    await session.delete(subscription)
    await session.flush()


async def _cancel_pending(
    session: AsyncSession, subscription_id: int, now: datetime, reason: str
) -> None:
    pending = select(WebhookDelivery.outbox_id).where(
        WebhookDelivery.subscription_id == subscription_id,
        WebhookDelivery.status == DeliveryStatus.PENDING,
        WebhookDelivery.outbox_id.is_not(None),
    )
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(pending), OutboxMessage.status == OutboxStatus.PENDING)
        .values(status=OutboxStatus.CANCELLED, last_error=reason)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.subscription_id == subscription_id,
            WebhookDelivery.status == DeliveryStatus.PENDING,
        )
        .values(status=DeliveryStatus.CANCELLED, last_error=reason, next_attempt_at=None)
        .execution_options(synchronize_session=False)
    )


async def list_deliveries(
    *,
    session: AsyncSession,
    subscription: WebhookSubscription,
    limit: int = DEFAULT_PAGE_SIZE,
    cursor: str | None = None,
) -> DeliveryPage:
    """The subscription's deliveries, newest first, `limit` at a time."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE_SIZE}.")
    query = select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription.id)
    if cursor:
        if not cursor.isdigit() or int(cursor) > MAX_DELIVERY_ID:
            raise InvalidInput("cursor must be the next_cursor of a previous page.")
        query = query.where(WebhookDelivery.id < int(cursor))
    rows = list(await session.scalars(query.order_by(WebhookDelivery.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return DeliveryPage(deliveries=rows, next_cursor=str(rows[-1].id) if more else None)


async def redeliver(
    *,
    session: AsyncSession,
    subscription: WebhookSubscription,
    delivery_id: int,
    now: datetime,
) -> WebhookDelivery:
    """Send a delivery's event again (same event id, same body) as a new delivery."""
    original = await session.scalar(
        select(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.subscription_id == subscription.id,
        )
    )
    if original is None:
        raise NotFound(f"Webhook {subscription.id} has no delivery {delivery_id}.")
    if not subscription.active:
        raise InvalidTransition(f"Webhook {subscription.id} is disabled; enable it to redeliver.")
    return await queue_delivery(
        session=session,
        workspace_id=subscription.workspace_id,
        subscription_id=subscription.id,
        url=subscription.url,
        event_id=original.event_id,
        event_type=original.event_type,
        body=original.body,
        now=now,
        redelivery_of_id=original.id,
    )
