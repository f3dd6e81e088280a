"""Inbound webhook sources: another system opens and updates tickets by POSTing signed JSON.

Each source has a name (the last segment of its URL), a secret, and optionally a Slack channel.
What a request does to tickets is app/flows/inbound.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import InvalidInput, NotFound
from app.text_safety import escape
from app.tickets.actors import Actor
from app.tickets.enums import ActorKind, Priority, TicketStatus
from app.webhooks.models import InboundSource
from app.webhooks.signing import new_secret

SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,31}$")
SETTABLE_STATUSES = (TicketStatus.OPEN, TicketStatus.RESOLVED, TicketStatus.CLOSED)


@dataclass(frozen=True)
class CreatedSource:
    """A new source and its signing secret, returned to the caller this once."""

    source: InboundSource
    secret: str


@dataclass(frozen=True)
class Requester:
    email: str | None = None
    name: str | None = None
    slack_user_id: str | None = None

    def describe(self) -> str:
        """Who wrote, as the channel post says it."""
        if self.slack_user_id:
            return f"<@{self.slack_user_id}>"
        if self.name and self.email:
            return f"{escape(self.name)} ({escape(self.email)})"
        return escape(self.name or self.email or "someone")


@dataclass(frozen=True)
class InboundTicket:
    """One request from a source, already checked for shape by the adapter."""

    external_id: str
    subject: str
    description: str = ""
    requester: Requester = Requester()
    priority: Priority | None = None
    status: TicketStatus | None = None
    account: str | None = None


# -- sources -------------------------------------------------------------------------------


async def add_source(
    *,
    session: AsyncSession,
    workspace_id: int,
    name: str,
    channel_id: str | None,
    now: datetime,
) -> CreatedSource:
    name = name.strip().lower()
    if not SOURCE_NAME.fullmatch(name):
        raise InvalidInput(
            f"{name!r} cannot name a source: use up to 64 lowercase letters, digits, - and _."
        )
    if channel_id is not None and not CHANNEL_ID.fullmatch(channel_id):
        raise InvalidInput(f"{channel_id!r} is not a Slack channel id (like C0123ABCD).")
    taken = await session.scalar(select(InboundSource.id).where(InboundSource.name == name))
    if taken is not None:
        raise InvalidInput(f"There is already an inbound source named {name!r}.")
    secret = new_secret()
    source = InboundSource(
        workspace_id=workspace_id, name=name, secret=secret, channel_id=channel_id, created_at=now
    )
    session.add(source)
    await session.flush()
    return CreatedSource(source=source, secret=secret)


async def list_sources(*, session: AsyncSession) -> list[InboundSource]:
    return list(await session.scalars(select(InboundSource).order_by(InboundSource.name)))


async def find_source(*, session: AsyncSession, name: str) -> InboundSource:
    name = name.lower()
    source = (
        await session.scalar(select(InboundSource).where(InboundSource.name == name))
        if SOURCE_NAME.fullmatch(name)
        else None
    )
    if source is None:
        raise NotFound(f"There is no inbound source named {name!r}.")
    return source


async def remove_source(*, session: AsyncSession, name: str) -> InboundSource:
    """Forget a source: its URL answers 404 from now on. Its tickets stay."""
    source = await find_source(session=session, name=name)
    await session.delete(source)
    await session.flush()
    return source


def source_actor(source: InboundSource) -> Actor:
    return Actor(ActorKind.WEBHOOK, source.name)
