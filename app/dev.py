"""`ticketbot dev`: ticketbot and the bundled Slack emulator in one process, no Slack app needed.
`ticketbot dev send` (app/dev_send.py) plays the people of that dev workspace.

For trying ticketbot on a laptop and for developing it. It never touches the database in
DATABASE_URL: it keeps its own SQLite file unless told otherwise.

The emulator is seeded with one workspace (Acme, `DEV_TEAM_ID`): a lead, an agent, a Slack
Connect customer from Globex's workspace (`DEV_CUSTOMER_TEAM_ID`), a #support channel shared
with Globex and a #support-triage channel. The lead is a lead by the settings (SUPPORT_LEADS);
everything else is set up through the real path, as a team would do it in Slack: once ticketbot
serves, the lead sends signed `/ticket team add @alex agent` and `/ticket watch
#support-triage` commands in #support (see `set_up_team`). On a database kept from an earlier
run they change nothing.

`dev send` signs requests exactly as Slack does (`SlackSender`) and posts them to the running
dev server; what the people post is also seeded in the emulator through its control API
(`/_emulator/...`), so that ticketbot finds it in "Slack" (permalinks, history, `:ticket:`).
The ids printed in the banner are the constants below, shared by `dev send` and the tests.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # imported when used: `ticketbot --help` and `dev send` stay quick
    import httpx
    import uvicorn
    from fastapi import FastAPI

    from app.config import Settings
    from app.runtime import Runtime
    from app.slack_emulator import SlackEmulator

T = TypeVar("T")

DEV_BOT_TOKEN = "xoxb-dev-emulator"
DEV_SIGNING_SECRET = "dev-signing-secret"
DEV_CLIENT_ID = "1000.2000"  # the dev app's OAuth credentials (Sign in with Slack)
DEV_CLIENT_SECRET = "dev-client-secret"
DEV_URL = "http://127.0.0.1:3000"
DEV_EMULATOR_URL = "http://127.0.0.1:3001"

DEV_TEAM_ID, DEV_TEAM_NAME = "T0DEV", "Acme"
DEV_CUSTOMER_TEAM_ID, DEV_CUSTOMER_TEAM_NAME = "T0GLOBEX", "Globex"
DEV_LEAD = "UDEVLEAD"
DEV_AGENT = "UDEVAGENT"
DEV_CUSTOMER = "UGINA"
DEV_SUPPORT_CHANNEL = "CSUPPORT"
DEV_TRIAGE_CHANNEL = "CTRIAGE"

STARTUP_TIMEOUT_SECONDS = 15.0


@dataclass(frozen=True)
class DevPerson:
    user_id: str
    name: str  # the Slack username, what `@` autocompletes
    real_name: str
    team_id: str = DEV_TEAM_ID


PEOPLE = {
    "lead": DevPerson(DEV_LEAD, "lee.lead", "Lee Lead"),
    "agent": DevPerson(DEV_AGENT, "alex", "Alex Agent"),
    "customer": DevPerson(DEV_CUSTOMER, "gina", "Gina from Globex", DEV_CUSTOMER_TEAM_ID),
}
CHANNEL_NAMES = {DEV_SUPPORT_CHANNEL: "support", DEV_TRIAGE_CHANNEL: "support-triage"}
SHARED_CHANNELS = frozenset({DEV_SUPPORT_CHANNEL})  # Slack Connect: shared with Globex


# -- `ticketbot dev` -------------------------------------------------------------------------


def seeded_emulator() -> SlackEmulator:
    """The Slack of the dev workspace: its team, Globex's team, people and channels."""
    from app.slack_emulator import SlackEmulator

    emulator = SlackEmulator(bot_token=DEV_BOT_TOKEN, team_id=DEV_TEAM_ID, team_name=DEV_TEAM_NAME)
    emulator.add_team(DEV_CUSTOMER_TEAM_ID, name=DEV_CUSTOMER_TEAM_NAME, domain="globex")
    emulator.add_channel(
        DEV_SUPPORT_CHANNEL, name=CHANNEL_NAMES[DEV_SUPPORT_CHANNEL], is_ext_shared=True
    )
    emulator.add_channel(DEV_TRIAGE_CHANNEL, name=CHANNEL_NAMES[DEV_TRIAGE_CHANNEL])
    for person in PEOPLE.values():
        emulator.add_user(
            person.user_id, name=person.name, real_name=person.real_name, team_id=person.team_id
        )
    return emulator


