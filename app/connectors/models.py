"""A workspace's connectors, the far-side counterpart of each record they sync, and the sync
log. Written only by app/connectors (service.py for settings, sender.py for what was sent)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigIntegerId, JSONDocument, UTCDateTime
from app.types import created_at_column


class Connector(Base):
    __tablename__ = "connectors"
    __table_args__ = (UniqueConstraint("workspace_id", "vendor"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    # hubspot | salesforce | zendesk | jira | linear
    vendor: Mapped[str] = mapped_column(String(32))
    base_url: Mapped[str] = mapped_column(String(512))
    # Fernet-encrypted (TOKEN_ENCRYPTION_KEYS, app/token_cipher.py); read only to make a call.
    token_encrypted: Mapped[str] = mapped_column(Text)
    # The secret the vendor signs its webhooks with (Zendesk, Jira, Linear), encrypted likewise.
    webhook_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    # Not secret: Jira's and Zendesk's account email, Salesforce's API version.
    extra: Mapped[dict[str, str]] = mapped_column(JSONDocument, default=dict)
    # Overrides of the vendor's default field mapping (merged over it when a call is made).
    mapping: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    # active | paused | failing (its credentials were refused: nothing is sent until fixed)
    state: Mapped[str] = mapped_column(String(16), default="active")
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at_column()


class ConnectorLink(Base):
    """Our record's counterpart on the connector's far side: updates find their target, and a
    replay finds the record it already made."""

    __tablename__ = "connector_links"
    __table_args__ = (
        UniqueConstraint("connector_id", "record_kind", "record_id"),
        Index("ix_connector_links_remote", "connector_id", "remote_id"),
    )

    id: Mapped[int] = mapped_column(BigIntegerId, primary_key=True)
    connector_id: Mapped[int] = mapped_column(ForeignKey("connectors.id", ondelete="CASCADE"))
    record_kind: Mapped[str] = mapped_column(String(16))  # account | ticket | comment | issue
    record_id: Mapped[int] = mapped_column(Integer)
    remote_id: Mapped[str] = mapped_column(String(128))
    remote_key: Mapped[str | None] = mapped_column(String(64))
    remote_url: Mapped[str | None] = mapped_column(String(512))
    remote_status: Mapped[str | None] = mapped_column(String(64))
    remote_done: Mapped[bool] = mapped_column(default=False)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ConnectorSyncEntry(Base):
    """One attempt to send a record, as the sync log shows it."""

    __tablename__ = "connector_sync_log"
    __table_args__ = (
        Index("ix_connector_sync_log_connector", "connector_id", "id"),
        # A vendor's webhook delivery, acted on once however often it is sent.
        UniqueConstraint("connector_id", "event_id"),
    )

    id: Mapped[int] = mapped_column(BigIntegerId, primary_key=True)
    connector_id: Mapped[int] = mapped_column(ForeignKey("connectors.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(32))
    record_kind: Mapped[str] = mapped_column(String(16))
    record_id: Mapped[int] = mapped_column(Integer)
    # sent | retrying | failed | cancelled | received (a webhook from the far side)
    outcome: Mapped[str] = mapped_column(String(16))
    remote_id: Mapped[str | None] = mapped_column(String(128))
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    outbox_id: Mapped[int | None] = mapped_column(BigIntegerId)
    event_id: Mapped[str | None] = mapped_column(String(160))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
