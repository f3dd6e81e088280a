"""Connectors in the life of a ticket: owed syncs when tickets and scores change, an escalation
to engineering that closes the loop, what the far side's answers and webhooks change here, and
the leads told when a connector's credentials are refused."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.connectors import service as connectors
from app.connectors.models import Connector
from app.connectors.registry import VENDORS
from app.connectors.sender import CREDENTIALS_REFUSED
from app.connectors.service import CONNECTOR_DELIVERED, FAILING, PAUSED, RECORD_OF_ACTION
from app.connectors.vendors.base import Action, Inbound
from app.errors import Conflict, InvalidInput
from app.flows import lifecycle
from app.flows.views import refresh_ticket_views
from app.outbox.enums import OutboxKind, OutboxStatus
from app.outbox.handlers import DeliveryHandlers
from app.outbox.models import OutboxMessage
from app.outbox.service import enqueue_slack_call
from app.team.enums import Role
from app.team.models import TeamMember
from app.text_safety import escape, link
from app.tickets.actors import Actor
from app.tickets.models import Ticket
from app.tickets.notifications import post_in_customer_thread, post_in_triage_thread

_OUTCOME_OF_ROW = {
    OutboxStatus.DELIVERED: "sent",
    OutboxStatus.PENDING: "retrying",
    OutboxStatus.FAILED: "failed",
    OutboxStatus.CANCELLED: "cancelled",
}
VENDOR_NAMES = {
    "hubspot": "HubSpot",
    "salesforce": "Salesforce",
    "zendesk": "Zendesk",
    "jira": "Jira",
    "linear": "Linear",
}


# -- escalation ----------------------------------------------------------------------------------


async def escalate(
    *,
    session: AsyncSession,
    ticket: Ticket,
    vendor: str | None,
    target: str | None,
    actor: Actor,
    now: datetime,
) -> str:
    """Ask for an engineering issue in Jira or Linear (`vendor`, or the tracker connected: Jira
    first); the ticket waits on engineering until the issue is done. Returns what to tell the
    person who asked."""
    if vendor is None:
        found = {
            connector.vendor: connector
            for connector in await connectors.list_connectors(
                session=session, workspace_id=ticket.workspace_id
            )
        }
        vendor = next((name for name in connectors.TRACKERS if name in found), None)
        if vendor is None:
            raise InvalidInput(
                "No issue tracker is connected: `ticketbot connector add jira …` (or linear)."
            )
    connector = await connectors.get_connector(
        session=session, workspace_id=ticket.workspace_id, connector=vendor
    )
    name = VENDOR_NAMES.get(connector.vendor, connector.vendor)
    if Action.ESCALATE not in VENDORS[connector.vendor].actions:
        raise InvalidInput(f"{name} takes no escalations; use jira or linear")
    if connector.state == PAUSED:
        raise Conflict(f"the {name} connector is paused; resume it first")
    made = await connectors.find_link(
        session=session, connector_id=connector.id, record_kind="issue", record_id=ticket.id
    )
    if made is not None:
        raise Conflict(
            f"{ticket.display_number} is already escalated: {made.remote_key or made.remote_id}"
        )
    await lifecycle.wait_on_engineering(session=session, ticket=ticket, actor=actor, now=now)
    await connectors.owe(
        session=session,
        workspace_id=ticket.workspace_id,
        action=Action.ESCALATE,
        record_id=ticket.id,
        ticket_id=ticket.id,
        connector_id=connector.id,
        target=target,
        now=now,
    )
    where = f" ({escape(target)})" if target else ""
    by = f"<@{actor.id}>" if actor.id else "ticketbot"
    await post_in_triage_thread(
        session=session,
        ticket=ticket,
        text=f":hammer_and_wrench: {by} escalated this to {name}{where}; the issue follows here.",
        now=now,
    )
    # The card, the ticket.updated event and the connected systems' sync came with the
    # status change (lifecycle.transition).
    return f"{ticket.display_number} is being escalated to {name}{where}."


# -- the far side's answers ----------------------------------------------------------------------


async def on_connector_delivered(
    session: AsyncSession, args: dict[str, Any], result: dict[str, Any], now: datetime
) -> None:
    """Keep the far side's ids (so updates find their target and replays make nothing twice);
    a new engineering issue is shown on its ticket."""
    connector_id = int(args["connector_id"])
    parent = result.get("parent")
    if isinstance(parent, dict):
        await connectors.keep_link(
            session=session,
            connector_id=connector_id,
            record_kind=str(parent["record_kind"]),
            record_id=int(parent["record_id"]),
            remote=parent,
            now=now,
        )
    kind, record_id = str(result["record_kind"]), int(result["record_id"])
    issue, was_done = await connectors.keep_link(
        session=session,
        connector_id=connector_id,
        record_kind=kind,
        record_id=record_id,
        remote=result,
        now=now,
    )
    if kind != "issue":
        return
    ticket = await session.get(Ticket, record_id, with_for_update=True)
    connector = await session.get(Connector, connector_id)
    if ticket is None or connector is None:
        return
    if was_done is None:
        name = VENDOR_NAMES.get(connector.vendor, connector.vendor)
        shown = (
            link(issue.remote_url, issue.remote_key or issue.remote_id)
            if issue.remote_url
            else escape(issue.remote_key or issue.remote_id)
        )
        status = f" ({escape(issue.remote_status)})" if issue.remote_status else ""
        await post_in_triage_thread(
            session=session,
            ticket=ticket,
            text=f":hammer_and_wrench: {name} issue {shown}{status} made for this ticket.",
            now=now,
        )
    if issue.remote_done and not was_done:
        await _issue_done(session, connector, ticket, issue.remote_key or issue.remote_id, now)
    else:
        await refresh_ticket_views(session=session, ticket=ticket, now=now)


async def record_connector_attempt(
    session: AsyncSession, row: OutboxMessage, now: datetime
) -> None:
    """Every attempt in the sync log; credentials refused put the connector on hold (nothing
    more is sent with them) and tell the leads, once."""
    payload = row.payload or {}
    connector = await session.get(Connector, payload.get("connector_id"))
    if connector is None:
        return
    action = Action(payload["action"])
    refused = (row.last_error or "").startswith(CREDENTIALS_REFUSED)
    await connectors.log_entry(
        session=session,
        connector_id=connector.id,
        action=action.value,
        record_kind=RECORD_OF_ACTION[action],
        record_id=int(payload["record_id"]),
        outcome="refused" if refused else _OUTCOME_OF_ROW.get(row.status, row.status.value),
        remote_id=(row.result or {}).get("id") if row.status is OutboxStatus.DELIVERED else None,
        status_code=row.last_status_code,
        error=row.last_error if row.status is not OutboxStatus.DELIVERED else None,
        attempts=row.attempts,
        outbox_id=row.id,
        now=now,
    )
    if refused and row.status is OutboxStatus.PENDING and connector.state != FAILING:
        connector.state, connector.last_error = FAILING, row.last_error
        await _tell_leads_credentials_refused(session, connector, now)
    elif row.status is OutboxStatus.DELIVERED and connector.last_error:
        connector.last_error = None


async def _tell_leads_credentials_refused(
    session: AsyncSession, connector: Connector, now: datetime
) -> None:
    name = VENDOR_NAMES.get(connector.vendor, connector.vendor)
    text = (
        f":warning: {name} refused ticketbot's credentials, so nothing more is sent to it;"
        " what is owed waits. Give it a new token with"
        f" `ticketbot connector update {connector.vendor} --token …` (or PATCH"
        f" /api/connectors/{connector.id}); the sync log says what was refused:"
        f" `ticketbot connector log {connector.vendor}`."
    )
    leads = await session.scalars(
        select(TeamMember.slack_user_id)
        .where(TeamMember.workspace_id == connector.workspace_id, TeamMember.role == Role.LEAD)
        .order_by(TeamMember.slack_user_id)
    )
    for lead in leads:
        await enqueue_slack_call(
            session=session,
            method="chat.postMessage",
            payload={"channel": lead, "text": text},
            now=now,
            workspace_id=connector.workspace_id,
            flush=False,
        )


# -- the far side's webhooks ---------------------------------------------------------------------


async def on_vendor_webhook(
    *, session: AsyncSession, connector: Connector, news: Inbound, now: datetime
) -> str:
    """A verified delivery from the far side: an engineering issue done sends its ticket back
    to open; a helpdesk agent's public reply reaches the customer's Slack thread. Each delivery
    is acted on once. Returns what was done, in words (for the answer and the log)."""
    found = await connectors.link_of_remote(
        session=session, connector_id=connector.id, remote_id=news.remote_id, for_update=True
    )
    event_id = news.event_id or f"{news.remote_id}:{news.status}:{news.comment_id}"
    if found is None:
        return "not one of ours"
    if await connectors.webhook_seen(session=session, connector_id=connector.id, event_id=event_id):
        return "already handled"
    await connectors.log_entry(
        session=session,
        connector_id=connector.id,
        action="webhook",
        record_kind=found.record_kind,
        record_id=found.record_id,
        outcome="received",
        remote_id=news.remote_id,
        event_id=event_id,
        now=now,
    )
    ticket = await session.get(Ticket, found.record_id, with_for_update=True)
    if ticket is None:
        return "its ticket is gone"
    if found.record_kind == "issue":
        was_done = found.remote_done
        found.remote_status = news.status or found.remote_status
        found.remote_done, found.synced_at = news.done, now
        if news.done and not was_done:
            await _issue_done(session, connector, ticket, found.remote_key or found.remote_id, now)
            return "issue done"
        await refresh_ticket_views(session=session, ticket=ticket, now=now)
        return "issue updated"
    if news.public_reply:
        author = f"*{escape(news.reply_author)}*: " if news.reply_author else ""
        await post_in_customer_thread(
            session=session, ticket=ticket, text=author + escape(news.public_reply), now=now
        )
        return "reply posted"
    return "nothing to do"


async def _issue_done(
    session: AsyncSession, connector: Connector, ticket: Ticket, key: str, now: datetime
) -> None:
    name = VENDOR_NAMES.get(connector.vendor, connector.vendor)
    reopened = await lifecycle.engineering_done(
        session=session, ticket=ticket, reason=f"{name} issue {key} done", now=now
    )
    back = " It is open again for the team." if reopened else ""
    who = f"<@{ticket.assignee_user_id}> " if ticket.assignee_user_id else ""
    await post_in_triage_thread(
        session=session,
        ticket=ticket,
        text=f":white_check_mark: {who}{name} issue {escape(key)} is done.{back}",
        now=now,
    )
    if not reopened:  # reopening redrew the card, told webhooks and owed the syncs itself
        await refresh_ticket_views(session=session, ticket=ticket, now=now)


def register_connector_delivery_handlers(handlers: DeliveryHandlers) -> None:
    handlers.register(CONNECTOR_DELIVERED, on_connector_delivered)
    handlers.on_attempt(OutboxKind.CONNECTOR, record_connector_attempt)
