"""What Slack's answers mean for tickets (each run in its delivery's transaction): the triage
card's ts, the message a reaction pointed at, a post that became a ticket's root, a Slack
Connect team's name, the pages catch-up reads back (app/flows/catch_up.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.service import account_for_team, name_team_account
from app.directory.service import TEAM_FETCHED, remember_team, request_team_info, team_name
from app.flows.catch_up import CatchUp
from app.flows.open_ticket import (
    ROOT_POST_DELIVERED,
    ROOT_POST_DELIVERED_ALIASES,
    root_post_delivered,
)
from app.flows.views import refresh_ticket_views
from app.outbox.handlers import DeliveryHandlers
from app.team.service import get_role
from app.tickets.enums import AuthorKind
from app.tickets.intake import subject_from
from app.tickets.models import Ticket
from app.tickets.notifications import SOURCE_MESSAGE_FETCHED, TRIAGE_CARD_POSTED
from app.tickets.service import add_message
from app.workspaces.models import Workspace
from app.workspaces.service import is_outside


async def triage_card_posted(
    session: AsyncSession, args: dict[str, Any], result: dict[str, Any], now: datetime
) -> None:
    """Remember the card's ts, so every later change edits it instead of posting anew."""
    ticket = await session.get(Ticket, args["ticket_id"])
    if ticket is None:
        return
    ticket.triage_card_ts = result.get("ts")
    ticket.triage_channel_id = result.get("channel") or ticket.triage_channel_id


async def load_their_tickets(session: AsyncSession, args: list[dict[str, Any]]) -> list[Ticket]:
    """The tickets of a batch of deliveries, read at once (their handlers then find them
    loaded)."""
    ids = sorted({arg["ticket_id"] for arg in args if "ticket_id" in arg})
    return list(await session.scalars(select(Ticket).where(Ticket.id.in_(ids))))


async def source_message_fetched(
    session: AsyncSession, args: dict[str, Any], result: dict[str, Any], now: datetime
) -> None:
    """A reaction opened this ticket; now we know what the message said and who wrote it."""
    ticket = await session.get(Ticket, args["ticket_id"])
    messages = [m for m in result.get("messages", []) if m.get("ts") == args.get("ts")]
    if ticket is None or not messages:
        return
    message = messages[0]
    text = message.get("text") or ""  # Slack text, as conversations.history gives it
    author = message.get("user")
    ticket.subject = subject_from(text)
    ticket.requester_user_id = ticket.requester_user_id or author
    await _learn_requester_team(
        session, ticket, message.get("user_team") or message.get("team"), now
    )
    role = (
        await get_role(session=session, workspace_id=ticket.workspace_id, user_id=author)
        if author
        else None
    )
    ticket.updated_at = now
    await add_message(
        session=session,
        ticket=ticket,
        channel_id=ticket.channel_id or "",
        ts=message["ts"],
        author_user_id=author,
        author_kind=AuthorKind.AGENT if role else AuthorKind.CUSTOMER,
        text=text,
        now=now,
    )
    await refresh_ticket_views(session=session, ticket=ticket, now=now)


async def team_fetched(
    session: AsyncSession, args: dict[str, Any], result: dict[str, Any], now: datetime
) -> None:
    """A Slack Connect team's name is known: its waiting tickets show their account."""
    named = await remember_team(session=session, args=args, result=result, now=now)
    await session.flush()  # the cached name, for the account below (no autoflush here)
    name = await team_name(session=session, team_id=args["team_id"])
    if name is not None:
        await name_team_account(session=session, team_id=args["team_id"], name=name, now=now)
    for ticket in named:
        await refresh_ticket_views(session=session, ticket=ticket, now=now)


async def _learn_requester_team(
    session: AsyncSession, ticket: Ticket, team_id: str | None, now: datetime
) -> None:
    """A reaction event does not say whose message it was; the message does. A Slack Connect
    customer's team becomes the ticket's account (named once team.info answers)."""
    if not team_id or ticket.requester_team_id:
        return
    workspace = await session.get(Workspace, ticket.workspace_id)
    if workspace is None or not is_outside(
        workspace, team_id=team_id, enterprise_id=None, org_would_be_named=False
    ):
        return
    ticket.requester_team_id = team_id
    ticket.is_external = True
    organisation = await team_name(session=session, team_id=team_id)
    account = await account_for_team(
        session=session,
        workspace_id=ticket.workspace_id,
        team_id=team_id,
        name=organisation,
        now=now,
    )
    ticket.account_id = account.id
    ticket.account_name = organisation and account.name
    if ticket.account_name is None:
        await request_team_info(
            session=session, workspace_id=ticket.workspace_id, team_id=team_id, now=now
        )


def register_delivery_handlers(
    handlers: DeliveryHandlers, *, catch_up: CatchUp | None = None
) -> None:
    handlers.register(TRIAGE_CARD_POSTED, triage_card_posted, prepare=load_their_tickets)
    handlers.register(SOURCE_MESSAGE_FETCHED, source_message_fetched)
    handlers.register(TEAM_FETCHED, team_fetched)
    for name in (ROOT_POST_DELIVERED, *ROOT_POST_DELIVERED_ALIASES):
        handlers.register(name, root_post_delivered)
    if catch_up is not None:
        catch_up.register(handlers)
