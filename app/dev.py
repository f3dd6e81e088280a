"""`ticketbot dev`: ticketbot and the bundled Slack emulator in one process, no Slack app needed.

For trying ticketbot on a laptop and for developing it. It never touches the database in
DATABASE_URL: it keeps its own SQLite file unless told otherwise.
"""

from __future__ import annotations

import asyncio

import uvicorn

from app.config import load_settings
from app.logs import configure_logging
from app.main import create_app
from app.schema import upgrade_to_head
from app.slack_emulator import SlackEmulator

DEV_BOT_TOKEN = "xoxb-dev-emulator"
DEV_SIGNING_SECRET = "dev-signing-secret"
DEV_TEAM_ID = "T0DEV"
DEV_LEAD = "UDEVLEAD"


async def run_dev(*, host: str, port: int, emulator_port: int, database_url: str) -> None:
    emulator = SlackEmulator(bot_token=DEV_BOT_TOKEN, team_id=DEV_TEAM_ID, team_name="Acme")
    emulator.add_channel("CSUPPORT", name="support")
    emulator.add_channel("CTRIAGE", name="support-triage")
    emulator.add_user(DEV_LEAD, name="lee.lead", real_name="Lee Lead")
    await emulator.start("127.0.0.1", emulator_port)
    settings = load_settings(
        _env_file=None,
        database_url=database_url,
        slack_bot_token=DEV_BOT_TOKEN,
        slack_signing_secret=DEV_SIGNING_SECRET,
        slack_api_url=emulator.api_url,
        support_leads=[DEV_LEAD],
        triage_channel_id="CTRIAGE",
    )
    configure_logging(settings.log_level, settings.log_format)
    await upgrade_to_head(settings.database_url)
    print(
        "\n".join(
            [
                "ticketbot dev mode",
                f"  ticketbot:       http://{host}:{port}  (/healthz, /readyz, /metrics)",
                f"  Slack endpoint:  http://{host}:{port}/slack/events",
                f"  Slack emulator:  {emulator.api_url}",
                f"  recorded calls:  {emulator.base_url}/_emulator/calls",
                f"  signing secret:  {DEV_SIGNING_SECRET}",
                f"  database:        {database_url}",
                "Press Ctrl-C to stop.",
            ]
        ),
        flush=True,
    )
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host=host, port=port, log_config=None)
    )
    try:
        await server.serve()
    finally:
        await emulator.stop()


def dev(*, host: str, port: int, emulator_port: int, database_url: str) -> None:
    asyncio.run(
        run_dev(host=host, port=port, emulator_port=emulator_port, database_url=database_url)
    )
