"""Opening a ticket: the one way, whoever asks (a message in a watched channel, a `:ticket:`
reaction, the new-ticket form, an inbound webhook, the REST API).

One transaction does it all: the ticket with its number and audit entry, its account (a Slack
Connect customer's organisation), the triage channel (one rule), the SLA clocks, the request as
the conversation's first message, the triage card and Home tabs, the `ticket.created` webhook
event, and what the channel's settings add (auto-assignment, the auto-reply, the off-hours
reply). A request with no Slack message behind it can be posted in its channel; that post's
thread becomes the conversation once Slack has it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.service import account_for_request
from app.db import cache_reads
from app.directory.service import request_team_info, team_name
from app.flows.assignment import assign
from app.flows.auto_assign import choose_assignee
from app.flows.syncs import ticket_changed
from app.flows.views import refresh_ticket_views, show_new_ticket
from app.home.notifications import read_home_tabs_ahead
from app.outbox.service import enqueue_slack_call
from app.sla.policies import calendar_for
from app.sla.tracking import ClockRun, plan_new_ticket_clocks, start_ticket_clocks
from app.text_safety import date, defuse
from app.tickets.actors import Actor
from app.tickets.enums import AuthorKind, Priority, TicketSource
from app.tickets.intake import permalink
from app.tickets.models import Ticket
from app.tickets.notifications import post_in_customer_thread
from app.tickets.service import add_message, find_ticket_by_root, insert_ticket
from app.webhooks.enums import WebhookEventType
from app.webhooks.events import active_subscriptions, emit_ticket_event
from app.workspaces.channels import get_watched_channel
from app.workspaces.models import WatchedChannel, Workspace
from app.workspaces.service import give_back_ticket_number, is_outside, take_ticket_number

ROOT_POST_DELIVERED = "flows.ticket_root_post_delivered"
# The same handler under the names earlier versions gave it (rows queued before an upgrade).
ROOT_POST_DELIVERED_ALIASES = (
    "ticket.manual_channel_post_delivered",
    "webhooks.inbound_post_delivered",
)


@dataclass(frozen=True)
class FirstMessage:
    """The request as the conversation's first message (Slack text: escape plain text)."""

    text: str
    author_user_id: str | None
    author_kind: AuthorKind
    channel_id: str  # where it was written; for a form or another system, a made-up place
    ts: str  # its Slack ts, or a made-up id unique in the conversation


@dataclass(frozen=True)
class Greeting:
    """What a channel says to a customer whose message opened a ticket (from the settings and
    the watched channel's own texts)."""

    auto_reply_text: str
    off_hours_reply_text: str


@dataclass(frozen=True)
class NewTicket:
    """Everything a ticket is opened with."""

    workspace: Workspace
    source: TicketSource
    subject: str
    actor: Actor
    requester_user_id: str | None = None
    # The requester's own workspace and Grid org (another organisation's: a Slack Connect
    # customer, whose organisation becomes the account).
    requester_team_id: str | None = None
    requester_enterprise_id: str | None = None
    account_name: str | None = None  # named by the sender (an inbound webhook)
    requester_email: str | None = None  # given by the sender: its domain may name the account
    channel_id: str | None = None  # the customer's channel
    channel_team_id: str | None = None  # that channel's workspace (see Ticket.channel_team_id)
    root_ts: str | None = None  # the message whose thread is the conversation
    priority: Priority | None = None  # None: the channel's default
    first_message: FirstMessage | None = None
    external_source: str | None = None
    external_id: str | None = None
    # What to post in `channel_id` when there is no root message (a form, a webhook), as Slack
    # text made from the new ticket: the post's thread becomes the conversation. `post_as` is
    # shown as its author.
    channel_post: Callable[[Ticket], str] | None = None
    post_as: str | None = None
    # Set for a customer's own message: auto-assignment and the replies of the channel.
    greeting: Greeting | None = None


class _NotLooked:
    """`watched` not given: look the channel's settings up."""


_NOT_LOOKED = _NotLooked()