def dev_settings(
    *, database_url: str, api_url: str, openid_authorize_url: str | None = None
) -> Settings:
    from app.config import load_settings

    sign_in: dict[str, Any] = {}
    if openid_authorize_url is not None:  # the web dashboard signs in against the emulator
        sign_in = {
            "slack_client_id": DEV_CLIENT_ID,
            "slack_client_secret": DEV_CLIENT_SECRET,
            "slack_openid_authorize_url": openid_authorize_url,
        }
    return load_settings(
        _env_file=None,
        database_url=database_url,
        slack_bot_token=DEV_BOT_TOKEN,
        slack_signing_secret=DEV_SIGNING_SECRET,
        slack_api_url=api_url,
        support_leads=[DEV_LEAD],
        triage_channel_id=DEV_TRIAGE_CHANNEL,
        **sign_in,
    )


class DevStack:
    """The seeded emulator and ticketbot serving against it, with the team set up.

    Port 0 picks a free port (tests do); `url` and `emulator_url` say which.
    """

    def __init__(self, *, host: str, port: int, emulator_port: int, database_url: str) -> None:
        self.host = host
        self.port = port
        self.emulator_port = emulator_port
        self.database_url = database_url
        self.emulator = seeded_emulator()
        self.set_up: list[str] = []
        self._app: FastAPI | None = None
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def emulator_url(self) -> str:
        return self.emulator.base_url

    @property
    def runtime(self) -> Runtime:
        if self._app is None:
            raise RuntimeError("the dev stack is not started")
        runtime: Runtime = self._app.state.runtime
        return runtime

    async def start(self, *, configure_logs: bool = False) -> None:
        """Start the emulator, migrate, serve ticketbot, then set the team up (`set_up`)."""
        import uvicorn

        from app.logs import configure_logging
        from app.main import create_app
        from app.schema import upgrade_to_head

        await self.emulator.start("127.0.0.1", self.emulator_port)
        # Sign in with Slack for the web dashboard: the emulator's "browser" is signed in to
        # Slack as the lead, so /web signs in as them.
        oauth = self.emulator.enable_oauth(
            client_id=DEV_CLIENT_ID, client_secret=DEV_CLIENT_SECRET, redirect_urls=[]
        )
        oauth.sign_in(DEV_TEAM_ID, DEV_LEAD)
        settings = dev_settings(
            database_url=self.database_url,
            api_url=self.emulator.api_url,
            openid_authorize_url=self.emulator.openid_authorize_url,
        )
        if configure_logs:
            configure_logging(settings.log_level, settings.log_format)
        await upgrade_to_head(settings.database_url)
        self._app = create_app(settings)
        self._server = uvicorn.Server(
            uvicorn.Config(self._app, host=self.host, port=self.port, log_config=None)
        )
        self._task = asyncio.create_task(self._server.serve())
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError("ticketbot stopped while starting")
            if time.monotonic() > deadline:
                raise RuntimeError(f"ticketbot did not start within {STARTUP_TIMEOUT_SECONDS:g} s")
            await asyncio.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        oauth.redirect_urls.append(f"{self.url}/web/signin/callback")
        self.set_up = await set_up_team(self.url, self.emulator)

    async def serve_until_stopped(self) -> None:
        if self._task is not None:
            await self._task

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await asyncio.gather(self._task, return_exceptions=True)
        self._server = self._task = None
        await self.emulator.stop()


async def set_up_team(url: str, emulator: SlackEmulator) -> list[str]:
    """The lead makes Alex an agent and has #support watched, with signed `/ticket` commands.

    Returns one line per command: what was typed and ticketbot's answer (or its refusal).
    """
    from app.slack_emulator import SlackAnswerRefused, SlackSender

    lead, agent = PEOPLE["lead"], PEOPLE["agent"]
    commands = [
        f"team add <@{agent.user_id}|{agent.name}> agent",
        f"watch <#{DEV_TRIAGE_CHANNEL}|{CHANNEL_NAMES[DEV_TRIAGE_CHANNEL]}>",
    ]
    lines = []
    async with SlackSender(url, DEV_SIGNING_SECRET, team_id=DEV_TEAM_ID) as sender:
        for text in commands:
            try:
                answer = await sender.send_command(
                    text,
                    user_id=lead.user_id,
                    channel_id=DEV_SUPPORT_CHANNEL,
                    user_name=lead.name,
                    channel_name=CHANNEL_NAMES[DEV_SUPPORT_CHANNEL],
                    response_url=emulator.new_response_url(),
                )
            except SlackAnswerRefused as exc:
                reply = f"an answer Slack would refuse: {one_line(str(exc))}"
            else:
                body = json_or_none(answer)
                reply = (
                    first_line(plain(str(body.get("text", ""))))
                    if answer.status_code == 200 and body is not None
                    else f"HTTP {answer.status_code}: {first_line(answer.text)[:200]}"
                )
            lines.append(f"/ticket {as_typed(text):<30} -> {reply}")
    return lines


