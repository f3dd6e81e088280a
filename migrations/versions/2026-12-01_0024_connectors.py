"""Connectors, their far-side links and sync log; open tickets may wait on engineering.

Connectors are CRMs, helpdesks and issue trackers; the partial indexes of open tickets take
the new open status (waiting_on_engineering) in.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-01 22:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_OPEN_BEFORE = sa.text("status IN ('new', 'open', 'waiting_on_customer')")
_OPEN = sa.text("status IN ('new', 'open', 'waiting_on_customer', 'waiting_on_engineering')")
_OPEN_INDEXES = {
    "ix_tickets_open_by_workspace": ["workspace_id", "created_at"],
    "ix_tickets_open_by_sla_state": ["workspace_id", "sla_state", "priority", "created_at"],
}


def _open_indexes(predicate: sa.TextClause) -> None:
    for name, columns in _OPEN_INDEXES.items():
        op.drop_index(name, table_name="tickets")
        op.create_index(
            name, "tickets", columns, postgresql_where=predicate, sqlite_where=predicate
        )


def upgrade() -> None:
    _open_indexes(_OPEN)
    op.create_table(
        "connectors",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "workspace_id",
            sa.Integer(),
            sa.ForeignKey("workspaces.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("vendor", sa.String(32), nullable=False),
        sa.Column("base_url", sa.String(512), nullable=False),
        sa.Column("token_encrypted", sa.Text(), nullable=False),
        sa.Column("webhook_secret_encrypted", sa.Text(), nullable=True),
        sa.Column("extra", JSON, nullable=False),
        sa.Column("mapping", JSON, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("workspace_id", "vendor"),
    )
    op.create_table(
        "connector_links",
        sa.Column("id", BIGINT_ID, primary_key=True, autoincrement=True),
        sa.Column(
            "connector_id",
            sa.Integer(),
            sa.ForeignKey("connectors.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("record_kind", sa.String(16), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("remote_id", sa.String(128), nullable=False),
        sa.Column("remote_key", sa.String(64), nullable=True),
        sa.Column("remote_url", sa.String(512), nullable=True),
        sa.Column("remote_status", sa.String(64), nullable=True),
        sa.Column("remote_done", sa.Boolean(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("connector_id", "record_kind", "record_id"),
    )
    op.create_index("ix_connector_links_remote", "connector_links", ["connector_id", "remote_id"])
    op.create_table(
        "connector_sync_log",
        sa.Column("id", BIGINT_ID, primary_key=True, autoincrement=True),
        sa.Column(
            "connector_id",
            sa.Integer(),
            sa.ForeignKey("connectors.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("record_kind", sa.String(16), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("remote_id", sa.String(128), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("outbox_id", BIGINT_ID, nullable=True),
        sa.Column("event_id", sa.String(160), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("connector_id", "event_id"),
    )
    op.create_index("ix_connector_sync_log_connector", "connector_sync_log", ["connector_id", "id"])


def downgrade() -> None:
    op.drop_table("connector_sync_log")
    op.drop_table("connector_links")
    op.drop_table("connectors")
    _open_indexes(_OPEN_BEFORE)
