"""Add the paced keys replicas share to stay under Slack's rate limits, and outbox slots.

Each key is one rate limit's pace; an outbox row deferred to its pace holds its slot.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 21:40:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "paced_keys",
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("filled_until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_paced_keys")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("paced_slot_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("paced_slot_at")
    op.drop_table("paced_keys")
