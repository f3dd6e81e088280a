"""`ticketbot dev`: ticketbot and the bundled Slack emulator in one process, no Slack app needed;
`ticketbot dev send`: play the people of that dev workspace from another terminal.

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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # imported when used: `ticketbot --help` and `dev send` stay quick
    import httpx
    import uvicorn
    from fastapi import FastAPI

    from app.config import Settings
    from app.runtime import Runtime
    from app.slack_emulator import SlackEmulator, SlackSender

T = TypeVar("T")

DEV_BOT_TOKEN = "xoxb-dev-emulator"
DEV_SIGNING_SECRET = "dev-signing-secret"
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
CLICK_ANSWER_WAIT_SECONDS = 2.0
EXIT_USAGE = 2
EXIT_FAILED = 1


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


def dev_settings(*, database_url: str, api_url: str) -> Settings:
    from app.config import load_settings

    return load_settings(
        _env_file=None,
        database_url=database_url,
        slack_bot_token=DEV_BOT_TOKEN,
        slack_signing_secret=DEV_SIGNING_SECRET,
        slack_api_url=api_url,
        support_leads=[DEV_LEAD],
        triage_channel_id=DEV_TRIAGE_CHANNEL,
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
        settings = dev_settings(database_url=self.database_url, api_url=self.emulator.api_url)
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
                body = _json_or_none(answer)
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


# -- `ticketbot dev send` --------------------------------------------------------------------


class DevSendFailed(Exception):
    """`dev send` could not do it; the message says why in one line."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class DevTarget:
    """Where the dev server and its emulator listen, and the secret ticketbot checks."""

    url: str = DEV_URL
    emulator_url: str = DEV_EMULATOR_URL
    signing_secret: str = DEV_SIGNING_SECRET


_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
_TS = re.compile(r"^\d{10}\.\d{6}$")


def person(spec: str) -> DevPerson:
    """`--as`: customer, agent, lead, or any Slack user id (one of Acme's people)."""
    known = PEOPLE.get(spec.strip().lower())
    if known is not None:
        return known
    for candidate in PEOPLE.values():
        if candidate.user_id == spec:
            return candidate
    if _USER_ID.match(spec):
        return DevPerson(spec, spec.lower(), spec)
    raise DevSendFailed(
        f"--as must be customer, agent, lead or a Slack user id (U...), not {spec!r}", EXIT_USAGE
    )


def channel_id(spec: str) -> str:
    if _CHANNEL_ID.match(spec):
        return spec
    by_name = {name: cid for cid, name in CHANNEL_NAMES.items()}
    if spec.lstrip("#") in by_name:
        return by_name[spec.lstrip("#")]
    raise DevSendFailed(
        f"--channel must be a channel id such as {DEV_SUPPORT_CHANNEL}, not {spec!r}", EXIT_USAGE
    )


def message_ts(spec: str, option: str) -> str:
    if _TS.match(spec):
        return spec
    raise DevSendFailed(
        f"{option} must be a message ts such as 1718000000.000100, not {spec!r}", EXIT_USAGE
    )


