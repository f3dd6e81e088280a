"""The `ticketbot` command: serve, migrate, dev, demo.

Errors a person can fix (a missing setting, an unreachable database, a refused token) end the
command with one line naming the problem, not a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from app.config import Settings, SettingsError, load_settings
from app.logs import configure_logging

EXIT_CONFIG_ERROR = 2
EXIT_STARTUP_ERROR = 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except SettingsError as exc:
        print(f"ticketbot: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ticketbot", description="Self-hosted, Slack-native support ticketing."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the HTTP app (Slack endpoint, API, scheduler)")
    serve.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    serve.add_argument("--port", type=int, default=3000, help="port to listen on (default 3000)")
    serve.add_argument(
        "--no-migrate", action="store_true", help="do not upgrade the database schema first"
    )
    serve.set_defaults(handler=_serve)

    dev = commands.add_parser(
        "dev", help="run ticketbot against the bundled Slack emulator (no Slack app needed)"
    )
    dev.add_argument("--host", default="127.0.0.1", help="address to listen on")
    dev.add_argument("--port", type=int, default=3000, help="ticketbot's port (default 3000)")
    dev.add_argument(
        "--emulator-port", type=int, default=3001, help="the Slack emulator's port (default 3001)"
    )
    dev.add_argument(
        "--database-url",
        default="sqlite+aiosqlite:///./ticketbot-dev.db",
        help="database for dev mode (default: ./ticketbot-dev.db)",
    )
    dev.set_defaults(handler=_dev)

    demo = commands.add_parser(
        "demo",
        help="play one ticket from question to resolution against the bundled Slack emulator"
        " and print what everyone saw (no Slack app, no setup)",
    )
    demo.set_defaults(handler=_demo)

    migrate = commands.add_parser("migrate", help="upgrade the database schema to the newest")
    migrate.set_defaults(handler=_migrate)
    return parser


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.main import create_app

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    if not args.no_migrate:
        code = _run_migrations(settings)
        if code:
            return code
    problem = asyncio.run(_preflight(settings))
    if problem:
        print(f"ticketbot: {problem}", file=sys.stderr)
        return EXIT_STARTUP_ERROR
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_config=None,
        proxy_headers=True,
        forwarded_allow_ips="*",
    )
    return 0


def _dev(args: argparse.Namespace) -> int:
    from app.dev import dev

    dev(
        host=args.host,
        port=args.port,
        emulator_port=args.emulator_port,
        database_url=args.database_url,
    )
    return 0


def _demo(args: argparse.Namespace) -> int:
    from app.demo import demo

    return demo()


def _migrate(args: argparse.Namespace) -> int:
    from app.config import Settings as _Settings

    database_url = _Settings.model_fields["database_url"].default
    # `migrate` needs only the database: do not demand Slack credentials for it.
    try:
        settings = load_settings()
        database_url = settings.database_url
        configure_logging(settings.log_level, settings.log_format)
    except SettingsError:
        import os

        database_url = os.environ.get("DATABASE_URL", database_url)
        configure_logging("INFO", _Settings.model_fields["log_format"].default)
    return _run_migrations_url(database_url)


def _run_migrations(settings: Settings) -> int:
    return _run_migrations_url(settings.database_url)


def _run_migrations_url(database_url: str) -> int:
    from app.schema import upgrade_to_head

    try:
        asyncio.run(upgrade_to_head(database_url))
    except (OSError, ConnectionError) as exc:
        print(f"ticketbot: DATABASE_URL: cannot connect to the database ({exc})", file=sys.stderr)
        return EXIT_STARTUP_ERROR
    except Exception as exc:
        if type(exc).__module__.startswith(("sqlalchemy", "asyncpg", "sqlite3")):
            print(f"ticketbot: DATABASE_URL: migration failed ({exc})", file=sys.stderr)
            return EXIT_STARTUP_ERROR
        raise
    return 0


async def _preflight(settings: Settings) -> str | None:
    """Fail before serving if the Slack token is refused (an unreachable Slack is not fatal)."""
    import aiohttp
    from slack_sdk.errors import SlackApiError

    from app.runtime import FATAL_AUTH_ERRORS
    from app.slack.client import build_outbox_client

    timeout = aiohttp.ClientTimeout(total=settings.slack_http_timeout_seconds)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        client = build_outbox_client(settings, session)
        try:
            await client.auth_test()
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error in FATAL_AUTH_ERRORS:
                return f"SLACK_BOT_TOKEN was refused by Slack ({error})"
        except Exception:
            return None
    return None


if __name__ == "__main__":
    raise SystemExit(main())
