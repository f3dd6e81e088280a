"""The `ticketbot` command: serve, migrate, dev (and dev send), demo, apikey, webhook, inbound.

Errors a person can fix (a missing setting, an unreachable database, a port in use, a refused
token) end the command with one line naming the problem, not a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from app.config import (
    Settings,
    SettingsError,
    load_database_settings,
    load_settings,
    load_token_keys,
)
from app.logs import configure_logging

if TYPE_CHECKING:  # imported lazily at run time: `ticketbot --help` stays fast
    from sqlalchemy.ext.asyncio import AsyncSession

    from app.dev_send import DevTarget
    from app.schema import SchemaUpgrade

T = TypeVar("T")

EXIT_CONFIG_ERROR = 2
EXIT_STARTUP_ERROR = 1

# The commands that read DATABASE_URL and no other setting.
DATABASE_ONLY_COMMANDS = (
    "migrate",
    "apikey",
    "webhook",
    "inbound",
    "connector",
    "rotate-token-key",
)
# What each command's --help says about the settings it reads (all are in .env.example).
SETTINGS_READ_FROM = "Read from the environment, or from a .env file in the working directory."
DATABASE_ONLY = (
    "Settings: DATABASE_URL only (default sqlite+aiosqlite:///./ticketbot.db); no Slack settings. "
    + SETTINGS_READ_FROM
)


class CommandFailed(Exception):
    """A command cannot do its work; the message says why in one line."""

    def __init__(self, message: str, exit_code: int = EXIT_STARTUP_ERROR) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command in DATABASE_ONLY_COMMANDS:
            load_database_settings()  # a bad DATABASE_URL gets its one line before any work
        return args.handler(args)
    except SettingsError as exc:
        print(f"ticketbot: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    except CommandFailed as exc:
        print(f"ticketbot: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ticketbot",
        description="Self-hosted, Slack-native support ticketing.",
        epilog="`ticketbot COMMAND --help` says what a command does and which settings it needs.",
    )
    parser.add_argument("--version", action="version", version=f"ticketbot {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="run the HTTP app (Slack endpoint, API, scheduler)",
        description="Upgrade the database schema, check the bot token with Slack, then serve"
        " the Slack endpoint (/slack/events), the REST API, health and metrics, with the outbox"
        " dispatcher and the scheduler.",
        epilog="Settings: SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (required), SLACK_APP_TOKEN"
        " (Socket Mode), DATABASE_URL (default sqlite+aiosqlite:///./ticketbot.db); optional"
        " ones such as SUPPORT_LEADS and"
        " TRIAGE_CHANNEL_ID are listed in .env.example. " + SETTINGS_READ_FROM,
    )
    serve.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    serve.add_argument("--port", default="3000", help="port to listen on (default 3000)")
    serve.add_argument(
        "--no-migrate", action="store_true", help="do not upgrade the database schema first"
    )
    serve.add_argument(
        "--socket-mode",
        action="store_true",
        help="also take Slack's requests over Socket Mode (no public address needed; needs"
        " SLACK_APP_TOKEN, which turns it on by itself too)",
    )
    serve.set_defaults(handler=_serve)

    dev = commands.add_parser(
        "dev",
        help="run ticketbot against the bundled Slack emulator (no Slack app needed)",
        description="Run ticketbot and the bundled Slack emulator, with a lead, an agent, a"
        " Slack Connect customer and two channels, until Ctrl-C; `ticketbot dev send` plays"
        " those people from another terminal.",
        epilog="Settings: none. It brings its own Slack token, signing secret and database"
        " (--database-url), reads no .env, and ignores DATABASE_URL.",
    )
    dev.add_argument("--host", default="127.0.0.1", help="address to listen on")
    dev.add_argument("--port", default="3000", help="ticketbot's port (default 3000)")
    dev.add_argument(
        "--emulator-port", default="3001", help="the Slack emulator's port (default 3001)"
    )
    dev.add_argument(
        "--database-url",
        default="sqlite+aiosqlite:///./ticketbot-dev.db",
        help="database for dev mode (default: ./ticketbot-dev.db)",
    )
    dev.set_defaults(handler=_dev)
    _add_dev_send_commands(dev)

    demo = commands.add_parser(
        "demo",
        help="play one ticket from question to resolution against the bundled Slack emulator"
        " and print what everyone saw (no Slack app, no setup)",
        description="Play one ticket from question to resolution against the bundled Slack"
        " emulator, on a fresh SQLite database in a temporary directory, and print what each"
        " side saw and the ticket's audit trail. Exits 1 if a step does not happen as it should.",
        epilog="Settings: none. It reads no environment variables and no .env, and leaves"
        " nothing behind.",
    )
    demo.add_argument(
        "--socket-mode",
        action="store_true",
        help="send Slack's requests over Socket Mode (the emulator's) instead of HTTP",
    )
    demo.set_defaults(handler=_demo)

    migrate = commands.add_parser(
        "migrate",
        help="upgrade the database schema to the newest",
        description="Upgrade the database schema in DATABASE_URL to the newest revision and say"
        " in one line what it did. Safe while other replicas start (`serve` migrates too).",
        epilog=DATABASE_ONLY,
    )
    migrate.set_defaults(handler=_migrate)

    _add_apikey_commands(commands)
    _add_webhook_commands(commands)
    _add_inbound_commands(commands)
    _add_connector_commands(commands)
    _add_token_key_commands(commands)
    return parser


def _add_token_key_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    new_key = commands.add_parser(
        "new-token-key",
        help="print a new key for TOKEN_ENCRYPTION_KEYS",
        description="Print a new random key (Fernet: 32 bytes, url-safe base64) for"
        " TOKEN_ENCRYPTION_KEYS, which encrypts the bot tokens of the workspaces installed"
        " through /slack/install. Keep it secret and keep it safe: without it the stored"
        " tokens cannot be read (each workspace would have to install again).",
        epilog="Settings: none.",
    )
    new_key.set_defaults(handler=_new_token_key)
    rotate = commands.add_parser(
        "rotate-token-key",
        help="encrypt every stored bot token again with the newest key",
        description="Re-encrypt every installation's tokens with the first key of"
        " TOKEN_ENCRYPTION_KEYS. To change the key: put a new key first (`ticketbot"
        " new-token-key`), keep the old one after it, restart, run this, then drop the old key.",
        epilog="Settings: DATABASE_URL and TOKEN_ENCRYPTION_KEYS. " + SETTINGS_READ_FROM,
    )
    rotate.set_defaults(handler=_rotate_token_key)


def _new_token_key(args: argparse.Namespace) -> int:
    from app.token_cipher import TokenCipher

    print(TokenCipher.new_key())
    return 0


def _rotate_token_key(args: argparse.Namespace) -> int:
    from app.token_cipher import TokenCipher, TokenCipherError
    from app.workspaces.installations import reencrypt_tokens

    keys = load_token_keys()
    if not keys:
        raise CommandFailed("TOKEN_ENCRYPTION_KEYS is not set: nothing to encrypt with", 2)
    cipher = TokenCipher(keys)

    async def rotate(session: AsyncSession) -> int:
        return await reencrypt_tokens(session=session, cipher=cipher)

    try:
        count = _with_database(rotate)
    except TokenCipherError:
        raise CommandFailed(
            "a stored token cannot be decrypted with any key of TOKEN_ENCRYPTION_KEYS (was the"
            " old key dropped before rotating?); nothing was changed"
        ) from None
    print(f"Re-encrypted the tokens of {count} installation(s) with the newest key.")
    return 0


def _add_dev_send_commands(dev: argparse.ArgumentParser) -> None:
    from app.dev import (
        DEV_EMULATOR_URL,
        DEV_SIGNING_SECRET,
        DEV_SUPPORT_CHANNEL,
        DEV_TRIAGE_CHANNEL,
        DEV_URL,
    )

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url", default=DEV_URL, help=f"the running `ticketbot dev` (default {DEV_URL})"
    )
    common.add_argument(
        "--emulator-url",
        default=DEV_EMULATOR_URL,
        help=f"its Slack emulator (default {DEV_EMULATOR_URL})",
    )
    common.add_argument(
        "--signing-secret",
        default=DEV_SIGNING_SECRET,
        help="the signing secret `ticketbot dev` printed (default: the dev one)",
    )
    who = "who does it: customer, agent, lead or a Slack user id (default: %s)"
    needs = (
        "Settings: none. It signs with the dev signing secret and talks to the running"
        " `ticketbot dev` (--url, --emulator-url)."
    )

    actions = dev.add_subparsers(
        dest="dev_command",
        metavar="[send]",
        title="actions",
        description="none: run the dev server; send: act in it, from another terminal",
    )
    send = actions.add_parser(
        "send",
        help="act as a person of the dev workspace: Slack-signed requests to `ticketbot dev`",
        description="Sign and send what Slack would send to the running `ticketbot dev`.",
        epilog=needs,
    )
    kinds = send.add_subparsers(dest="send_kind", required=True, metavar="KIND")

    message = kinds.add_parser(
        "message",
        parents=[common],
        help="post a message (a `message` event); prints its ts",
        description="Post a message (a `message` event); prints its ts.",
        epilog=needs,
    )
    message.add_argument("text", help="what the person types; @alex and #support autocomplete")
    message.add_argument("--as", dest="who", default="customer", help=who % "customer")
    message.add_argument(
        "--channel", default=DEV_SUPPORT_CHANNEL, help=f"channel id (default {DEV_SUPPORT_CHANNEL})"
    )
    message.add_argument("--thread", default=None, metavar="TS", help="reply in this thread")
    message.set_defaults(handler=_dev_send_message)

    command = kinds.add_parser(
        "command",
        parents=[common],
        help="run a slash command; prints the immediate answer",
        description="Run a slash command; prints the immediate answer.",
        epilog=needs,
    )
    command.add_argument("text", help='e.g. "/ticket list" (/ticket when left out)')
    command.add_argument("--as", dest="who", default="lead", help=who % "lead")
    command.add_argument(
        "--channel", default=DEV_SUPPORT_CHANNEL, help=f"channel id (default {DEV_SUPPORT_CHANNEL})"
    )
    command.set_defaults(handler=_dev_send_command)

    react = kinds.add_parser(
        "react",
        parents=[common],
        help="add a reaction to a message (`reaction_added`)",
        description="Add a reaction to a message (`reaction_added`).",
        epilog=needs,
    )
    react.add_argument("name", help="the emoji's name, e.g. ticket or white_check_mark")
    react.add_argument("--ts", required=True, help="the message's ts (`message` prints it)")
    react.add_argument("--as", dest="who", default="lead", help=who % "lead")
    react.add_argument(
        "--channel", default=DEV_SUPPORT_CHANNEL, help=f"channel id (default {DEV_SUPPORT_CHANNEL})"
    )
    react.set_defaults(handler=_dev_send_react)

    click = kinds.add_parser(
        "click",
        parents=[common],
        help="click a button or pick a menu option on ticketbot's newest message that has it",
        description="Click a button or pick a menu option on ticketbot's newest message that"
        " has it, and print what ticketbot told the clicker.",
        epilog=needs,
    )
    click.add_argument(
        "label", metavar="LABEL_OR_ACTION_ID", help='e.g. "Assign to me", Resolve, High'
    )
    click.add_argument("--as", dest="who", default="lead", help=who % "lead")
    click.add_argument(
        "--channel", default=DEV_TRIAGE_CHANNEL, help=f"channel id (default {DEV_TRIAGE_CHANNEL})"
    )
    click.add_argument("--ts", default=None, help="click on this message only")
    click.add_argument(
        "--wait",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="how long to wait for what ticketbot tells the clicker (default 2)",
    )
    click.set_defaults(handler=_dev_send_click)


def _add_apikey_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from app.apikeys.scopes import Scope

    apikey = commands.add_parser(
        "apikey",
        help="create, list and revoke REST API keys",
        description="Create, list and revoke the keys of the REST API (/api/...), sent as"
        " `Authorization: Bearer tb_...`.",
        epilog=DATABASE_ONLY,
    )
    actions = apikey.add_subparsers(dest="apikey_command", required=True, metavar="ACTION")
    create = actions.add_parser(
        "create",
        help="create a key and print it (shown only once)",
        description="Create a REST API key and print it: it is shown only this once.",
        epilog=DATABASE_ONLY,
    )
    create.add_argument("name", help="what the key is for, e.g. 'status page sync'")
    create.add_argument(
        "--scope",
        action="append",
        default=[],
        metavar="SCOPE",
        help="what the key may do; repeat or separate with commas"
        f" ({', '.join(scope.value for scope in Scope)}; admin implies all)."
        " Default: tickets:read",
    )
    _add_workspace_option(create)
    create.set_defaults(handler=_apikey_create)
    listing = actions.add_parser(
        "list",
        help="list keys (never their secret)",
        description="List the REST API keys: prefix, scopes, last use (never their secret).",
        epilog=DATABASE_ONLY,
    )
    listing.set_defaults(handler=_apikey_list)
    revoke = actions.add_parser(
        "revoke",
        help="revoke a key for good",
        description="Revoke a REST API key for good.",
        epilog=DATABASE_ONLY,
    )
    revoke.add_argument("key", metavar="PREFIX_OR_ID", help="the key's prefix (tb_...) or id")
    revoke.set_defaults(handler=_apikey_revoke)


def _add_webhook_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from app.webhooks.enums import WebhookEventType

    webhook = commands.add_parser(
        "webhook",
        help="subscribe URLs to ticket events, list them, read their delivery log",
        description="Subscribe URLs to ticket events (outbound webhooks), list them, remove"
        " them and read their delivery log. Needs a workspace in the database: start"
        " `ticketbot serve` once first.",
        epilog=DATABASE_ONLY,
    )
    actions = webhook.add_subparsers(dest="webhook_command", required=True, metavar="ACTION")
    add = actions.add_parser(
        "add",
        help="subscribe a URL and print its secret (shown only once)",
        description="Subscribe a URL to ticket events and print its signing secret: it is"
        " shown only this once.",
        epilog=DATABASE_ONLY,
    )
    add.add_argument("url", help="where events are POSTed (http or https)")
    add.add_argument(
        "--event",
        action="append",
        default=[],
        required=True,
        metavar="EVENT",
        help="an event type to send; repeat or separate with commas"
        f" ({', '.join(event.value for event in WebhookEventType)})",
    )
    add.add_argument("--description", default="", help="what the webhook is for")
    _add_workspace_option(add)
    add.set_defaults(handler=_webhook_add)
    listing = actions.add_parser(
        "list",
        help="list webhooks (never their secret)",
        description="List the outbound webhooks (never their secret).",
        epilog=DATABASE_ONLY,
    )
    _add_workspace_option(listing)
    listing.set_defaults(handler=_webhook_list)
    remove = actions.add_parser(
        "remove",
        help="delete a webhook; nothing still owed is sent",
        description="Delete an outbound webhook; nothing still owed to it is sent.",
        epilog=DATABASE_ONLY,
    )
    remove.add_argument("id", type=int, help="the webhook's id (see `webhook list`)")
    _add_workspace_option(remove)
    remove.set_defaults(handler=_webhook_remove)
    deliveries = actions.add_parser(
        "deliveries",
        help="a webhook's delivery log, newest first",
        description="Print a webhook's delivery log, newest first.",
        epilog=DATABASE_ONLY,
    )
    deliveries.add_argument("id", type=int, help="the webhook's id")
    deliveries.add_argument("--limit", type=int, default=50, help="how many (default 50)")
    _add_workspace_option(deliveries)
    deliveries.set_defaults(handler=_webhook_deliveries)


CONNECTOR_SETTINGS = (
    "Settings: DATABASE_URL, and TOKEN_ENCRYPTION_KEYS for anything that stores or uses a"
    " credential. " + SETTINGS_READ_FROM
)


def _add_connector_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    vendors = "hubspot, salesforce, zendesk, jira, linear"
    connector = commands.add_parser(
        "connector",
        help="sync with a CRM, helpdesk or issue tracker; read its sync log",
        description=f"Connect {vendors}; pause, resume, resync one record, read the sync log,"
        " remove. Credentials are stored encrypted (TOKEN_ENCRYPTION_KEYS).",
        epilog=CONNECTOR_SETTINGS,
    )
    actions = connector.add_subparsers(dest="connector_command", required=True, metavar="ACTION")
    add = actions.add_parser(
        "add",
        help="connect one (its credentials are checked with one call first)",
        description="Connect a vendor. The token is checked with one call to it (skip with"
        " --no-check) and stored encrypted.",
        epilog=CONNECTOR_SETTINGS,
    )
    add.add_argument("vendor", metavar="NAME", help=vendors)
    add.add_argument(
        "--base-url", required=True, help="its API address, e.g. https://acme.zendesk.com"
    )
    add.add_argument("--token", required=True, help="API token or access token")
    add.add_argument("--email", help="the account's email (Zendesk and Jira tokens need it)")
    add.add_argument("--webhook-secret", help="the secret its webhooks are signed with")
    add.add_argument("--mapping", help="JSON object of field-mapping overrides")
    add.add_argument("--no-check", action="store_true", help="do not call it to check the token")
    _add_workspace_option(add)
    add.set_defaults(handler=_connector_add)
    listing = actions.add_parser(
        "list",
        help="list connectors",
        description="List the connectors and their state (never a credential).",
        epilog=CONNECTOR_SETTINGS,
    )
    _add_workspace_option(listing)
    listing.set_defaults(handler=_connector_list)
    update = actions.add_parser(
        "update",
        help="new token, base URL, webhook secret or mapping",
        description="Change a connector. A new token takes a failing connector back into use"
        " and sends what waited.",
        epilog=CONNECTOR_SETTINGS,
    )
    update.add_argument("connector", metavar="NAME_OR_ID")
    update.add_argument("--base-url")
    update.add_argument("--token")
    update.add_argument("--webhook-secret")
    update.add_argument("--mapping", help="JSON object of field-mapping overrides")
    _add_workspace_option(update)
    update.set_defaults(handler=_connector_update)
    for name, paused, says in (
        ("pause", True, "hold every sync (nothing is lost; resume sends them)"),
        ("resume", False, "send what was held, and sync again"),
    ):
        command = actions.add_parser(
            name, help=says, description=says[0].upper() + says[1:] + ".", epilog=CONNECTOR_SETTINGS
        )
        command.add_argument("connector", metavar="NAME_OR_ID")
        _add_workspace_option(command)
        command.set_defaults(handler=_connector_pause, paused=paused)
    resync = actions.add_parser(
        "resync",
        help="send one ticket or account again",
        description="Send one ticket or account to the connector again, as it stands now.",
        epilog=CONNECTOR_SETTINGS,
    )
    resync.add_argument("connector", metavar="NAME_OR_ID")
    resync.add_argument("record", metavar="T-42|account:ID", help="a ticket number or account:ID")
    _add_workspace_option(resync)
    resync.set_defaults(handler=_connector_resync)
    log = actions.add_parser(
        "log",
        help="the sync log, newest first",
        description="Print the sync log, newest first: what was sent, when, the far side's id"
        " and the last error.",
        epilog=CONNECTOR_SETTINGS,
    )
    log.add_argument("connector", metavar="NAME_OR_ID")
    log.add_argument("--limit", type=int, default=50, help="how many (default 50)")
    _add_workspace_option(log)
    log.set_defaults(handler=_connector_log)
    remove = actions.add_parser(
        "remove",
        help="disconnect; what it still owed is cancelled",
        description="Disconnect it: its links and sync log go, what it still owed is cancelled.",
        epilog=CONNECTOR_SETTINGS,
    )
    remove.add_argument("connector", metavar="NAME_OR_ID")
    _add_workspace_option(remove)
    remove.set_defaults(handler=_connector_remove)


def _json_object(value: str | None) -> dict[str, Any] | None:
    import json

    if value is None:
        return None
    try:
        found = json.loads(value)
    except ValueError as exc:
        raise CommandFailed(f"--mapping is not JSON: {exc}") from None
    if not isinstance(found, dict):
        raise CommandFailed("--mapping must be a JSON object")
    return found


def _token_cipher() -> Any:
    from app.token_cipher import TokenCipher

    keys = load_token_keys()
    return TokenCipher(keys) if keys else None


def _connector_add(args: argparse.Namespace) -> int:
    from app.connectors.service import add_connector

    extra = {"email": args.email} if args.email else {}
    mapping = _json_object(args.mapping)
    cipher = _token_cipher()
    who = None if args.no_check else _check_connector(args.vendor, args.base_url, args.token, extra)

    async def add(session: AsyncSession) -> tuple[int, str]:
        connector = await add_connector(
            session=session,
            workspace_id=await _installation_workspace(session, args),
            vendor=args.vendor,
            base_url=args.base_url,
            token=args.token,
            cipher=cipher,
            extra=extra,
            mapping=mapping,
            webhook_secret=args.webhook_secret,
            now=_now(),
        )
        return connector.id, connector.vendor

    connector_id, vendor = _with_database(add)
    checked = f" ({who})" if who else ""
    print(f"Connected {vendor} as connector {connector_id}{checked}.")
    if args.webhook_secret:
        print(f"Point its webhooks at <your ticketbot address>/webhooks/connectors/{connector_id}.")
    return 0


def _check_connector(vendor: str, base_url: str, token: str, extra: dict[str, str]) -> str:
    """One call to the far side: who the token is, or a one-line refusal."""
    from app.connectors.registry import vendor_named
    from app.connectors.sender import build_http_client
    from app.connectors.vendors.base import Credentials, FarSideError
    from app.errors import DomainError

    try:
        found = vendor_named(vendor)
    except DomainError as exc:
        raise CommandFailed(str(exc)) from None

    async def check() -> str:
        async with build_http_client(15.0) as http:
            return await found.check(
                http, Credentials(base_url=base_url.rstrip("/"), token=token, extra=extra)
            )

    try:
        return asyncio.run(check())
    except FarSideError as exc:
        raise CommandFailed(
            f"{vendor} refused the check ({exc.failure.value}): {exc.message}; nothing was stored"
        ) from None


async def _named_connector(
    session: AsyncSession, args: argparse.Namespace, *, for_update: bool = False
) -> Any:
    """The connector `args.connector` names (a vendor or an id) in the chosen workspace."""
    from app.connectors.service import get_connector

    return await get_connector(
        session=session,
        workspace_id=await _installation_workspace(session, args),
        connector=args.connector,
        for_update=for_update,
    )


def _connector_update(args: argparse.Namespace) -> int:
    from app.connectors.service import change_connector

    mapping = _json_object(args.mapping)
    cipher = _token_cipher()

    async def change(session: AsyncSession) -> str:
        connector = await _named_connector(session, args, for_update=True)
        await change_connector(
            session=session,
            connector=connector,
            cipher=cipher,
            now=_now(),
            token=args.token,
            base_url=args.base_url,
            mapping=mapping,
            webhook_secret=args.webhook_secret,
        )
        return f"Updated {connector.vendor} (connector {connector.id}): {connector.state}."

    print(_with_database(change))
    return 0


def _connector_pause(args: argparse.Namespace) -> int:
    from app.connectors.service import change_connector

    async def change(session: AsyncSession) -> str:
        connector = await _named_connector(session, args, for_update=True)
        await change_connector(
            session=session, connector=connector, cipher=None, now=_now(), paused=args.paused
        )
        return f"{connector.vendor} (connector {connector.id}) is {connector.state}."

    print(_with_database(change))
    return 0


def _connector_resync(args: argparse.Namespace) -> int:
    from app.accounts.service import find_account
    from app.connectors.service import get_connector, resync
    from app.tickets.queries import get_ticket_by_number, parse_ticket_number

    async def again(session: AsyncSession) -> str:
        workspace_id = await _installation_workspace(session, args)
        connector = await get_connector(
            session=session, workspace_id=workspace_id, connector=args.connector
        )
        if args.record.lower().startswith("account:"):
            number = args.record.split(":", 1)[1]
            if not number.isdigit():
                raise CommandFailed("name an account as account:ID (see GET /api/accounts)")
            account = await find_account(
                session=session, workspace_id=workspace_id, account_id=int(number)
            )
            kind, record_id, shown = "account", account.id, account.name
        else:
            ticket = await get_ticket_by_number(
                session=session, workspace_id=workspace_id, number=parse_ticket_number(args.record)
            )
            kind, record_id, shown = "ticket", ticket.id, ticket.display_number
        await resync(
            session=session, connector=connector, record_kind=kind, record_id=record_id, now=_now()
        )
        return f"{shown} will be sent to {connector.vendor} again (see `connector log`)."

    print(_with_database(again))
    return 0


def _connector_list(args: argparse.Namespace) -> int:
    from app.connectors.service import list_connectors

    async def rows(session: AsyncSession) -> list[list[str]]:
        workspace_id = await _installation_workspace(session, args)
        return [
            [
                str(connector.id),
                connector.vendor,
                connector.base_url,
                connector.state,
                _when(connector.created_at),
                (connector.last_error or "")[:80],
            ]
            for connector in await list_connectors(session=session, workspace_id=workspace_id)
        ]

    found = _with_database(rows)
    if not found:
        print(
            "No connectors yet; add one with `ticketbot connector add NAME --base-url … --token …`."
        )
        return 0
    _print_table([["ID", "VENDOR", "BASE URL", "STATE", "CREATED", "LAST ERROR"], *found])
    return 0


def _connector_log(args: argparse.Namespace) -> int:
    from app.connectors.service import sync_log

    async def rows(session: AsyncSession) -> list[list[str]]:
        connector = await _named_connector(session, args)
        return [
            [
                _when(entry.at),
                entry.action,
                f"{entry.record_kind} {entry.record_id}",
                entry.outcome,
                str(entry.attempts),
                entry.remote_id or "-",
                str(entry.status_code or "-"),
                (entry.error or "")[:80],
            ]
            for entry in await sync_log(session=session, connector=connector, limit=args.limit)
        ]

    found = _with_database(rows)
    if not found:
        print(f"Nothing synced with {args.connector} yet.")
        return 0
    header = ["AT", "ACTION", "RECORD", "OUTCOME", "ATTEMPTS", "REMOTE ID", "CODE", "ERROR"]
    _print_table([header, *found])
    return 0


def _connector_remove(args: argparse.Namespace) -> int:
    from app.connectors.service import remove_connector

    async def remove(session: AsyncSession) -> str:
        connector = await _named_connector(session, args, for_update=True)
        vendor = connector.vendor
        await remove_connector(session=session, connector=connector, now=_now())
        return f"Removed {vendor}; what it still owed is cancelled."

    print(_with_database(remove))
    return 0


def _add_inbound_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    inbound = commands.add_parser(
        "inbound",
        help="let other systems open tickets at /webhooks/inbound/NAME",
        description="Add, list and remove the sources allowed to open tickets with signed"
        " POSTs to /webhooks/inbound/NAME. Needs a workspace in the database: start"
        " `ticketbot serve` once first.",
        epilog=DATABASE_ONLY,
    )
    actions = inbound.add_subparsers(dest="inbound_command", required=True, metavar="ACTION")
    add = actions.add_parser(
        "add",
        help="add a source and print its secret (shown only once)",
        description="Add an inbound source and print its signing secret: it is shown only"
        " this once.",
        epilog=DATABASE_ONLY,
    )
    add.add_argument("name", help="the source's name, the last part of its URL (e.g. zendesk)")
    add.add_argument(
        "--channel",
        default=None,
        metavar="CHANNEL_ID",
        help="Slack channel its new tickets are posted in, so replies there join the ticket",
    )
    _add_workspace_option(add)
    add.set_defaults(handler=_inbound_add)
    listing = actions.add_parser(
        "list",
        help="list sources (never their secret)",
        description="List the inbound sources (never their secret).",
        epilog=DATABASE_ONLY,
    )
    _add_workspace_option(listing)
    listing.set_defaults(handler=_inbound_list)
    remove = actions.add_parser(
        "remove",
        help="remove a source; its URL answers 404 from then",
        description="Remove an inbound source; its URL answers 404 from then on.",
        epilog=DATABASE_ONLY,
    )
    remove.add_argument("name", help="the source's name")
    _add_workspace_option(remove)
    remove.set_defaults(handler=_inbound_remove)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.main import create_app

    port = _port_number(args.port, "--port")
    settings = load_settings(**({"slack_socket_mode": True} if args.socket_mode else {}))
    _check_port_free(args.host, port, "--port")  # before migrating and asking Slack
    configure_logging(settings.log_level, settings.log_format)
    if not args.no_migrate:
        _upgrade_schema(settings.database_url)
    problem = asyncio.run(_preflight(settings))
    if problem:
        print(f"ticketbot: {problem}", file=sys.stderr)
        return EXIT_STARTUP_ERROR
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=port,
        log_config=None,
        proxy_headers=True,
        forwarded_allow_ips="*",
    )
    return 0


def _dev(args: argparse.Namespace) -> int:
    from app.dev import dev

    port = _port_number(args.port, "--port")
    emulator_port = _port_number(args.emulator_port, "--emulator-port")
    if port == emulator_port:
        raise CommandFailed(
            f"--port and --emulator-port are both {port}; give them two different ports",
            EXIT_CONFIG_ERROR,
        )
    _check_port_free(args.host, port, "--port")
    _check_port_free("127.0.0.1", emulator_port, "--emulator-port")  # where the emulator listens
    dev(
        host=args.host,
        port=port,
        emulator_port=emulator_port,
        database_url=args.database_url,
    )
    return 0


def _port_number(value: str, option: str) -> int:
    """A port as typed after `option`: a number from 1 to 65535, else one line."""
    try:
        port = int(value)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise CommandFailed(
            f"{option}: {value} is not a port number (1 to 65535)", EXIT_CONFIG_ERROR
        )
    return port


def _check_port_free(host: str, port: int, option: str) -> None:
    """One line now if ticketbot could not listen on host:port, rather than a traceback after
    migrating and calling Slack. The probe binds as asyncio's server will (SO_REUSEADDR on POSIX,
    IPv6 sockets IPv6-only, every address the host resolves to) and lets go at once."""
    import errno
    import socket

    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        addresses = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise CommandFailed(
            f"--host {host}: cannot listen there ({exc.strerror})", EXIT_CONFIG_ERROR
        ) from None
    for family, kind, protocol, _, address in addresses:
        with socket.socket(family, kind, protocol) as probe:
            if os.name == "posix":
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6 and hasattr(socket, "IPPROTO_IPV6"):
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise CommandFailed(
                        f"{option} {port}: {where} is already in use; stop what listens there"
                        f" or choose another {option}"
                    ) from None
                raise CommandFailed(
                    f"cannot listen on {where} ({exc.strerror}); check --host and {option}"
                ) from None


def _dev_send_message(args: argparse.Namespace) -> int:
    from app.dev_send import channel_id, message_ts, person, send_message

    return _dev_send(
        lambda: send_message(
            _dev_target(args),
            text=args.text,
            who=person(args.who),
            channel=channel_id(args.channel),
            thread_ts=None if args.thread is None else message_ts(args.thread, "--thread"),
        )
    )


def _dev_send_command(args: argparse.Namespace) -> int:
    from app.dev_send import channel_id, person, send_command

    return _dev_send(
        lambda: send_command(
            _dev_target(args),
            text=args.text,
            who=person(args.who),
            channel=channel_id(args.channel),
        )
    )


def _dev_send_react(args: argparse.Namespace) -> int:
    from app.dev_send import channel_id, message_ts, person, send_reaction

    return _dev_send(
        lambda: send_reaction(
            _dev_target(args),
            name=args.name,
            ts=message_ts(args.ts, "--ts"),
            who=person(args.who),
            channel=channel_id(args.channel),
        )
    )


def _dev_send_click(args: argparse.Namespace) -> int:
    from app.dev_send import channel_id, message_ts, person, send_click

    return _dev_send(
        lambda: send_click(
            _dev_target(args),
            label=args.label,
            who=person(args.who),
            channel=channel_id(args.channel),
            ts=None if args.ts is None else message_ts(args.ts, "--ts"),
            wait_seconds=max(args.wait, 0.0),
        )
    )


def _dev_target(args: argparse.Namespace) -> DevTarget:
    from app.dev_send import DevTarget

    return DevTarget(
        url=args.url.rstrip("/"),
        emulator_url=args.emulator_url.rstrip("/"),
        signing_secret=args.signing_secret,
    )


def _dev_send(send: Callable[[], Coroutine[Any, Any, list[str]]]) -> int:
    """Check the arguments and run one `dev send` (both in `send`), then print what happened;
    a mistake or a failure ends it with one line."""
    from app.dev_send import DevSendFailed

    try:
        lines = asyncio.run(send())
    except DevSendFailed as exc:
        raise CommandFailed(str(exc), exc.exit_code) from None
    for line in lines:
        print(line)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from app.demo import demo

    return demo(socket_mode=args.socket_mode)


def _migrate(args: argparse.Namespace) -> int:
    database_url = load_database_settings().database_url
    try:  # the log settings apply when the whole configuration is there; it need not be
        settings = load_settings()
        configure_logging(settings.log_level, settings.log_format)
    except SettingsError:
        configure_logging("INFO", Settings.model_fields["log_format"].default)
    with _alembic_logs_quiet():
        upgrade = _upgrade_schema(database_url)
    after = ", ".join(sorted(upgrade.after))
    if upgrade.before == upgrade.after:
        print(f"Database schema is at the newest revision ({after}).")
    elif not upgrade.before:
        print(f"Created the database schema at revision {after}.")
    else:
        print(f"Upgraded the database schema from {', '.join(sorted(upgrade.before))} to {after}.")
    return 0


@contextmanager
def _alembic_logs_quiet() -> Iterator[None]:
    """alembic's INFO lines (plugins set up, each revision run) are not for `migrate`, which
    says what it did in one line; LOG_LEVEL=DEBUG shows them still."""
    logger = logging.getLogger("alembic")
    previous = logger.level
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(previous)


def _upgrade_schema(database_url: str) -> SchemaUpgrade:
    """Upgrade the schema to the newest revision; CommandFailed (one line) if it cannot be."""
    from app.schema import MigrationsNotFound, upgrade_to_head

    try:
        return asyncio.run(upgrade_to_head(database_url))
    except MigrationsNotFound as exc:
        raise CommandFailed(str(exc)) from None
    except (OSError, ConnectionError) as exc:
        raise CommandFailed(f"DATABASE_URL: cannot connect to the database ({exc})") from None
    except Exception as exc:
        if type(exc).__module__.startswith(("sqlalchemy", "asyncpg", "sqlite3")):
            reason = str(exc).splitlines()[0]
            raise CommandFailed(f"DATABASE_URL: migration failed ({reason})") from None
        raise


def _apikey_create(args: argparse.Namespace) -> int:
    from app.apikeys.scopes import Scope, parse_scopes
    from app.apikeys.service import create_api_key
    from app.errors import InvalidInput

    try:
        scopes = parse_scopes(args.scope) or [Scope.TICKETS_READ]
    except InvalidInput as exc:
        raise CommandFailed(str(exc), EXIT_CONFIG_ERROR) from None

    async def create(session: AsyncSession) -> tuple[str, str, list[str], str]:
        workspace_id = await _installation_workspace(session, args) if args.workspace else None
        created = await create_api_key(
            session=session, name=args.name, scopes=scopes, now=_now(), workspace_id=workspace_id
        )
        key = created.key
        return key.name, key.display_prefix, list(key.scopes), created.token

    name, prefix, granted, token = _with_database(create)
    print(f"Created API key {prefix} ({name}) with scopes: {', '.join(granted)}")
    print("Store the key now: it is shown only this once, and only its hash is kept.")
    print(token)  # alone on the last line, for scripts: `... | tail -n 1`
    return 0


def _apikey_list(args: argparse.Namespace) -> int:
    from app.apikeys.service import list_api_keys

    async def rows(session: AsyncSession) -> list[list[str]]:
        return [
            [
                key.display_prefix,
                key.name,
                ",".join(key.scopes),
                _when(key.created_at),
                _when(key.last_used_at, "never"),
                _when(key.revoked_at, "-"),
            ]
            for key in await list_api_keys(session=session)
        ]

    found = _with_database(rows)
    if not found:
        print("No API keys yet; create one with `ticketbot apikey create NAME`.")
        return 0
    table = [["PREFIX", "NAME", "SCOPES", "CREATED", "LAST USED", "REVOKED"], *found]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    return 0


def _apikey_revoke(args: argparse.Namespace) -> int:
    from app.apikeys.service import revoke_api_key

    async def revoke(session: AsyncSession) -> str:
        key = await revoke_api_key(session=session, ref=args.key, now=_now())
        return f"Revoked API key {key.display_prefix} ({key.name}) as of {_when(key.revoked_at)}."

    print(_with_database(revoke))
    return 0


def _webhook_add(args: argparse.Namespace) -> int:
    from app.webhooks.subscriptions import create_subscription

    events = [part.strip() for value in args.event for part in value.split(",") if part.strip()]

    async def add(session: AsyncSession) -> tuple[int, str, list[str], str]:
        created = await create_subscription(
            session=session,
            workspace_id=await _installation_workspace(session, args),
            url=args.url,
            event_types=events,
            description=args.description,
            now=_now(),
        )
        subscription = created.subscription
        return subscription.id, subscription.url, list(subscription.event_types), created.secret

    webhook_id, url, granted, secret = _with_database(add)
    print(f"Created webhook {webhook_id} -> {url} for: {', '.join(granted)}")
    print("Store the signing secret now: it is shown only this once.")
    print(secret)  # alone on the last line, for scripts: `... | tail -n 1`
    return 0


def _webhook_list(args: argparse.Namespace) -> int:
    from app.webhooks.subscriptions import list_subscriptions

    async def rows(session: AsyncSession) -> list[list[str]]:
        workspace_id = await _installation_workspace(session, args)
        return [
            [
                str(subscription.id),
                subscription.url,
                ",".join(subscription.event_types),
                "active" if subscription.active else "disabled",
                _when(subscription.created_at),
                subscription.description,
            ]
            for subscription in await list_subscriptions(session=session, workspace_id=workspace_id)
        ]

    found = _with_database(rows)
    if not found:
        print("No webhooks yet; add one with `ticketbot webhook add URL --event ticket.created`.")
        return 0
    _print_table([["ID", "URL", "EVENTS", "STATE", "CREATED", "DESCRIPTION"], *found])
    return 0


def _webhook_remove(args: argparse.Namespace) -> int:
    from app.webhooks.subscriptions import delete_subscription, get_subscription

    async def remove(session: AsyncSession) -> str:
        subscription = await get_subscription(
            session=session,
            workspace_id=await _installation_workspace(session, args),
            subscription_id=args.id,
            for_update=True,
        )
        url = subscription.url
        await delete_subscription(session=session, subscription=subscription, now=_now())
        return f"Removed webhook {args.id} ({url})."

    print(_with_database(remove))
    return 0


def _webhook_deliveries(args: argparse.Namespace) -> int:
    from app.webhooks.subscriptions import get_subscription, list_deliveries

    async def rows(session: AsyncSession) -> list[list[str]]:
        subscription = await get_subscription(
            session=session,
            workspace_id=await _installation_workspace(session, args),
            subscription_id=args.id,
        )
        page = await list_deliveries(session=session, subscription=subscription, limit=args.limit)
        return [
            [
                str(delivery.id),
                delivery.event_id,
                delivery.event_type,
                delivery.status.value,
                str(delivery.attempts),
                str(delivery.last_status_code or "-"),
                _when(delivery.last_attempt_at, "-"),
                (delivery.last_error or "")[:80],
            ]
            for delivery in page.deliveries
        ]

    found = _with_database(rows)
    if not found:
        print(f"Nothing sent to webhook {args.id} yet.")
        return 0
    header = ["ID", "EVENT", "TYPE", "STATUS", "ATTEMPTS", "CODE", "LAST ATTEMPT", "LAST ERROR"]
    _print_table([header, *found])
    return 0


def _inbound_add(args: argparse.Namespace) -> int:
    from app.webhooks.inbound import add_source

    async def add(session: AsyncSession) -> tuple[str, str | None, str]:
        created = await add_source(
            session=session,
            workspace_id=await _installation_workspace(session, args),
            name=args.name,
            channel_id=args.channel,
            now=_now(),
        )
        return created.source.name, created.source.channel_id, created.secret

    name, channel, secret = _with_database(add)
    where = f"; new tickets are posted in {channel}" if channel else ""
    print(f"Created inbound source {name}: POST /webhooks/inbound/{name}{where}")
    print("Store the signing secret now: it is shown only this once.")
    print(secret)  # alone on the last line, for scripts: `... | tail -n 1`
    return 0


def _inbound_list(args: argparse.Namespace) -> int:
    from app.webhooks.inbound import list_sources

    async def rows(session: AsyncSession) -> list[list[str]]:
        return [
            [
                source.name,
                f"/webhooks/inbound/{source.name}",
                source.channel_id or "-",
                _when(source.created_at),
            ]
            for source in await list_sources(session=session)
        ]

    found = _with_database(rows)
    if not found:
        print("No inbound sources yet; add one with `ticketbot inbound add NAME`.")
        return 0
    _print_table([["NAME", "PATH", "CHANNEL", "CREATED"], *found])
    return 0


def _inbound_remove(args: argparse.Namespace) -> int:
    from app.webhooks.inbound import remove_source

    async def remove(session: AsyncSession) -> str:
        source = await remove_source(session=session, name=args.name)
        return f"Removed inbound source {source.name}; its URL now answers 404."

    print(_with_database(remove))
    return 0


def _add_workspace_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workspace",
        metavar="TEAM_ID",
        help="the workspace (its team id, T0123ABCD) when several are installed",
    )


async def _installation_workspace(session: AsyncSession, args: argparse.Namespace) -> int:
    """The workspace `--workspace` names, or the one there is."""
    from sqlalchemy import select

    from app.errors import NotFound
    from app.workspaces.models import Workspace
    from app.workspaces.service import find_workspace_id, installation_workspace_id

    named = getattr(args, "workspace", None)
    if named:
        found = await find_workspace_id(session=session, slack_team_id=named)
        if found is None:
            raise NotFound(f"no workspace {named} has installed ticketbot")
        return found
    workspace_id = await installation_workspace_id(session=session, slack_team_id=None)
    if workspace_id is None:
        installed = list(
            await session.scalars(
                select(Workspace.slack_team_id)
                .where(Workspace.bot_user_id.is_not(None))
                .order_by(Workspace.slack_team_id)
            )
        )
        if len(installed) > 1:
            raise NotFound(
                f"several workspaces are installed ({', '.join(installed)}): name one with"
                " --workspace TEAM_ID"
            )
        raise NotFound(
            "no Slack workspace in the database yet; start `ticketbot serve` once so it connects."
        )
    return workspace_id


def _print_table(table: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def _with_database(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one transaction on DATABASE_URL; CommandFailed if it cannot be done."""
    from sqlalchemy.exc import SQLAlchemyError

    from app.db import create_null_pool_engine, create_session_factory
    from app.errors import DomainError

    database_url = load_database_settings().database_url

    async def run() -> T:
        engine = create_null_pool_engine(database_url)
        try:
            async with create_session_factory(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except DomainError as exc:
        raise CommandFailed(str(exc)) from None
    except (OSError, ConnectionError) as exc:
        raise CommandFailed(f"DATABASE_URL: cannot connect to the database ({exc})") from None
    except SQLAlchemyError as exc:
        reason = str(exc).splitlines()[0]
        raise CommandFailed(
            f"DATABASE_URL: {reason}; is the schema up to date (`ticketbot migrate`)?"
        ) from None


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ticketbot")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "(version unknown: not installed)"


def _now() -> datetime:
    from app.clock import SystemClock

    return SystemClock().now()


def _when(moment: datetime | None, missing: str = "") -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else missing


async def _preflight(settings: Settings) -> str | None:
    """Fail before serving if the Slack token is refused (an unreachable Slack is not fatal)."""
    import aiohttp
    from slack_sdk.errors import SlackApiError

    from app.runtime import FATAL_AUTH_ERRORS
    from app.slack.client import build_outbox_client
    from app.slack.socket_mode import SocketModeRefused, check_app_token

    timeout = aiohttp.ClientTimeout(total=settings.slack_http_timeout_seconds)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        client = build_outbox_client(settings, session)
        try:
            if settings.slack_bot_token is not None:  # with OAuth, each install has its own
                await client.auth_test()
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error in FATAL_AUTH_ERRORS:
                return f"SLACK_BOT_TOKEN was refused by Slack ({error})"
        except Exception:
            return None
        if settings.slack_app_token is not None:
            try:
                await check_app_token(client, settings.slack_app_token.get_secret_value())
            except SocketModeRefused as exc:
                return str(exc)
    return None


if __name__ == "__main__":
    raise SystemExit(main())
