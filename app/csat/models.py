"""CSAT surveys (one per resolution), the workspace's CSAT settings, and opt-outs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.csat.enums import OptOutKind, SurveyStatus
from app.db import Base, BigIntegerId, UTCDateTime
from app.types import created_at_column, enum_column_type


class CsatSurvey(Base):
    """One request for a rating, for one resolution of a ticket.

    Who was assigned, the channel and the account are copied from the ticket when it was
    resolved, so the numbers by agent, channel and account do not shift when the ticket later
    changes hands.
    """

    __tablename__ = "csat_surveys"
    __table_args__ = (
        Index("ix_csat_surveys_ticket", "ticket_id"),
        Index("ix_csat_surveys_workspace_sent", "workspace_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(BigIntegerId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    status: Mapped[SurveyStatus] = mapped_column(enum_column_type(SurveyStatus))
    requester_user_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    thread_ts: Mapped[str] = mapped_column(String(32))
    prompt_ts: Mapped[str | None] = mapped_column(String(32))
    assignee_user_id: Mapped[str | None] = mapped_column(String(32))
    account_name: Mapped[str | None] = mapped_column(String(255))
    is_external: Mapped[bool] = mapped_column(Boolean, default=False)

    resolved_at: Mapped[datetime] = mapped_column(UTCDateTime())
    send_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    rating: Mapped[int | None] = mapped_column(Integer)
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    comment: Mapped[str | None] = mapped_column(Text)
    commented_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    low_rating_alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = created_at_column()


class CsatSettings(Base):
    """A workspace's CSAT choices; no row means the defaults (on, delay from the config)."""

    __tablename__ = "csat_settings"

    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Set by a lead (`/ticket csat delay`); NULL: the process's CSAT_DELAY_SECONDS, which every
    # `serve` writes to `default_delay_seconds` at start-up so services need not know the config.
    delay_seconds: Mapped[int | None] = mapped_column(Integer)
    default_delay_seconds: Mapped[int | None] = mapped_column(Integer)
    include_internal: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_by: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CsatOptOut(Base):
    """A channel or a customer account that is never asked for a rating."""

    __tablename__ = "csat_opt_outs"
    __table_args__ = (UniqueConstraint("workspace_id", "kind", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    kind: Mapped[OptOutKind] = mapped_column(enum_column_type(OptOutKind))
    key: Mapped[str] = mapped_column(String(255))
    label: Mapped[str] = mapped_column(String(255), default="")
    created_by: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = created_at_column()
