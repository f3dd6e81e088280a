"""Builders for webhook tests: subscriptions made through the API, inbound requests signed as a
sending system would sign them, and the delivery log read back."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from app.apikeys.scopes import Scope
from app.webhooks.inbound import add_source
from app.webhooks.models import WebhookDelivery
from app.workspaces.models import Workspace
from tests.api.helpers import api_client, api_key, service_tickets
from tests.support.server import RunningApp, wait_until


async def manager(app: RunningApp) -> httpx.AsyncClient:
    return api_client(app, await api_key(app, Scope.WEBHOOKS_MANAGE, name="webhooks"))


async def subscribe(app: RunningApp, url: str, *events: str) -> tuple[int, str]:
    """A webhook for `events` (default: all of them); returns (id, secret)."""
    from app.webhooks.enums import WebhookEventType

    wanted = list(events) or [event.value for event in WebhookEventType]
    async with await manager(app) as client:
        answer = await client.post("/api/webhooks", json={"url": url, "events": wanted})
    assert answer.status_code == 201, answer.text
    return answer.json()["id"], answer.json()["secret"]


async def delivery_log(app: RunningApp, webhook_id: int | None = None) -> list[WebhookDelivery]:
    """Every delivery (of one webhook, if given), oldest first."""
    async with app.runtime.session_factory() as session:
        query = select(WebhookDelivery).order_by(WebhookDelivery.id)
        if webhook_id is not None:
            query = query.where(WebhookDelivery.subscription_id == webhook_id)
        return list(await session.scalars(query))


async def attempted(app: RunningApp, count: int = 1, *, attempts: int = 1) -> list[WebhookDelivery]:
    """Wait until `count` deliveries exist and each was tried at least `attempts` times."""

    async def ready() -> list[WebhookDelivery] | None:
        log = await delivery_log(app)
        return log if len(log) >= count and all(d.attempts >= attempts for d in log) else None

    return await wait_until(ready, message=f"{count} deliveries attempted")


async def open_tickets(app: RunningApp, count: int) -> None:
    """Open `count` tickets now, through the service (no Slack, no SLA clocks)."""
    await service_tickets(app, count, start=app.clock.now(), step=timedelta(0))


async def retry_round(app: RunningApp, **advance: float) -> None:
    """Let time pass, then let the dispatcher send what is due."""
    app.clock.advance(**advance)
    await app.runtime.dispatcher.dispatch_once()


async def inbound_source(
    app: RunningApp, name: str = "crm", channel: str | None = "CINBOUND"
) -> str:
    """An inbound source (as `ticketbot inbound add` makes it); returns its secret."""
    async with app.runtime.session_factory() as session, session.begin():
        workspace_id = await session.scalar(select(Workspace.id))
        created = await add_source(
            session=session,
            workspace_id=workspace_id,
            name=name,
            channel_id=channel,
            now=app.clock.now(),
        )
    return created.secret


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"v1={digest.hexdigest()}"


async def post_inbound(
    app: RunningApp,
    source: str,
    secret: str | None,
    payload: dict[str, Any] | bytes,
    *,
    timestamp: int | None = None,
    signature: str | None = None,
    client: httpx.AsyncClient | None = None,
) -> httpx.Response:
    """POST to the inbound endpoint, signed with `secret` at the app clock's now (unless told)."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        sent_at = timestamp if timestamp is not None else int(app.clock.now().timestamp())
        headers["X-Ticketbot-Timestamp"] = str(sent_at)
        headers["X-Ticketbot-Signature"] = signature or sign(secret, sent_at, body)
    if client is not None:
        return await client.post(f"/webhooks/inbound/{source}", content=body, headers=headers)
    async with httpx.AsyncClient(base_url=app.url, timeout=10) as own:
        return await own.post(f"/webhooks/inbound/{source}", content=body, headers=headers)
