"""Add home_tabs: the users who opened ticketbot's Home tab, so only theirs are republished.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 07:20:15.372100+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "home_tabs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("last_opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_home_tabs_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_home_tabs")),
        sa.UniqueConstraint(
            "workspace_id", "user_id", name=op.f("uq_home_tabs_workspace_id_user_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("home_tabs")
