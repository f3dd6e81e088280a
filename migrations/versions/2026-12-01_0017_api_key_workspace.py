"""An API key may belong to one workspace.

With several installed (OAuth), each key acts on its own workspace's tickets only. Existing
keys keep NULL: the one workspace there is.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 16:40:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("workspace_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_api_keys_workspace_id", "workspaces", ["workspace_id"], ["id"], ondelete="CASCADE"
        )


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_constraint("fk_api_keys_workspace_id", type_="foreignkey")
        batch_op.drop_column("workspace_id")