async def open_ticket(
    *,
    session: AsyncSession,
    new: NewTicket,
    default_triage_channel_id: str | None,
    now: datetime,
    watched: WatchedChannel | _NotLooked | None = _NOT_LOOKED,
    root_checked: bool = False,
) -> tuple[Ticket, bool]:
    """Open the ticket, or return the one its message (or external id) already opened.
    (ticket, created)

    `watched`: the settings of `new.channel_id` when the caller has just read them (intake's
    hot path), so they are not read twice; `root_checked`: the caller has just looked for a
    ticket with this root in this transaction and found none.
    """
    workspace = new.workspace
    if new.channel_id and new.root_ts and not root_checked:
        # A retried event (a new event_id), a second reaction, a form sent twice. (Two at the
        # same moment: see `insert_ticket`.)
        existing = await find_ticket_by_root(
            session=session,
            workspace_id=workspace.id,
            channel_id=new.channel_id,
            root_ts=new.root_ts,
        )
        if existing is not None:
            return existing, False
    if isinstance(watched, _NotLooked):
        watched = (
            await get_watched_channel(
                session=session, workspace_id=workspace.id, channel_id=new.channel_id
            )
            if new.channel_id
            else None
        )
    account_team = new.requester_team_id or new.requester_enterprise_id
    is_external = bool(account_team) and is_outside(
        workspace, team_id=new.requester_team_id, enterprise_id=new.requester_enterprise_id
    )
    organisation = (
        await team_name(session=session, team_id=account_team)
        if is_external and account_team
        else None
    )
    account = await account_for_request(
        session=session,
        workspace_id=workspace.id,
        external_team_id=account_team if is_external else None,
        team_name=organisation,
        channel_id=new.channel_id,
        email=new.requester_email,
        account_name=new.account_name,
        now=now,
    )
    # Until team.info names a Slack Connect organisation, its account is named by its id and
    # the ticket shows none (app/flows/delivery.py names both when Slack answers).
    account_name = account.name if account and account.name != account_team else None
    priority = new.priority or (watched.default_priority if watched else Priority.NORMAL)
    clocks, assignee = await _read_ahead(session, new, watched, priority, now)
    number = await take_ticket_number(session=session, workspace_id=workspace.id)
    ticket = await insert_ticket(
        session=session,
        workspace_id=workspace.id,
        number=number,
        source=new.source,
        subject=new.subject,
        requester_user_id=new.requester_user_id,
        requester_team_id=account_team,
        is_external=is_external,
        account_name=account_name,
        account_id=account.id if account else None,
        channel_id=new.channel_id,
        channel_team_id=new.channel_team_id or _installation_team(workspace),
        root_ts=new.root_ts,
        priority=priority,
        triage_channel_id=triage_channel(watched, workspace, default_triage_channel_id),
        permalink=(
            permalink(workspace.domain, new.channel_id, new.root_ts)
            if new.channel_id and new.root_ts
            else None
        ),
        external_source=new.external_source,
        external_id=new.external_id,
        due_dates={run.target: run.due for run in clocks},
        now=now,
        actor=new.actor,
    )
    if ticket is None:  # the same message or request, opened at this very moment by another
        await give_back_ticket_number(session=session, workspace_id=workspace.id)
        return await _opened_meanwhile(session, new), False
    await emit_ticket_event(
        session=session, ticket=ticket, event_type=WebhookEventType.TICKET_CREATED, now=now
    )
    await ticket_changed(session=session, ticket=ticket, now=now)
    await start_ticket_clocks(session=session, ticket=ticket, now=now, plan=clocks)
    first = new.first_message
    if first is not None and first.text:
        await add_message(
            session=session,
            ticket=ticket,
            channel_id=first.channel_id,
            ts=first.ts,
            author_user_id=first.author_user_id,
            author_kind=first.author_kind,
            text=first.text,
            now=now,
            known_new=True,
        )
    await show_new_ticket(session=session, ticket=ticket, now=now)
    if new.channel_post is not None and new.channel_id and not new.root_ts:
        text = new.channel_post(ticket)
        await _post_in_channel(session, ticket, new.channel_id, text, new.post_as, now)
    if new.greeting is not None:
        await _greet(session, ticket, watched, new.greeting, assignee, now)
    if is_external and account_team and organisation is None:
        await request_team_info(
            session=session, workspace_id=workspace.id, team_id=account_team, now=now
        )
    return ticket, True


async def _read_ahead(
    session: AsyncSession,
    new: NewTicket,
    watched: WatchedChannel | None,
    priority: Priority,
    now: datetime,
) -> tuple[list[ClockRun], tuple[str, int] | None]:
    """Everything opening the ticket reads, read before its number is taken: taking the number
    locks the workspace's counter until commit, and every other new ticket of the workspace
    waits for that lock. Returns its SLA clocks and the auto-assignee (with their load), if
    any; the rest (webhook subscriptions, who opened a Home tab) goes to the transaction's read
    cache, where the writes find it."""
    workspace_id = new.workspace.id
    cache_reads(session)
    clocks = await plan_new_ticket_clocks(
        session=session,
        workspace_id=workspace_id,
        priority=priority,
        channel_id=new.channel_id,
        opened_at=now,
        now=now,
    )
    await active_subscriptions(session=session, workspace_id=workspace_id)
    assignee = (
        await choose_assignee(session=session, channel=watched, now=now)
        if new.greeting is not None and watched is not None
        else None
    )
    await read_home_tabs_ahead(
        session=session,
        workspace_id=workspace_id,
        user_ids=[new.requester_user_id, assignee[0] if assignee else None],
    )
    return clocks, assignee


