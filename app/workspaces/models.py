"""Workspaces (Slack teams that installed ticketbot) and the channels they watch."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime
from app.team.enums import AutoAssignMode
from app.tickets.enums import Priority
from app.types import created_at_column, enum_column_type


class Workspace(Base):
    """An installation of ticketbot: a Slack workspace, or a whole Enterprise Grid org for an
    org-wide install. Never a Slack Connect customer's workspace: that is an account."""

    __tablename__ = "workspaces"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The installation's id: the workspace's team id, or the org's enterprise id when
    # `is_enterprise_install` (app/slack/installation.py reads it from Slack's payloads).
    slack_team_id: Mapped[str] = mapped_column(String(32), unique=True)
    enterprise_id: Mapped[str | None] = mapped_column(String(32))
    is_enterprise_install: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    name: Mapped[str] = mapped_column(String(255), default="")
    domain: Mapped[str | None] = mapped_column(String(255))
    bot_user_id: Mapped[str | None] = mapped_column(String(32))
    triage_channel_id: Mapped[str | None] = mapped_column(String(32))
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    # Ticket numbers are allocated by incrementing this under the row's lock (T-<n>).
    next_ticket_number: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    # Bumped with every change to what replicas keep in memory (SLA policies, business hours,
    # webhook subscriptions: app/workspaces/settings.py).
    settings_version: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    created_at: Mapped[datetime] = created_at_column()


class WatchedChannel(Base):
    """A channel whose top-level customer messages become tickets."""

    __tablename__ = "watched_channels"
    __table_args__ = (UniqueConstraint("workspace_id", "slack_channel_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    slack_channel_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255), default="")
    is_ext_shared: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # Where this channel's triage cards go; NULL means the workspace's default triage channel.
    triage_channel_id: Mapped[str | None] = mapped_column(String(32))
    default_priority: Mapped[Priority] = mapped_column(
        enum_column_type(Priority), default=Priority.NORMAL, server_default=Priority.NORMAL.value
    )
    auto_reply_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    auto_reply_text: Mapped[str | None] = mapped_column(Text)
    off_hours_reply_enabled: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default="0"
    )
    off_hours_reply_text: Mapped[str | None] = mapped_column(Text)
    # Auto-assignment of new tickets, and the agent it picked last (round robin goes on after).
    auto_assign: Mapped[AutoAssignMode] = mapped_column(
        enum_column_type(AutoAssignMode),
        default=AutoAssignMode.OFF,
        server_default=AutoAssignMode.OFF.value,
    )
    auto_assign_last_user_id: Mapped[str | None] = mapped_column(String(32))
    added_by: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = created_at_column()
    unwatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
