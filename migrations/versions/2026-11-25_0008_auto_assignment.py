"""Add auto-assignment settings (per channel and per member) and an index on resolution time.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 07:20:53.140824+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index(
            "ix_tickets_workspace_resolved", ["workspace_id", "resolved_at"], unique=False
        )

    with op.batch_alter_table("team_members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("capacity", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "working_hours",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )

    with op.batch_alter_table("watched_channels", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "auto_assign",
                sa.Enum(
                    "off",
                    "round_robin",
                    "least_loaded",
                    name="autoassignmode",
                    native_enum=False,
                    length=32,
                ),
                server_default="off",
                nullable=False,
            )
        )
        batch_op.add_column(
            sa.Column("auto_assign_last_user_id", sa.String(length=32), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_workspace_resolved")

    with op.batch_alter_table("watched_channels", schema=None) as batch_op:
        batch_op.drop_column("auto_assign_last_user_id")
        batch_op.drop_column("auto_assign")

    with op.batch_alter_table("team_members", schema=None) as batch_op:
        batch_op.drop_column("working_hours")
        batch_op.drop_column("capacity")
