"""Tickets, their conversation and their audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BatchInserted, BigIntegerId, JSONDocument, UTCDateTime
from app.tickets.enums import ActorKind, AuthorKind, Priority, TicketSource, TicketStatus
from app.types import created_at_column, enum_column_type

_OPEN_PREDICATE = text("status IN ('new', 'open', 'waiting_on_customer', 'waiting_on_engineering')")
_ANSWERED_PREDICATE = text("first_response_at IS NOT NULL")
_METRICS_COLUMNS = ["status", "channel_id", "assignee_user_id", "account_name"]


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("workspace_id", "number"),
        # A Slack message becomes at most one ticket, however often Slack retries the event.
        UniqueConstraint("workspace_id", "channel_id", "root_ts"),
        UniqueConstraint("workspace_id", "external_source", "external_id"),
        Index("ix_tickets_account_created", "account_id", "created_at"),
        Index(
            "ix_tickets_open_by_workspace",
            "workspace_id",
            "created_at",
            postgresql_where=_OPEN_PREDICATE,
            sqlite_where=_OPEN_PREDICATE,
        ),
        # The metrics (app/reports) read tickets opened, answered and resolved in a period from
        # these alone on PostgreSQL (index-only scans); SQLite ignores INCLUDE.
        Index(
            "ix_tickets_workspace_created",
            "workspace_id",
            "created_at",
            postgresql_include=_METRICS_COLUMNS,
        ),
        Index(
            "ix_tickets_workspace_resolved",
            "workspace_id",
            "resolved_at",
            postgresql_include=["created_at", *_METRICS_COLUMNS],
        ),
        Index(
            "ix_tickets_workspace_first_response",
            "workspace_id",
            "first_response_at",
            postgresql_include=["created_at", *_METRICS_COLUMNS],
            postgresql_where=_ANSWERED_PREDICATE,
            sqlite_where=_ANSWERED_PREDICATE,
        ),
        # The queue filtered by SLA state (breached, at risk: the few a lead looks for), with or
        # without a priority: found in the index, not by reading every open ticket.
        Index(
            "ix_tickets_open_by_sla_state",
            "workspace_id",
            "sla_state",
            "priority",
            "created_at",
            postgresql_where=_OPEN_PREDICATE,
            sqlite_where=_OPEN_PREDICATE,
        ),
        Index("ix_tickets_requester", "workspace_id", "requester_user_id", "status"),
        Index("ix_tickets_assignee", "workspace_id", "assignee_user_id", "status"),
        Index("ix_tickets_triage_card", "triage_channel_id", "triage_card_ts"),
    )

    id: Mapped[int] = mapped_column(BigIntegerId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(String(255))
    status: Mapped[TicketStatus] = mapped_column(
        enum_column_type(TicketStatus), default=TicketStatus.NEW
    )
    priority: Mapped[Priority] = mapped_column(enum_column_type(Priority), default=Priority.NORMAL)
    source: Mapped[TicketSource] = mapped_column(enum_column_type(TicketSource))

    requester_user_id: Mapped[str | None] = mapped_column(String(32))
    requester_team_id: Mapped[str | None] = mapped_column(String(32))
    is_external: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    account_name: Mapped[str | None] = mapped_column(String(255))
    # The customer account (app/accounts); `account_name` is its name when the ticket opened.
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    assignee_user_id: Mapped[str | None] = mapped_column(String(32))

    channel_id: Mapped[str | None] = mapped_column(String(32))
    # The installation's Slack workspace the ticket came from: in an org-wide Enterprise Grid
    # install, the org workspace whose channel it is; otherwise the installation's own. None:
    # not known (the org's channel is owned by another organisation, or the ticket is older).
    channel_team_id: Mapped[str | None] = mapped_column(String(32))
    root_ts: Mapped[str | None] = mapped_column(String(32))
    permalink: Mapped[str | None] = mapped_column(Text)
    triage_channel_id: Mapped[str | None] = mapped_column(String(32))
    triage_card_ts: Mapped[str | None] = mapped_column(String(32))

    # SLA: when the running targets fall due, and how the ticket stands against them.
    first_response_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    next_response_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolution_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sla_state: Mapped[str] = mapped_column(
        String(16), default="on_track", server_default="on_track"
    )

    external_source: Mapped[str | None] = mapped_column(String(64))
    external_id: Mapped[str | None] = mapped_column(String(255))

    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_customer_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def display_number(self) -> str:
        return f"T-{self.number}"


class TicketMessage(BatchInserted, Base):
    """One message of a ticket's conversation: the customer thread or the internal triage thread."""

    __tablename__ = "ticket_messages"
    __table_args__ = (
        UniqueConstraint("ticket_id", "channel_id", "ts"),
        Index("ix_ticket_messages_ticket_ts", "ticket_id", "ts"),
    )

    id: Mapped[int] = mapped_column(BigIntegerId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    channel_id: Mapped[str] = mapped_column(String(32))
    ts: Mapped[str] = mapped_column(String(32))
    author_user_id: Mapped[str | None] = mapped_column(String(32))
    author_kind: Mapped[AuthorKind] = mapped_column(enum_column_type(AuthorKind))
    # Written in the triage thread: an internal note that never reaches the customer.
    is_internal: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = created_at_column()
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class TicketEvent(BatchInserted, Base):
    """The audit trail: one row for every change to a ticket, with who made it."""

    __tablename__ = "ticket_events"
    __table_args__ = (Index("ix_ticket_events_ticket_created", "ticket_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigIntegerId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(64))
    actor_kind: Mapped[ActorKind] = mapped_column(enum_column_type(ActorKind))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    created_at: Mapped[datetime] = created_at_column()