def banner(stack: DevStack) -> str:
    lead, agent, customer = PEOPLE["lead"], PEOPLE["agent"], PEOPLE["customer"]
    where = ""
    if stack.url != DEV_URL or stack.emulator_url != DEV_EMULATOR_URL:
        where = f" --url {stack.url} --emulator-url {stack.emulator_url}"
    return "\n".join(
        [
            "ticketbot dev mode",
            f"  ticketbot:       {stack.url}  (/healthz, /readyz, /metrics)",
            f"  web dashboard:   {stack.url}/web  (signs in as {lead.real_name}, the lead)",
            f"  Slack endpoint:  {stack.url}/slack/events",
            f"  Slack emulator:  {stack.emulator.api_url}",
            f"  recorded calls:  {stack.emulator_url}/_emulator/calls",
            f"  signing secret:  {DEV_SIGNING_SECRET}",
            f"  database:        {stack.database_url}",
            "",
            f"Slack workspace {DEV_TEAM_ID} ({DEV_TEAM_NAME}):",
            f"  lead:            {lead.user_id:<10} {lead.real_name} (@{lead.name}, SUPPORT_LEADS)",
            f"  agent:           {agent.user_id:<10} {agent.real_name} (@{agent.name})",
            f"  customer:        {customer.user_id:<10} {customer.real_name} (@{customer.name}),"
            f" Slack Connect from team {DEV_CUSTOMER_TEAM_ID} ({DEV_CUSTOMER_TEAM_NAME})",
            f"  support channel: {DEV_SUPPORT_CHANNEL:<10} #{CHANNEL_NAMES[DEV_SUPPORT_CHANNEL]}"
            f" (shared with {DEV_CUSTOMER_TEAM_NAME})",
            f"  triage channel:  {DEV_TRIAGE_CHANNEL:<10} #{CHANNEL_NAMES[DEV_TRIAGE_CHANNEL]}",
            "",
            f"Set up by {lead.real_name}, as signed slash commands in #support:",
            *(f"  {line}" for line in stack.set_up),
            "",
            "Play the people from another terminal (`ticketbot dev send --help`):",
            f'  ticketbot dev send message "Our nightly export fails with AccessDenied"{where}',
            f'  ticketbot dev send click "Assign to me" --as agent{where}',
            f'  ticketbot dev send command "/ticket list"{where}',
            "Press Ctrl-C to stop.",
        ]
    )


async def run_dev(*, host: str, port: int, emulator_port: int, database_url: str) -> None:
    stack = DevStack(host=host, port=port, emulator_port=emulator_port, database_url=database_url)
    try:
        await stack.start(configure_logs=True)
        print(banner(stack), flush=True)
        await stack.serve_until_stopped()
    finally:
        await stack.stop()


def dev(*, host: str, port: int, emulator_port: int, database_url: str) -> None:
    asyncio.run(
        run_dev(host=host, port=port, emulator_port=emulator_port, database_url=database_url)
    )


# -- text as people type it and read it ------------------------------------------------------

_AT_NAME = re.compile(r"(?<![\w<])@([A-Za-z][\w.\-]*)")
_HASH_NAME = re.compile(r"(?<![\w<&])#([a-z0-9][a-z0-9_\-]*)")


def autocomplete(text: str, *, slash_command: bool) -> str:
    """What a Slack client sends for `@alex` or `#support`: a mention of that user or channel
    (`<@U123>` in a message; `<@U123|alex>` in a command with escaping on, as ticketbot's
    manifest asks). `@lead`, `@agent` and `@customer` name the dev people too."""

    def user(match: re.Match[str]) -> str:
        word = match.group(1)
        found = PEOPLE.get(word.lower()) or next(
            (p for p in PEOPLE.values() if p.name == word.lower()), None
        )
        if found is None:
            return match.group(0)
        return f"<@{found.user_id}|{found.name}>" if slash_command else f"<@{found.user_id}>"

    def channel(match: re.Match[str]) -> str:
        name = match.group(1)
        found = next((cid for cid, n in CHANNEL_NAMES.items() if n == name), None)
        return f"<#{found}|{name}>" if found else match.group(0)

    return _HASH_NAME.sub(channel, _AT_NAME.sub(user, text))


def as_typed(text: str) -> str:
    """A command's text as its user typed it: `<@U123|alex>` was `@alex`."""
    return re.sub(r"<([@#])[^>|]*\|([^>]*)>", r"\1\2", text)


def plain(text: str) -> str:
    """What a reader sees of Slack mrkdwn, with the dev people's and channels' names."""
    from app.slack_emulator.reading import as_read

    names = {p.user_id: p.real_name for p in PEOPLE.values()}
    return as_read(text, users=names, channels=CHANNEL_NAMES)


def one_line(text: str) -> str:
    return " ".join(text.split())


def first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def json_or_none(answer: httpx.Response) -> dict[str, Any] | None:
    if "json" not in answer.headers.get("content-type", ""):
        return None
    try:
        body = answer.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
