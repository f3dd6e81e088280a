"""Departures from channels are kept as long as health reads them, then pruned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.accounts.models import ChannelDeparture
from app.accounts.service import prune_departures, record_departure
from app.workspaces.service import ensure_workspace

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


async def test_departures_older_than_ninety_days_are_pruned(session_factory):
    async with session_factory() as session, session.begin():
        workspace = await ensure_workspace(session=session, slack_team_id="TPRUNE")
        for days, user in ((91, "UOLD"), (89, "URECENT")):
            await record_departure(
                session=session,
                workspace_id=workspace.id,
                channel_id="CSUPPORT",
                user_id=user,
                now=NOW - timedelta(days=days),
            )
    async with session_factory() as session, session.begin():
        assert await prune_departures(session=session, now=NOW) == 1
        left = await session.scalars(
            select(ChannelDeparture.user_id).where(ChannelDeparture.workspace_id == workspace.id)
        )
        assert list(left) == ["URECENT"]
