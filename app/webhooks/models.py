"""Webhook subscriptions, the log of their deliveries, and inbound webhook sources."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BatchInserted, BigIntegerId, JSONDocument, UTCDateTime
from app.types import created_at_column, enum_column_type
from app.webhooks.enums import DeliveryStatus

_ACTIVE = text("active")


class WebhookSubscription(Base):
    """A receiver URL that is sent the workspace's events of the types it asked for."""

    __tablename__ = "webhook_subscriptions"
    __table_args__ = (
        # Emission asks "who wants this workspace's events?" on every ticket change: with no
        # subscriptions that is one probe of this small index.
        Index(
            "ix_webhook_subscriptions_active_workspace",
            "workspace_id",
            postgresql_where=_ACTIVE,
            sqlite_where=_ACTIVE,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(String(255), default="", server_default="")
    event_types: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    # Kept in the clear: every delivery is signed with it at send time. Shown once, at creation.
    secret: Mapped[str] = mapped_column(String(128))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WebhookDelivery(BatchInserted, Base):
    """One event owed to one subscription, and how its attempts went (the delivery log).

    The body is kept verbatim, so every attempt (and a redelivery) sends the same bytes.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_subscription", "subscription_id", "id"),
        Index("ix_webhook_deliveries_event", "event_id"),
        # Outbox housekeeping deletes old rows; SET NULL here must find them by index.
        Index("ix_webhook_deliveries_outbox", "outbox_id"),
    )

    id: Mapped[int] = mapped_column(BigIntegerId, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE")
    )
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id", ondelete="SET NULL"))
    event_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[DeliveryStatus] = mapped_column(
        enum_column_type(DeliveryStatus), default=DeliveryStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Set on a delivery made by "redeliver": the delivery whose event it sends again.
    redelivery_of_id: Mapped[int | None] = mapped_column(BigIntegerId)
    created_at: Mapped[datetime] = created_at_column()
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class InboundSource(Base):
    """A system allowed to open and update tickets at `POST /webhooks/inbound/{name}`."""

    __tablename__ = "inbound_sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    # The last segment of the URL, so unique across the installation.
    name: Mapped[str] = mapped_column(String(64), unique=True)
    # Kept in the clear: request signatures are checked with it. Shown once, at creation.
    secret: Mapped[str] = mapped_column(String(128))
    # Where a new ticket's opening message is posted, so replies in its thread join the ticket.
    channel_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = created_at_column()