async def send_message(
    target: DevTarget, *, text: str, who: DevPerson, channel: str, thread_ts: str | None
) -> list[str]:
    """A person posts `text`: seeded in the emulator, then sent as Slack's `message` event.

    From the Slack Connect customer it carries Slack Connect's envelope: the envelope's team
    is the customer's workspace, `authorizations[0]` the installation (Acme), and the event's
    `team`/`user_team` the customer's team.
    """
    from app.slack_emulator import message_event

    typed = autocomplete(text, slash_command=False)
    async with _Dev(target) as dev:
        seeded = await dev.emulator_post(
            "/_emulator/messages",
            {
                "channel": channel,
                "user": who.user_id,
                "text": typed,
                "thread_ts": thread_ts,
                "team": who.team_id,
            },
        )
        ts = str(seeded["message"]["ts"])
        extra: dict[str, Any] = {}
        if thread_ts is not None:
            parent = await dev.find_message(channel, thread_ts)
            if parent is not None and parent.get("user"):
                extra["parent_user_id"] = parent["user"]
        external = who.team_id != DEV_TEAM_ID
        event = message_event(
            channel,
            who.user_id,
            typed,
            ts=ts,
            thread_ts=thread_ts,
            team=who.team_id,
            user_team=who.team_id if external else None,
            **extra,
        )
        answer = await dev.ticketbot(
            lambda sender: sender.send_event(
                event,
                team_id=who.team_id,
                installation_team_id=DEV_TEAM_ID,
                is_ext_shared_channel=channel in SHARED_CHANNELS,
            )
        )
    where = f"#{_channel_name(channel)}" + (f", thread {thread_ts}" if thread_ts else "")
    return [
        f"{_who(who)} in {where}: {first_line(text)!r} -> HTTP {answer.status_code}",
        f"ts {ts}  (reply in its thread: --thread {thread_ts or ts})",
    ]


async def send_command(target: DevTarget, *, text: str, who: DevPerson, channel: str) -> list[str]:
    """A slash command, with a response_url minted by the emulator; returns its answer."""
    command, _, rest = text.strip().partition(" ")
    if not command.startswith("/"):
        command, rest = "/ticket", text.strip()
    typed = autocomplete(rest.strip(), slash_command=True)
    async with _Dev(target) as dev:
        minted = await dev.emulator_post("/_emulator/response_urls", {})
        answer = await dev.ticketbot(
            lambda sender: sender.send_command(
                typed,
                command=command,
                user_id=who.user_id,
                channel_id=channel,
                user_name=who.name,
                channel_name=_channel_name(channel),
                response_url=str(minted["response_url"]),
            )
        )
    lines = [f"{command} {rest.strip()} in #{_channel_name(channel)} as {_who(who)}"]
    body = _json_or_none(answer)
    if body is None:
        lines.append("(no immediate answer)" if not answer.text else plain(answer.text))
        return lines
    only = f" (only {who.real_name} sees this)" if body.get("response_type") != "in_channel" else ""
    lines.append(f"ticketbot answered{only}:")
    shown = render_blocks(body["blocks"]) if body.get("blocks") else []
    shown = shown or plain(str(body.get("text", ""))).splitlines()
    lines.extend(f"  {line}".rstrip() for line in shown)
    return lines


async def send_reaction(
    target: DevTarget, *, name: str, ts: str, who: DevPerson, channel: str
) -> list[str]:
    """`who` reacts with `:name:` to the message `ts` (e.g. `ticket` makes it a ticket)."""
    from app.slack_emulator import reaction_added_event

    reaction = name.strip().strip(":")
    if not reaction:
        raise DevSendFailed("name the reaction, e.g. ticket or white_check_mark", EXIT_USAGE)
    async with _Dev(target) as dev:
        message = await dev.find_message(channel, ts)
        if message is None:
            raise DevSendFailed(
                f"no message with ts {ts} in #{_channel_name(channel)}"
                f" (see {target.emulator_url}/_emulator/messages?channel={channel})"
            )
        event = reaction_added_event(
            who.user_id, reaction, channel, ts, item_user=message.get("user")
        )
        answer = await dev.ticketbot(
            lambda sender: sender.send_event(
                event,
                team_id=who.team_id,
                installation_team_id=DEV_TEAM_ID,
                is_ext_shared_channel=channel in SHARED_CHANNELS,
            )
        )
    return [
        f"{_who(who)} reacted :{reaction}: to {ts} in #{_channel_name(channel)}"
        f" ({first_line(plain(str(message.get('text', ''))))!r}) -> HTTP {answer.status_code}"
    ]