async def _opened_meanwhile(session: AsyncSession, new: NewTicket) -> Ticket:
    """The ticket a concurrent transaction opened for the same root message or external id."""
    workspace_id = new.workspace.id
    found = None
    if new.channel_id and new.root_ts:
        found = await find_ticket_by_root(
            session=session,
            workspace_id=workspace_id,
            channel_id=new.channel_id,
            root_ts=new.root_ts,
        )
    if found is None and new.external_source and new.external_id:
        found = await session.scalar(
            select(Ticket).where(
                Ticket.workspace_id == workspace_id,
                Ticket.external_source == new.external_source,
                Ticket.external_id == new.external_id,
            )
        )
    if found is None:
        raise RuntimeError("a new ticket was refused by a unique constraint, yet none is stored")
    return found


def _installation_team(workspace: Workspace) -> str | None:
    """A ticket's channel is in the installation's own workspace, unless the installation is
    a whole Grid org (then the payload must say which of its workspaces)."""
    return None if workspace.is_enterprise_install else workspace.slack_team_id


def triage_channel(
    watched: WatchedChannel | None, workspace: Workspace, default: str | None
) -> str | None:
    """Where a ticket's card goes: its channel's own triage channel, else the workspace's, else
    TRIAGE_CHANNEL_ID."""
    return (
        (watched.triage_channel_id if watched else None) or workspace.triage_channel_id or default
    )


async def root_post_delivered(
    session: AsyncSession, args: dict[str, Any], result: dict[str, Any], now: datetime
) -> None:
    """The ticket's post in its channel is out: its ts is the root, so replies join the ticket."""
    ticket = await session.get(Ticket, args["ticket_id"], with_for_update={"key_share": True})
    if ticket is None or ticket.root_ts or not result.get("ts"):
        return
    ticket.channel_id = result.get("channel") or ticket.channel_id
    ticket.root_ts = result["ts"]
    workspace = await session.get(Workspace, ticket.workspace_id)
    if ticket.channel_id:
        domain = workspace.domain if workspace else None
        ticket.permalink = permalink(domain, ticket.channel_id, ticket.root_ts)
    await refresh_ticket_views(session=session, ticket=ticket, now=now)


async def _post_in_channel(
    session: AsyncSession,
    ticket: Ticket,
    channel_id: str,
    text: str,
    post_as: str | None,
    now: datetime,
) -> None:
    payload: dict[str, Any] = {
        "channel": channel_id,
        "text": text,
        "unfurl_links": False,
        "unfurl_media": False,
    }
    if post_as:
        payload["username"] = post_as[:80]
    await enqueue_slack_call(
        session=session,
        method="chat.postMessage",
        payload=payload,
        now=now,
        workspace_id=ticket.workspace_id,
        on_delivered=ROOT_POST_DELIVERED,
        on_delivered_args={"ticket_id": ticket.id},
    )


async def _greet(
    session: AsyncSession,
    ticket: Ticket,
    channel: WatchedChannel | None,
    greeting: Greeting,
    assignee: tuple[str, int] | None,
    now: datetime,
) -> None:
    """Auto-assignment (to `assignee`, the channel's choice, with their load before) and the
    replies a watched channel gives a new ticket."""
    if channel is not None and assignee is not None:
        await _auto_assign(
            session=session, ticket=ticket, channel=channel, assignee=assignee, now=now
        )
    if channel is None or channel.auto_reply_enabled:
        template = (channel.auto_reply_text if channel else None) or greeting.auto_reply_text
        await post_in_customer_thread(
            session=session,
            ticket=ticket,
            text=defuse(template.replace("{ticket}", ticket.display_number)),
            now=now,
        )
    if channel is not None and channel.off_hours_reply_enabled:
        template = channel.off_hours_reply_text or greeting.off_hours_reply_text
        await _reply_if_off_hours(session=session, ticket=ticket, template=template, now=now)


async def _auto_assign(
    *,
    session: AsyncSession,
    ticket: Ticket,
    channel: WatchedChannel,
    assignee: tuple[str, int],
    now: datetime,
) -> None:
    assignee_user_id, load = assignee
    mode = channel.auto_assign.value.replace("_", " ")
    await assign(
        session=session,
        ticket=ticket,
        assignee_user_id=assignee_user_id,
        actor=Actor.system(),
        now=now,
        reason=f"auto-assigned ({mode}, {load} open before)",
    )


async def _reply_if_off_hours(
    *, session: AsyncSession, ticket: Ticket, template: str, now: datetime
) -> None:
    """Outside business hours, tell the customer when the team is back."""
    calendar = await calendar_for(
        session=session, workspace_id=ticket.workspace_id, years=range(now.year, now.year + 2)
    )
    if calendar.is_open(now):
        return
    back, _ = next(calendar.open_intervals(now))
    when = date(back, "{date_short_pretty} at {time}", "%A %H:%M UTC")
    await post_in_customer_thread(
        session=session, ticket=ticket, text=defuse(template).replace("{back}", when), now=now
    )
