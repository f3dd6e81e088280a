"""Accounts, what links tickets to them, and each account's daily health."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.accounts.enums import Consent, LinkKind, NpsOptOutKind, NpsStatus, Tier
from app.db import Base, JSONDocument, UTCDateTime
from app.types import created_at_column, enum_column_type


class Account(Base):
    """A customer organisation. Made from a Slack Connect team the first time one of its
    people asks for help, or by a lead (`/ticket account new`, the API) for customers who write
    in channels of their own, or by email."""

    __tablename__ = "accounts"
    __table_args__ = (
        UniqueConstraint("workspace_id", "name"),
        Index("ix_accounts_workspace_health", "workspace_id", "health_score"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    # The customer-success manager: a member of the support team, told about this account.
    owner_user_id: Mapped[str | None] = mapped_column(String(32))
    tier: Mapped[Tier | None] = mapped_column(enum_column_type(Tier))
    renewal_on: Mapped[date | None] = mapped_column(Date())
    annual_revenue: Mapped[int | None] = mapped_column(Integer)  # whole currency units
    # Ids in other systems, by system (`hubspot`, `salesforce`, ...).
    crm_ids: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    churned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The latest daily health (history in account_health); NULL until first computed.
    health_score: Mapped[int | None] = mapped_column(Integer)
    health_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Its score a week before the latest (NULL: none then), for "falling fast" in one read.
    health_week_ago: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AccountLink(Base):
    """A Slack team, channel or email domain whose requests belong to an account. Each key
    belongs to at most one account of a workspace."""

    __tablename__ = "account_links"
    __table_args__ = (
        UniqueConstraint("workspace_id", "kind", "key"),
        Index("ix_account_links_account", "account_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    kind: Mapped[LinkKind] = mapped_column(enum_column_type(LinkKind))
    key: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = created_at_column()


class AccountHealth(Base):
    """An account's health on one day (the workspace's calendar): the score, the reasons
    behind it in words, and the signals it was computed from."""

    __tablename__ = "account_health"
    __table_args__ = (UniqueConstraint("account_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date())
    score: Mapped[int] = mapped_column(Integer)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)
    signals: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ChannelDeparture(Base):
    """Someone left a channel (`member_left_channel`): when it is one of an account's contacts
    leaving its channel, a sign its champions are going (app/accounts/signals.py)."""

    __tablename__ = "channel_departures"
    __table_args__ = (Index("ix_channel_departures_workspace_left", "workspace_id", "left_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    channel_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))
    left_at: Mapped[datetime] = mapped_column(UTCDateTime())


class NpsSurvey(Base):
    """One "How likely are you to recommend …?" asked of one contact of an account, in the
    channel where they last wrote. Only they may answer; they may change their score until it
    closes."""

    __tablename__ = "nps_surveys"
    __table_args__ = (
        Index("ix_nps_surveys_contact", "workspace_id", "contact_user_id", "sent_at"),
        Index("ix_nps_surveys_account_answered", "account_id", "answered_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    contact_user_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    status: Mapped[NpsStatus] = mapped_column(enum_column_type(NpsStatus))
    prompt_ts: Mapped[str | None] = mapped_column(String(32))
    # The account's owner when asked, so the numbers by owner do not shift when it changes.
    owner_user_id: Mapped[str | None] = mapped_column(String(32))
    score: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reason_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    detractor_alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_by: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = created_at_column()


class NpsOptOut(Base):
    """A person, channel or account never asked the NPS question."""

    __tablename__ = "nps_opt_outs"
    __table_args__ = (UniqueConstraint("workspace_id", "kind", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    kind: Mapped[NpsOptOutKind] = mapped_column(enum_column_type(NpsOptOutKind))
    key: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = created_at_column()


class Testimonial(Base):
    """A customer's words (a 5/5 CSAT comment, or a 9-10 NPS reason), kept as a quote only with
    their consent; the wording they agreed to is stored with it. A withdrawn consent erases
    the words."""

    __tablename__ = "testimonials"
    __table_args__ = (
        UniqueConstraint("source", "source_id"),
        Index("ix_testimonials_workspace_consent", "workspace_id", "consent"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    person_user_id: Mapped[str] = mapped_column(String(32))
    quote: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))  # csat | nps
    source_id: Mapped[int] = mapped_column(Integer)
    channel_id: Mapped[str] = mapped_column(String(32))
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    prompt_ts: Mapped[str | None] = mapped_column(String(32))
    consent: Mapped[Consent] = mapped_column(enum_column_type(Consent))
    consent_wording: Mapped[str] = mapped_column(Text)
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
