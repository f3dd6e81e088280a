"""A version on each workspace for what replicas keep in memory of its settings.

SLA policies, business hours and webhook subscriptions are read for every new ticket and timer
and change rarely; replicas keep them under this version, which each change bumps in its own
transaction (app/workspaces/settings.py).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 11:05:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "workspaces",
        sa.Column("settings_version", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )


def downgrade() -> None:
    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.drop_column("settings_version")
