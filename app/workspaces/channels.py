"""Watched channels: where customer messages become tickets, and where their triage cards go.

Only support leads change which channels are watched; every change is written to the audit log
(`ticketbot.audit`). Unwatching keeps the row (with `unwatched_at`), so watching again brings
the channel back with its settings.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import InvalidInput, NotFound
from app.team.enums import AutoAssignMode
from app.team.service import require_lead
from app.workspaces.models import WatchedChannel, Workspace

audit = logging.getLogger("ticketbot.audit")

_NOT_WATCHED = "This channel isn't watched. Run `/ticket watch` here to start making tickets."


class WatchOutcome(StrEnum):
    WATCHED = "watched"  # first time
    REWATCHED = "rewatched"  # was unwatched, now watched again
    UPDATED = "updated"  # was already watched; its triage channel was set again


@dataclass(frozen=True)
class WatchResult:
    channel: WatchedChannel
    outcome: WatchOutcome
    default_triage_channel_id: str | None

    @property
    def triage_channel_id(self) -> str | None:
        """Where this channel's triage cards go."""
        return self.channel.triage_channel_id or self.default_triage_channel_id


@dataclass(frozen=True)
class ChannelListing:
    channels: list[WatchedChannel]
    default_triage_channel_id: str | None


_WATCHED = select(WatchedChannel).where(  # built once: see app/tickets/service.py
    WatchedChannel.workspace_id == bindparam("workspace_id"),
    WatchedChannel.slack_channel_id == bindparam("channel_id"),
    WatchedChannel.unwatched_at.is_(None),
)


async def get_watched_channel(
    *, session: AsyncSession, workspace_id: int, channel_id: str
) -> WatchedChannel | None:
    """The channel's watch settings, or None if it is not (or no longer) watched."""
    return await session.scalar(_WATCHED, {"workspace_id": workspace_id, "channel_id": channel_id})


async def watch_channel(
    *,
    session: AsyncSession,
    workspace_id: int,
    channel_id: str,
    channel_name: str,
    triage_channel_id: str | None,
    actor_id: str,
) -> WatchResult:
    """Make a channel a support channel, or set the triage channel of one. Leads only.

    `triage_channel_id` None means the workspace's default triage channel, which must then be
    set. Watching a channel that was unwatched brings it back with its earlier settings.
    """
    await require_lead(
        session=session, workspace_id=workspace_id, user_id=actor_id, to="watch channels"
    )
    if channel_id.startswith("D"):
        raise InvalidInput("Run `/ticket watch` in the channel to watch, not in a direct message.")
    default_triage = await session.scalar(
        select(Workspace.triage_channel_id).where(Workspace.id == workspace_id)
    )
    if triage_channel_id == channel_id:
        raise InvalidInput("A channel can't be its own triage channel: name another one.")
    if triage_channel_id is None and default_triage is None:
        raise InvalidInput(
            "There is no default triage channel (TRIAGE_CHANNEL_ID), so name one: "
            "`/ticket watch #triage-channel`."
        )
    if triage_channel_id is None and default_triage == channel_id:
        raise InvalidInput(
            "This is the triage channel: run `/ticket watch` in a channel customers write in."
        )
    channel = await session.scalar(
        select(WatchedChannel).where(
            WatchedChannel.workspace_id == workspace_id,
            WatchedChannel.slack_channel_id == channel_id,
        )
    )
    if channel is None:
        outcome = WatchOutcome.WATCHED
        channel = WatchedChannel(
            workspace_id=workspace_id,
            slack_channel_id=channel_id,
            name=channel_name[:255],
            triage_channel_id=triage_channel_id,
            added_by=actor_id,
        )
        session.add(channel)
    else:
        outcome = WatchOutcome.UPDATED if channel.unwatched_at is None else WatchOutcome.REWATCHED
        channel.unwatched_at = None
        channel.triage_channel_id = triage_channel_id
        if channel_name:
            channel.name = channel_name[:255]
    await session.flush()
    audit.info(
        "channels: %s %s %s (#%s) in workspace %s, triage to %s",
        actor_id,
        outcome,
        channel_id,
        channel.name,
        workspace_id,
        triage_channel_id or f"the default ({default_triage})",
    )
    return WatchResult(channel=channel, outcome=outcome, default_triage_channel_id=default_triage)


