"""Builders for REST API tests: keys made through the service, HTTP clients that carry them,
and tickets opened either by signed Slack events (with a triage card) or by the services."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from sqlalchemy import select

from app.apikeys.scopes import Scope
from app.apikeys.service import create_api_key
from app.slack_emulator import SlackEmulator, SlackSender, message_event, next_ts
from app.tickets.actors import Actor
from app.tickets.enums import Priority, TicketSource
from app.tickets.models import Ticket
from app.workspaces.models import Workspace
from tests.support.server import RunningApp, wait_until
from tests.support.tickets import insert_ticket_row
from tests.tickets.helpers import tickets

CUSTOMER = "UCUSTOMER"


async def api_key(app: RunningApp, *scopes: Scope, name: str = "tests") -> str:
    async with app.runtime.session_factory() as session, session.begin():
        created = await create_api_key(
            session=session, name=name, scopes=list(scopes), now=app.clock.now()
        )
    return created.token


def api_client(app: RunningApp, key: str | None = None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.AsyncClient(base_url=app.url, headers=headers, timeout=10)


async def reader(app: RunningApp) -> httpx.AsyncClient:
    return api_client(app, await api_key(app, Scope.TICKETS_READ, name="reader"))


async def writer(app: RunningApp) -> httpx.AsyncClient:
    key = await api_key(app, Scope.TICKETS_READ, Scope.TICKETS_WRITE, name="writer")
    return api_client(app, key)


def card(emulator: SlackEmulator, number: int = 1) -> dict | None:
    """The triage card of ticket T-<number> as the triage channel shows it now."""
    for message in emulator.messages("CTRIAGE"):
        blocks = message.get("blocks") or [{}]
        heading = str(blocks[0].get("text", {}).get("text", ""))
        if message.get("thread_ts") in (None, message["ts"]) and heading.startswith(
            f"*T-{number}* "
        ):
            return message
    return None


def card_text(emulator: SlackEmulator, number: int = 1) -> str:
    return str((card(emulator, number) or {}).get("blocks"))


def triage_thread(emulator: SlackEmulator, number: int = 1) -> list[str]:
    parent = card(emulator, number)
    if parent is None:
        return []
    return [m["text"] for m in emulator.thread("CTRIAGE", parent["ts"]) if m["ts"] != parent["ts"]]


async def slack_ticket(
    app: RunningApp, sender: SlackSender, emulator: SlackEmulator, text: str = "Exports fail"
) -> Ticket:
    """A customer writes in the watched channel (see `watch`): a ticket whose triage card is
    posted and its ts stored, so later changes edit it."""
    await sender.send_event(message_event("CSUPPORT", CUSTOMER, text, ts=next_ts()))
    ticket = (await tickets(app))[-1]  # committed before Slack got its 200
    await wait_until(lambda: card(emulator, ticket.number), message="triage card")
    await wait_until(lambda: _card_stored(app, ticket.number), message="card ts stored")
    return ticket


async def _card_stored(app: RunningApp, number: int) -> bool:
    async with app.runtime.session_factory() as session:
        ticket = await session.scalar(select(Ticket).where(Ticket.number == number))
        return bool(ticket and ticket.triage_card_ts)


async def service_tickets(
    app: RunningApp,
    count: int,
    *,
    start: datetime,
    step: timedelta = timedelta(minutes=1),
    **fields: object,
) -> list[Ticket]:
    """Open `count` tickets through the service, one `step` apart from `start` (no Slack)."""
    opened = []
    async with app.runtime.session_factory() as session, session.begin():
        workspace_id = await session.scalar(select(Workspace.id))
        for index in range(count):
            ticket = await insert_ticket_row(
                session=session,
                workspace_id=workspace_id,
                source=TicketSource.API,
                subject=f"Ticket {index + 1}",
                requester_user_id=str(fields.get("requester", CUSTOMER)),
                channel_id=None,
                root_ts=None,
                now=start + step * index,
                actor=Actor.system(),
                priority=Priority(str(fields.get("priority", Priority.NORMAL))),
            )
            opened.append(ticket)
    return opened