async def send_click(
    target: DevTarget, *, label: str, who: DevPerson, channel: str, ts: str | None
) -> list[str]:
    """`who` clicks the button (or picks the menu option) called `label` on the newest bot
    message in `channel` that has one; `label` is its visible text or its action_id."""
    async with _Dev(target) as dev:
        messages = await dev.messages(channel)
        candidates = [m for m in messages if m.get("bot_id") and ts in (None, m.get("ts"))]
        candidates.sort(key=lambda m: float(m.get("ts", 0)), reverse=True)
        found = next(
            (
                (message, action)
                for message in candidates
                if (action := find_action(message, label)) is not None
            ),
            None,
        )
        if found is None:
            raise DevSendFailed(_nothing_to_click(label, channel, ts, candidates))
        message, action = found
        slack_message = {k: v for k, v in message.items() if k != "channel" and v is not None}
        minted = await dev.emulator_post("/_emulator/response_urls", {})
        calls_before = len(await dev.calls())
        answer = await dev.ticketbot(
            lambda sender: sender.send_block_actions(
                [action],
                user_id=who.user_id,
                channel_id=channel,
                message=slack_message,
                user_name=who.name,
                channel_name=_channel_name(channel),
                response_url=str(minted["response_url"]),
                team_id=DEV_TEAM_ID,
                user_team_id=who.team_id,
            )
        )
        told = await _told_clicker(dev, who, str(message["ts"]), calls_before)
    summary = first_line(plain(str(message.get("text", ""))))
    lines = [
        f"{_who(who)} clicked {_label_of(action)!r} ({action['action_id']}) on the message"
        f" {message['ts']} in #{_channel_name(channel)} ({summary!r}) -> HTTP {answer.status_code}"
    ]
    if told:
        lines.append(f"ticketbot told {who.real_name} (only they see it): {plain(told)}")
    return lines


async def _told_clicker(dev: _Dev, who: DevPerson, message_ts: str, calls_before: int) -> str:
    """What ticketbot told the clicker (a refusal comes as an ephemeral message, through the
    outbox, just after the click), or "" once the clicked message was updated, or after a
    while."""
    deadline = time.monotonic() + CLICK_ANSWER_WAIT_SECONDS
    while time.monotonic() < deadline:
        for call in (await dev.calls())[calls_before:]:
            args = call.get("args") or {}
            if call.get("method") == "chat.postEphemeral" and args.get("user") == who.user_id:
                return str(args.get("text", ""))
            if call.get("method") == "chat.update" and args.get("ts") == message_ts:
                return ""
        await asyncio.sleep(0.05)
    return ""


def find_action(message: dict[str, Any], label: str) -> dict[str, Any] | None:
    """The `actions` entry Slack sends when `label` (a button's or menu option's text, or an
    action_id) is clicked in `message`; None if it has no such button or option."""
    wanted = _normalised(label)
    for block in message.get("blocks") or []:
        elements = list(block.get("elements") or [])
        if isinstance(block.get("accessory"), dict):
            elements.append(block["accessory"])
        for element in elements:
            if not isinstance(element, dict) or "action_id" not in element:
                continue
            common = {
                "type": element.get("type"),
                "action_id": element["action_id"],
                "block_id": block.get("block_id"),
            }
            if element.get("type") == "button":
                text = (element.get("text") or {}).get("text", "")
                if wanted in (_normalised(text), element["action_id"].lower()):
                    return {**common, "text": element.get("text"), "value": element.get("value")}
                continue
            for option in _options(element):
                text = (option.get("text") or {}).get("text", "")
                if wanted in (_normalised(text), str(option.get("value", "")).lower()):
                    picked = {**common, "selected_option": option}
                    if element.get("placeholder"):
                        picked["placeholder"] = element["placeholder"]
                    return picked
    return None


def _options(element: dict[str, Any]) -> list[dict[str, Any]]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [])
    return [option for option in options if isinstance(option, dict)]


