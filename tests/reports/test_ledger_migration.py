"""Migration 0010 gives SLA ledger rows written before it their ticket's context, on SQLite and
PostgreSQL, so that the metrics count old outcomes too."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from app.db import create_null_pool_engine
from app.schema import alembic_config, upgrade_to_head


async def downgrade_to(database_url: str, revision: str) -> None:
    engine = create_null_pool_engine(database_url, foreign_keys=False)
    config = alembic_config(database_url)

    def downgrade(connection) -> None:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

    try:
        async with engine.begin() as connection:
            await connection.run_sync(downgrade)
    finally:
        await engine.dispose()


async def test_old_ledger_rows_get_their_tickets_context(database_url):
    await downgrade_to(database_url, "0009")
    engine = create_null_pool_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO workspaces (id, slack_team_id, name, time_zone,"
                    " next_ticket_number) VALUES (7, 'T0001', 'Acme', 'UTC', 2)"
                )
            )
            await connection.execute(
                text(
                    "INSERT INTO tickets (id, workspace_id, number, subject, status, priority,"
                    " source, is_external, channel_id, assignee_user_id, account_name, sla_state,"
                    " created_at) VALUES (3, 7, 1, 'Old', 'resolved', 'normal', 'api', false,"
                    " 'CSUPPORT', 'UAGENT', 'Acme', 'on_track', '2025-06-01 09:00:00')"
                )
            )
            await connection.execute(
                text(
                    "INSERT INTO sla_ledger (ticket_id, target, kind, reason, at) VALUES"
                    " (3, 'first_response', 'met', 'agent replied', '2025-06-01 09:30:00')"
                )
            )

        await upgrade_to_head(database_url)

        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    text(
                        "SELECT workspace_id, channel_id, assignee_user_id, account_name"
                        " FROM sla_ledger"
                    )
                )
            ).one()
    finally:
        await engine.dispose()
    assert tuple(row) == (7, "CSUPPORT", "UAGENT", "Acme")