async def unwatch_channel(
    *, session: AsyncSession, workspace_id: int, channel_id: str, actor_id: str, now: datetime
) -> WatchedChannel:
    """Stop making tickets from a channel; its settings are kept for a later watch. Leads only."""
    await require_lead(
        session=session, workspace_id=workspace_id, user_id=actor_id, to="unwatch channels"
    )
    channel = await get_watched_channel(
        session=session, workspace_id=workspace_id, channel_id=channel_id
    )
    if channel is None:
        raise NotFound(_NOT_WATCHED)
    channel.unwatched_at = now
    await session.flush()
    audit.info(
        "channels: %s unwatched %s (#%s) in workspace %s",
        actor_id,
        channel_id,
        channel.name,
        workspace_id,
    )
    return channel


async def list_watched_channels(
    *, session: AsyncSession, workspace_id: int, actor_id: str
) -> ChannelListing:
    """The watched channels, by name. Leads only."""
    await require_lead(
        session=session, workspace_id=workspace_id, user_id=actor_id, to="list watched channels"
    )
    channels = await session.scalars(
        select(WatchedChannel)
        .where(WatchedChannel.workspace_id == workspace_id, WatchedChannel.unwatched_at.is_(None))
        .order_by(WatchedChannel.name, WatchedChannel.slack_channel_id)
    )
    default_triage = await session.scalar(
        select(Workspace.triage_channel_id).where(Workspace.id == workspace_id)
    )
    return ChannelListing(channels=list(channels), default_triage_channel_id=default_triage)


async def set_auto_reply(
    *, session: AsyncSession, workspace_id: int, channel_id: str, enabled: bool, actor_id: str
) -> WatchedChannel:
    """Turn a watched channel's automatic reply to new tickets on or off. Leads only."""
    return await _set_switch(
        session=session,
        workspace_id=workspace_id,
        channel_id=channel_id,
        enabled=enabled,
        actor_id=actor_id,
        column="auto_reply_enabled",
        what="auto-replies",
    )


async def set_off_hours_reply(
    *, session: AsyncSession, workspace_id: int, channel_id: str, enabled: bool, actor_id: str
) -> WatchedChannel:
    """Turn a watched channel's "we are away, back at ..." reply on or off. Leads only."""
    return await _set_switch(
        session=session,
        workspace_id=workspace_id,
        channel_id=channel_id,
        enabled=enabled,
        actor_id=actor_id,
        column="off_hours_reply_enabled",
        what="the off-hours reply",
    )


async def _set_switch(
    *,
    session: AsyncSession,
    workspace_id: int,
    channel_id: str,
    enabled: bool,
    actor_id: str,
    column: str,
    what: str,
) -> WatchedChannel:
    await require_lead(
        session=session, workspace_id=workspace_id, user_id=actor_id, to=f"change {what}"
    )
    channel = await get_watched_channel(
        session=session, workspace_id=workspace_id, channel_id=channel_id
    )
    if channel is None:
        raise NotFound(_NOT_WATCHED)
    if getattr(channel, column) != enabled:
        setattr(channel, column, enabled)
        await session.flush()
        audit.info(
            "channels: %s switched %s %s in %s (#%s) in workspace %s",
            actor_id,
            what,
            "on" if enabled else "off",
            channel_id,
            channel.name,
            workspace_id,
        )
    return channel


async def set_auto_assign(
    *,
    session: AsyncSession,
    workspace_id: int,
    channel_id: str,
    mode: AutoAssignMode,
    actor_id: str,
) -> WatchedChannel:
    """How new tickets from a watched channel find an assignee. Leads only."""
    await require_lead(
        session=session, workspace_id=workspace_id, user_id=actor_id, to="change auto-assignment"
    )
    channel = await get_watched_channel(
        session=session, workspace_id=workspace_id, channel_id=channel_id
    )
    if channel is None:
        raise NotFound(_NOT_WATCHED)
    if channel.auto_assign is not mode:
        channel.auto_assign = mode
        await session.flush()
        audit.info(
            "channels: %s set auto-assignment %s in %s in workspace %s",
            actor_id,
            mode.value,
            channel_id,
            workspace_id,
        )
    return channel
