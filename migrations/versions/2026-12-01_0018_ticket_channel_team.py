"""A ticket remembers which Slack workspace of its installation it came from.

For an org-wide Enterprise Grid install, one installation serves every workspace of the org;
each ticket records the workspace whose channel it came from. Existing tickets of a
single-workspace installation are filled in with that workspace.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 16:20:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel_team_id", sa.String(length=32), nullable=True))
    op.execute(
        "UPDATE tickets SET channel_team_id = (SELECT w.slack_team_id FROM workspaces w"
        " WHERE w.id = tickets.workspace_id AND NOT w.is_enterprise_install)"
    )


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("channel_team_id")