def _clickable(message: dict[str, Any]) -> list[str]:
    labels = []
    for block in message.get("blocks") or []:
        elements = list(block.get("elements") or [])
        if isinstance(block.get("accessory"), dict):
            elements.append(block["accessory"])
        for element in elements:
            if not isinstance(element, dict) or "action_id" not in element:
                continue
            if element.get("type") == "button":
                labels.append(plain((element.get("text") or {}).get("text", "")).strip())
            elif texts := [(o.get("text") or {}).get("text", "") for o in _options(element)]:
                labels.append("/".join(plain(text).strip() for text in texts))
    return labels


def _nothing_to_click(
    label: str, channel: str, ts: str | None, candidates: list[dict[str, Any]]
) -> str:
    where = f"#{_channel_name(channel)}" + (f" (message {ts})" if ts else "")
    if not candidates:
        return f"no message from ticketbot in {where} to click on"
    there = _clickable(candidates[0])
    hint = f"; the newest has: {', '.join(there)}" if there else ""
    return f"no button or menu option {label!r} on ticketbot's messages in {where}{hint}"


def _label_of(action: dict[str, Any]) -> str:
    chosen = action.get("selected_option") or action
    return plain(str((chosen.get("text") or {}).get("text", action["action_id"])))


def _normalised(text: str) -> str:
    return " ".join(_EMOJI_CODE.sub(" ", text).split()).lower()


class _Dev:
    """HTTP to the running dev server and its emulator, each failure told in one line."""

    def __init__(self, target: DevTarget) -> None:
        import httpx

        from app.slack_emulator import SlackSender

        self.target = target
        self._http = httpx.AsyncClient(timeout=10.0)
        self._sender = SlackSender(
            target.url, target.signing_secret, team_id=DEV_TEAM_ID, client=self._http
        )

    async def __aenter__(self) -> _Dev:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._http.aclose()

    async def ticketbot(
        self, send: Callable[[SlackSender], Awaitable[httpx.Response]]
    ) -> httpx.Response:
        from app.slack_emulator import SlackAnswerRefused

        try:
            answer = await self._reach(send(self._sender), "ticketbot", self.target.url)
        except SlackAnswerRefused as exc:
            raise DevSendFailed(
                f"Slack would refuse ticketbot's answer: {one_line(str(exc))}"
            ) from None
        if answer.status_code == 401:
            raise DevSendFailed(
                "ticketbot refused the request's signature (HTTP 401): --signing-secret must be"
                " the one `ticketbot dev` printed"
            )
        if answer.status_code >= 400:
            raise DevSendFailed(
                f"ticketbot answered HTTP {answer.status_code}: {first_line(answer.text)[:200]}"
            )
        return answer

    async def messages(self, channel: str) -> list[dict[str, Any]]:
        answer = await self._reach(
            self._http.get(
                f"{self.target.emulator_url}/_emulator/messages", params={"channel": channel}
            ),
            "the Slack emulator",
            self.target.emulator_url,
        )
        return list(self._emulator_json(answer).get("messages") or [])

    async def calls(self) -> list[dict[str, Any]]:
        """The Web API calls ticketbot made, oldest first."""
        answer = await self._reach(
            self._http.get(f"{self.target.emulator_url}/_emulator/calls"),
            "the Slack emulator",
            self.target.emulator_url,
        )
        return list(self._emulator_json(answer).get("calls") or [])

    async def find_message(self, channel: str, ts: str) -> dict[str, Any] | None:
        return next((m for m in await self.messages(channel) if m.get("ts") == ts), None)

    async def emulator_post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = await self._reach(
            self._http.post(f"{self.target.emulator_url}{path}", json=body),
            "the Slack emulator",
            self.target.emulator_url,
        )
        return self._emulator_json(answer)

    def _emulator_json(self, answer: httpx.Response) -> dict[str, Any]:
        body = _json_or_none(answer)
        if answer.status_code == 404 or body is None:
            raise DevSendFailed(
                f"{self.target.emulator_url} is not the Slack emulator of `ticketbot dev`"
                f" (HTTP {answer.status_code}); see --emulator-url"
            )
        if answer.status_code != 200 or body.get("ok") is False:
            raise DevSendFailed(f"the Slack emulator refused: {body.get('error') or body}")
        return body

    @staticmethod
    async def _reach(request: Awaitable[T], what: str, url: str) -> T:
        import httpx

        try:
            return await request
        except httpx.TimeoutException:
            raise DevSendFailed(f"{what} at {url} did not answer within 10 s") from None
        except httpx.TransportError as exc:
            raise DevSendFailed(
                f"cannot reach {what} at {url} ({type(exc).__name__}): is `ticketbot dev`"
                " running? (`make dev` starts it)"
            ) from None


