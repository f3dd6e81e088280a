"""Knowing who is who across Slack Connect: cached users.info / team.info answers.

The hot path only reads the cache. What is missing is asked of Slack through the outbox, and
the answer fills the cache and the tickets waiting for it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.directory.models import SlackTeam
from app.outbox.service import enqueue_slack_call
from app.tickets.enums import OPEN_STATUSES
from app.tickets.models import Ticket

TEAM_FETCHED = "directory.team_fetched"


async def team_name(*, session: AsyncSession, team_id: str) -> str | None:
    return await session.scalar(select(SlackTeam.name).where(SlackTeam.team_id == team_id))


async def request_team_info(
    *, session: AsyncSession, workspace_id: int, team_id: str, now: datetime
) -> None:
    """Ask Slack for a team's name once; every ticket from that team waits for the same answer."""
    await enqueue_slack_call(
        session=session,
        method="team.info",
        payload={"team": team_id},
        now=now,
        workspace_id=workspace_id,
        on_delivered=TEAM_FETCHED,
        on_delivered_args={"team_id": team_id},
        coalesce_key=f"team.info:{team_id}",
    )


async def remember_team(
    *, session: AsyncSession, args: dict[str, Any], result: dict[str, Any], now: datetime
) -> list[Ticket]:
    """Cache team.info's answer, and name the open tickets of that team that wait for it.
    Returns those tickets (the caller redraws them)."""
    team = result.get("team") or {}
    team_id = args["team_id"]
    name = str(team.get("name") or team_id)
    cached = await session.get(SlackTeam, team_id)
    if cached is None:
        session.add(
            SlackTeam(team_id=team_id, name=name, domain=team.get("domain"), fetched_at=now)
        )
    else:
        cached.name, cached.domain, cached.fetched_at = name, team.get("domain"), now
    waiting = await session.scalars(
        select(Ticket).where(
            Ticket.requester_team_id == team_id,
            Ticket.account_name.is_(None),
            Ticket.status.in_(OPEN_STATUSES),
        )
    )
    named = list(waiting)
    for ticket in named:
        ticket.account_name = name
    return named
