"""Emitting webhook events: one outbox row per interested subscription, in the caller's
transaction, so an event is owed exactly when the change that caused it commits.

The lookup of subscribers is one indexed SELECT; with none (the common case) nothing else
happens, and a payload given as a callable is never even built.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.outbox.enums import OutboxKind
from app.outbox.service import enqueue
from app.tickets.models import Ticket
from app.webhooks.enums import DeliveryStatus, WebhookEventType
from app.webhooks.models import WebhookDelivery, WebhookSubscription
from app.workspaces.models import Workspace
from app.workspaces.settings import settings_read

# Spelled as the partial index's predicate, so SQLite uses that index (`active = 1` would not).
_ACTIVE = text("webhook_subscriptions.active")

EventData = dict[str, Any] | Callable[[], dict[str, Any]]


def timestamp(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z`, as every time in a webhook body is written."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def ticket_data(ticket: Ticket) -> dict[str, Any]:
    """The ticket as webhook bodies show it: small, and the same in every event."""
    return {
        "number": ticket.display_number,
        "subject": ticket.subject,
        "status": ticket.status.value,
        "priority": ticket.priority.value,
        "assignee": ticket.assignee_user_id,
        "requester": ticket.requester_user_id,
        "channel": ticket.channel_id,
        "account": ticket.account_name,
        "source": ticket.source.value,
        "external_id": ticket.external_id,
        "created_at": timestamp(ticket.created_at),
        "updated_at": timestamp(ticket.updated_at),
        "sla_state": ticket.sla_state,
    }


async def emit(
    *,
    session: AsyncSession,
    workspace_id: int,
    event_type: WebhookEventType,
    data: EventData,
    now: datetime,
) -> list[WebhookDelivery]:
    """Owe every active subscription of the workspace that asked for `event_type` this event.

    `data` is the body's `data` object, or a function building it (called only if someone is
    subscribed). Returns the deliveries queued (none, usually).
    """
    subscribers = await active_subscriptions(session=session, workspace_id=workspace_id)
    wanted = [row for row in subscribers if event_type.value in (row.event_types or ())]
    if not wanted:
        return []
    event_id = f"evt_{uuid.uuid4().hex}"
    body = json.dumps(
        {
            "id": event_id,
            "type": event_type.value,
            "created_at": timestamp(now),
            "workspace": wanted[0].slack_team_id,
            "data": data() if callable(data) else data,
        },
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return [
        await queue_delivery(
            session=session,
            workspace_id=workspace_id,
            subscription_id=row.id,
            url=row.url,
            event_id=event_id,
            event_type=event_type.value,
            body=body,
            now=now,
        )
        for row in wanted
    ]


async def active_subscriptions(*, session: AsyncSession, workspace_id: int) -> Sequence[Any]:
    """The workspace's active subscriptions (id, url, event types, team id), kept by each
    replica until they change (app/workspaces/settings.py)."""
    return await settings_read(
        session,
        workspace_id,
        ("webhook_subscriptions", workspace_id),
        lambda: _subscribers(session, workspace_id),
    )


async def _subscribers(session: AsyncSession, workspace_id: int) -> Sequence[Any]:
    return (
        await session.execute(
            select(
                WebhookSubscription.id,
                WebhookSubscription.url,
                WebhookSubscription.event_types,
                Workspace.slack_team_id,
            )
            .join(Workspace, Workspace.id == WebhookSubscription.workspace_id)
            .where(WebhookSubscription.workspace_id == workspace_id, _ACTIVE)
            .order_by(WebhookSubscription.id)
        )
    ).all()


async def emit_ticket_event(
    *,
    session: AsyncSession,
    ticket: Ticket,
    event_type: WebhookEventType,
    now: datetime,
    **extra: Any,
) -> None:
    """A ticket event: `data` is `{"ticket": {...}, **extra}`."""
    await emit(
        session=session,
        workspace_id=ticket.workspace_id,
        event_type=event_type,
        data=lambda: {"ticket": ticket_data(ticket), **extra},
        now=now,
    )


async def queue_delivery(
    *,
    session: AsyncSession,
    workspace_id: int,
    subscription_id: int,
    url: str,
    event_id: str,
    event_type: str,
    body: str,
    now: datetime,
    redelivery_of_id: int | None = None,
) -> WebhookDelivery:
    """One entry in the delivery log and the outbox row that sends it (signed at send time)."""
    delivery = WebhookDelivery(
        subscription_id=subscription_id,
        event_id=event_id,
        event_type=event_type,
        body=body,
        status=DeliveryStatus.PENDING,
        attempts=0,
        created_at=now,
        next_attempt_at=now,
        redelivery_of_id=redelivery_of_id,
    )
    session.add(delivery)
    await session.flush()
    message = await enqueue(
        session=session,
        kind=OutboxKind.WEBHOOK,
        target=url,
        payload={"delivery_id": delivery.id},
        now=now,
        workspace_id=workspace_id,
    )
    delivery.outbox_id = message.id
    return delivery