def _json_or_none(answer: httpx.Response) -> dict[str, Any] | None:
    if "json" not in answer.headers.get("content-type", ""):
        return None
    try:
        body = answer.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _who(who: DevPerson) -> str:
    if who.team_id == DEV_TEAM_ID:
        return who.real_name
    return f"{who.real_name} ({DEV_CUSTOMER_TEAM_NAME}, team {who.team_id})"


def _channel_name(channel: str) -> str:
    return CHANNEL_NAMES.get(channel, channel)


# -- text as people type it and read it ------------------------------------------------------

_AT_NAME = re.compile(r"(?<![\w<])@([A-Za-z][\w.\-]*)")
_HASH_NAME = re.compile(r"(?<![\w<&])#([a-z0-9][a-z0-9_\-]*)")
_MENTION = re.compile(r"<([@#!])([^>|]+)(?:\|([^>]*))?>")
_LINK = re.compile(r"<([^>|@#!][^>|]*)(?:\|([^>]*))?>")
_EMOJI_CODE = re.compile(r"(?<![\w:]):[a-z0-9_+\-]*[a-z][a-z0-9_+\-]*:(?![\w:])\s?")
_BOLD = re.compile(r"(?<!\w)\*([^*\n]+)\*(?!\w)")
_ITALIC = re.compile(r"(?<!\w)_([^_\n]+)_(?!\w)")


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
    """What a reader sees of Slack mrkdwn: names for mentions, labels for links, no markup."""
    names = {p.user_id: p.real_name for p in PEOPLE.values()}

    def mention(match: re.Match[str]) -> str:
        sigil, target, label = match.groups()
        if sigil == "@":
            return "@" + names.get(target, label or target)
        if sigil == "#":
            return "#" + (CHANNEL_NAMES.get(target) or label or target)
        return label or target.split("^", 1)[0]

    text = _MENTION.sub(mention, text)
    text = _LINK.sub(lambda m: m.group(2) or m.group(1), text)
    text = _EMOJI_CODE.sub("", text)
    text = _BOLD.sub(r"\1", text)
    text = _ITALIC.sub(r"\1", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def one_line(text: str) -> str:
    return " ".join(text.split())


def first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def render_blocks(blocks: list[dict[str, Any]]) -> list[str]:
    """Block Kit as lines a person reads: texts, `Label: value` fields, [buttons]."""
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind in ("section", "header") and isinstance(block.get("text"), dict):
            lines.extend(plain(str(block["text"].get("text", ""))).splitlines())
        if kind == "section":
            for item in block.get("fields") or []:
                label, _, value = str(item.get("text", "")).partition("\n")
                lines.append(f"  {plain(label)}: {plain(value)}")
        elif kind == "context":
            texts = [str(e.get("text", "")) for e in block.get("elements") or [] if "text" in e]
            lines.extend(plain(" ".join(texts)).splitlines())
        elif kind == "actions":
            labels = [f"[{label}]" for label in _clickable({"blocks": [block]})]
            lines.append("  ".join(labels))
        elif kind == "divider":
            lines.append("-" * 40)
    return lines
