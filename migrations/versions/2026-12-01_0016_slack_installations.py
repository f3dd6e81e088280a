"""Installations from Slack's OAuth flow, and the states of installs under way.

One row per installed workspace, its bot token (and refresh token) encrypted; one-time OAuth
states, so any replica can finish an install another began.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 15:20:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "slack_installations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "workspace_id",
            sa.Integer(),
            sa.ForeignKey("workspaces.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
        sa.Column("app_id", sa.String(32)),
        sa.Column("team_id", sa.String(32)),
        sa.Column("team_name", sa.String(255)),
        sa.Column("enterprise_id", sa.String(32)),
        sa.Column("enterprise_name", sa.String(255)),
        sa.Column("is_enterprise_install", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("bot_id", sa.String(32)),
        sa.Column("bot_user_id", sa.String(32), nullable=False),
        sa.Column("bot_scopes", sa.Text(), nullable=False),
        sa.Column("bot_token_encrypted", sa.Text(), nullable=False),
        sa.Column("bot_refresh_token_encrypted", sa.Text()),
        sa.Column("bot_token_expires_at", sa.DateTime(timezone=True)),
        sa.Column("refresh_claimed_until", sa.DateTime(timezone=True)),
        sa.Column("installer_user_id", sa.String(32)),
        sa.Column("installed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "slack_oauth_states",
        sa.Column("state", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("slack_oauth_states")
    op.drop_table("slack_installations")
