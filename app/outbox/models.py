"""The outbox: every effect we owe the outside world, written with the change that causes it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BatchInserted, BigIntegerId, JSONDocument, UTCDateTime
from app.outbox.enums import OutboxKind, OutboxStatus
from app.types import created_at_column, enum_column_type

_PENDING = text("status = 'pending'")


class OutboxMessage(BatchInserted, Base):
    __tablename__ = "outbox"
    __table_args__ = (
        # The dispatcher's "what is ready" query touches only pending rows.
        Index(
            "ix_outbox_pending_next_attempt",
            "next_attempt_at",
            postgresql_where=_PENDING,
            sqlite_where=_PENDING,
        ),
        Index("ix_outbox_depends_on", "depends_on_id"),
        Index(
            "ix_outbox_pending_coalesce_key",
            "coalesce_key",
            postgresql_where=_PENDING,
            sqlite_where=_PENDING,
        ),
        Index("ix_outbox_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntegerId, primary_key=True)
    kind: Mapped[OutboxKind] = mapped_column(enum_column_type(OutboxKind))
    # A Slack Web API method ("chat.postMessage") or a webhook URL.
    target: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    status: Mapped[OutboxStatus] = mapped_column(
        enum_column_type(OutboxStatus), default=OutboxStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # A claim is a lease: a dispatcher that dies mid-delivery leaves a claim that simply expires.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When an attempt whose outcome is unknown began (a timeout, or a claim whose dispatcher died
    # before recording): the far side may have acted. A Slack post is then looked for (by the
    # row's id in its metadata) before it is sent again.
    maybe_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A paced slot this row holds (app/outbox/pacing.py): it was deferred to it, and when it is
    # claimed again it goes without reserving another.
    paced_slot_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    # Delivered only after this row is; its result's fields (e.g. a message `ts`) fill
    # `payload_from_dependency` names in this row's payload.
    depends_on_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id", ondelete="SET NULL"))
    payload_from_dependency: Mapped[dict[str, str] | None] = mapped_column(JSONDocument)
    # Name of a registered handler told about the result in the delivering transaction.
    on_delivered: Mapped[str | None] = mapped_column(String(64))
    on_delivered_args: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    # Rows rendered at send time from current state (a triage card) need only one pending copy:
    # a new change finds the waiting row by this key instead of queueing another.
    coalesce_key: Mapped[str | None] = mapped_column(String(128))
    workspace_id: Mapped[int | None] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = created_at_column()
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PacedKey(Base):
    """One rate limit's pace, shared by every replica (app/outbox/pacing.py): the moment by
    which every call it let through would have gone out one interval apart."""

    __tablename__ = "paced_keys"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    filled_until: Mapped[datetime] = mapped_column(UTCDateTime())
