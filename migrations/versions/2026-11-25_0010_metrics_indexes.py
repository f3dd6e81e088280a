"""Copy ticket context onto SLA ledger rows and add the covering indexes the metrics read.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25 08:24:09.432192+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

METRICS_COLUMNS = ["status", "channel_id", "assignee_user_id", "account_name"]
OUTCOMES = sa.text("kind IN ('met', 'met_late', 'breached')")
ANSWERED = sa.text("first_response_at IS NOT NULL")
COPIED = ("workspace_id", "channel_id", "assignee_user_id", "account_name")


def upgrade() -> None:
    with op.batch_alter_table("sla_ledger", schema=None) as batch_op:
        batch_op.add_column(sa.Column("workspace_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("channel_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("assignee_user_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("account_name", sa.String(length=255), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_sla_ledger_workspace_id_workspaces"),
            "workspaces",
            ["workspace_id"],
            ["id"],
            ondelete="CASCADE",
        )

    # Rows written before this revision get their ticket's context as it stands now.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "UPDATE sla_ledger SET "
            + ", ".join(f"{column} = tickets.{column}" for column in COPIED)
            + " FROM tickets WHERE tickets.id = sla_ledger.ticket_id"
        )
    else:
        op.execute(
            "UPDATE sla_ledger SET "
            + ", ".join(
                f"{column} = (SELECT {column} FROM tickets WHERE tickets.id = sla_ledger.ticket_id)"
                for column in COPIED
            )
        )

    with op.batch_alter_table("sla_ledger", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sla_ledger_outcomes",
            ["workspace_id", "at"],
            unique=False,
            postgresql_include=["kind", "reason", "channel_id", "assignee_user_id", "account_name"],
            postgresql_where=OUTCOMES,
            sqlite_where=OUTCOMES,
        )

    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index(
            "ix_tickets_workspace_first_response",
            ["workspace_id", "first_response_at"],
            unique=False,
            postgresql_include=["created_at", *METRICS_COLUMNS],
            postgresql_where=ANSWERED,
            sqlite_where=ANSWERED,
        )

    if op.get_bind().dialect.name == "postgresql":
        # Same keys, now covering: SQLite has no INCLUDE, so its indexes stay as they are.
        _recreate_ticket_indexes(created=METRICS_COLUMNS, resolved=["created_at", *METRICS_COLUMNS])


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _recreate_ticket_indexes(created=None, resolved=None)

    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_workspace_first_response")

    with op.batch_alter_table("sla_ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_sla_ledger_outcomes")
        batch_op.drop_constraint(
            batch_op.f("fk_sla_ledger_workspace_id_workspaces"), type_="foreignkey"
        )
        batch_op.drop_column("account_name")
        batch_op.drop_column("assignee_user_id")
        batch_op.drop_column("channel_id")
        batch_op.drop_column("workspace_id")


def _recreate_ticket_indexes(*, created: list[str] | None, resolved: list[str] | None) -> None:
    for name, column, include in (
        ("ix_tickets_workspace_created", "created_at", created),
        ("ix_tickets_workspace_resolved", "resolved_at", resolved),
    ):
        op.drop_index(name, table_name="tickets")
        op.create_index(
            name, "tickets", ["workspace_id", column], unique=False, postgresql_include=include
        )
