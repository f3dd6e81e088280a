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


class SlackInstallation(Base):
    """The bot token of a workspace that installed ticketbot through Slack's OAuth flow
    (`/slack/install`). One per workspace row; deleted when Slack says the app was uninstalled
    or its bot token revoked. Tokens are stored encrypted (app/token_cipher.py), never plain.

    Single-workspace mode (SLACK_BOT_TOKEN) has no row here: its token lives in the settings.
    """

    __tablename__ = "slack_installations"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), unique=True
    )
    app_id: Mapped[str | None] = mapped_column(String(32))
    team_id: Mapped[str | None] = mapped_column(String(32))
    team_name: Mapped[str | None] = mapped_column(String(255))
    enterprise_id: Mapped[str | None] = mapped_column(String(32))
    enterprise_name: Mapped[str | None] = mapped_column(String(255))
    is_enterprise_install: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    bot_id: Mapped[str | None] = mapped_column(String(32))
    bot_user_id: Mapped[str] = mapped_column(String(32))
    bot_scopes: Mapped[str] = mapped_column(Text, default="")
    bot_token_encrypted: Mapped[str] = mapped_column(Text)
    # With token rotation on: the refresh token (encrypted) and when the bot token expires.
    bot_refresh_token_encrypted: Mapped[str | None] = mapped_column(Text)
    bot_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A replica refreshing the token holds this claim until then (app/slack/installations.py).
    refresh_claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    installer_user_id: Mapped[str | None] = mapped_column(String(32))
    installed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OAuthState(Base):
    """A one-time `state` of an install started at `/slack/install`: the redirect back from
    Slack must bring one that is here and not expired, and uses it up (CSRF protection)."""

    __tablename__ = "slack_oauth_states"

    state: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
