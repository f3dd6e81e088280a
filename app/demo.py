"""`ticketbot demo`: one support ticket from question to resolution, with no Slack workspace.

Everything runs in this process: the bundled Slack emulator, and ticketbot served by uvicorn on
a free local port with a fresh SQLite database in a temporary directory (migrated first). The
demo then plays the people: every message, command, click and reaction is a Slack-signed
request over real HTTP, exactly as Slack would send it. At the end it prints what each party
saw in Slack and the ticket's audit trail from the database.

The demo reads no settings (no environment variables, no `.env`): it always tells the same story.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import sys
import tempfile
import textwrap
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import httpx
import uvicorn
from sqlalchemy import func, select

from app.accounts.scoring import HealthPolicy, recompute_health
from app.clock import SystemClock
from app.config import Settings
from app.logs import configure_logging
from app.main import create_app
from app.outbox.enums import OutboxStatus
from app.outbox.models import OutboxMessage
from app.runtime import Runtime
from app.schema import upgrade_to_head
from app.slack.ids import ActionId
from app.slack_emulator import SlackEmulator, SlackSender, message_event, reaction_added_event
from app.slack_emulator.reading import as_read
from app.slack_emulator.server import EmbeddedServer
from app.team.enums import Role
from app.team.models import TeamMember
from app.tickets.models import Ticket, TicketEvent
from app.workspaces.models import WatchedChannel

BOT_TOKEN = "xoxb-demo-emulator"
SIGNING_SECRET = "demo-signing-secret"
STEP_TIMEOUT_SECONDS = 5.0
TRANSCRIPT_WIDTH = 100

TEAM_ID, TEAM_NAME, TEAM_DOMAIN = "T0DEMO", "Acme", "acme"
CUSTOMER_TEAM_ID, CUSTOMER_TEAM_NAME = "TGLOBEX", "Globex Corp"
BOT_USER_ID = "UBOT"
LEAD, AGENT, CUSTOMER = "ULEE", "UAGENT", "UGLOBEX1"
SUPPORT, TRIAGE = "CSUPPORT", "CTRIAGE"

USER_NAMES = {
    BOT_USER_ID: "ticketbot",
    LEAD: "Lee Lead",
    AGENT: "Alex Agent",
    CUSTOMER: "Gina from Globex",
}
CHANNEL_NAMES = {SUPPORT: "support", TRIAGE: "support-triage"}

QUESTION = (
    'Hi Acme team, our nightly export has failed since Tuesday with "AccessDenied".\n'
    "Could you take a look? We need last night's file for a report."
)
ANSWER = (
    "Hi Gina, Tuesday's change removed the export role's write permission. "
    "I've restored it and re-ran last night's export, which finished a minute ago."
)
THANKS = "Confirmed, the file is there. Thanks for the quick fix!"
RESOLVE_REACTION = "white_check_mark"


class DemoFailed(Exception):
    """A step of the story did not go as it should; the message says what happened."""


@dataclass
class Reaction:
    channel: str
    ts: str
    name: str
    user: str


@dataclass
class Story:
    """What the demo did and what it learnt along the way, for the transcript."""

    emulator: SlackEmulator
    sender: SlackSender
    runtime: Runtime
    out: TextIO
    # How each step reaches ticketbot, and what Slack gets back once it is stored.
    transport: str = "a Slack-signed request to ticketbot over HTTP"
    answer: str = "its 200"
    step: int = 0
    step_title: str = ""
    question_ts: str = ""
    card_ts: str = ""
    reactions: list[Reaction] = field(default_factory=list)

    def begin(self, title: str) -> None:
        self.step += 1
        self.step_title = title
        self.say(f"{self.step}. {title}")

    def say(self, line: str, indent: int = 0) -> None:
        lines = textwrap.wrap(
            line,
            width=TRANSCRIPT_WIDTH,
            initial_indent=" " * indent,
            subsequent_indent=" " * (indent + 2),
            break_on_hyphens=False,
        )
        print("\n".join(lines), file=self.out, flush=True)


# -- running -----------------------------------------------------------------------------------


def demo(out: TextIO | None = None, *, socket_mode: bool = False) -> int:
    """Run the demo; 0 when every step happened as it should, 1 otherwise. With
    `socket_mode` Slack's requests go over Socket Mode instead of signed HTTP requests."""
    stream = out or sys.stdout
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(errors="replace")  # a terminal without UTF-8 still gets the transcript
    return asyncio.run(run_demo(stream, socket_mode=socket_mode))


async def run_demo(out: TextIO, *, socket_mode: bool = False) -> int:
    with tempfile.TemporaryDirectory(prefix="ticketbot-demo-", ignore_cleanup_errors=True) as tmp:
        try:
            await _run_in(Path(tmp), out, socket_mode=socket_mode)
        except DemoFailed as exc:
            print(f"ticketbot demo: {exc}", file=sys.stderr, flush=True)
            return 1
        except Exception:  # a bug, not a step that went wrong: show where
            traceback.print_exc()
            print("ticketbot demo: failed (see the traceback above)", file=sys.stderr)
            return 1
    return 0


async def _run_in(directory: Path, out: TextIO, *, socket_mode: bool = False) -> None:
    emulator = _seeded_emulator()
    await emulator.start("127.0.0.1", 0)
    server: EmbeddedServer | None = None
    task: asyncio.Task[None] | None = None
    try:
        settings = demo_settings(
            f"sqlite+aiosqlite:///{directory / 'demo.db'}",
            emulator.api_url,
            app_token=emulator.socket_mode.app_token if socket_mode else None,
        )
        configure_logging(settings.log_level, settings.log_format)
        await upgrade_to_head(settings.database_url)
        app = create_app(settings, clock=SystemClock())
        server = EmbeddedServer(
            uvicorn.Config(
                app, host="127.0.0.1", port=0, log_config=None, lifespan="on", access_log=False
            )
        )
        task = asyncio.create_task(server.serve())
        port = await _started(server, task)
        if socket_mode:
            try:
                await emulator.socket_mode.wait_for_connections(1, within=15)
            except TimeoutError:
                raise DemoFailed("ticketbot did not connect over Socket Mode within 15 s") from None
        async with SlackSender(
            f"http://127.0.0.1:{port}",
            SIGNING_SECRET,
            team_id=TEAM_ID,
            team_domain=TEAM_DOMAIN,
            bot_user_id=BOT_USER_ID,
            socket_mode=emulator.socket_mode if socket_mode else None,
        ) as sender:
            story = Story(
                emulator=emulator,
                sender=sender,
                runtime=app.state.runtime,
                out=out,
            )
            if socket_mode:
                story.transport = "a Socket Mode envelope on ticketbot's own connection to Slack"
                story.answer = "its acknowledgement"
            await play(story)
            await print_transcript(story)
    finally:
        if server is not None and task is not None:
            server.request_exit()
            await asyncio.gather(task, return_exceptions=True)
        await emulator.stop()


def demo_settings(database_url: str, api_url: str, *, app_token: str | None = None) -> Settings:
    """Every setting at its default (the environment is not read), pointed at the emulator;
    over Socket Mode with `app_token`."""
    defaults = {
        name: info.get_default(call_default_factory=True)
        for name, info in Settings.model_fields.items()
        if not info.is_required()
    }
    overrides = {
        "database_url": database_url,
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": api_url,
        "support_leads": [LEAD],
        "triage_channel_id": None,  # the lead names the triage channel with /ticket watch
        "csat_delay_seconds": 0,  # the rating prompt follows the resolution at the next sweep
        "log_level": "WARNING",
        "slack_app_token": app_token,
    }
    return Settings(_env_file=None, **{**defaults, **overrides})


def _seeded_emulator() -> SlackEmulator:
    emulator = SlackEmulator(
        bot_token=BOT_TOKEN, team_id=TEAM_ID, team_name=TEAM_NAME, bot_user_id=BOT_USER_ID
    )
    emulator.add_team(CUSTOMER_TEAM_ID, name=CUSTOMER_TEAM_NAME, domain="globex")
    emulator.add_channel(SUPPORT, name=CHANNEL_NAMES[SUPPORT], is_ext_shared=True)
    emulator.add_channel(TRIAGE, name=CHANNEL_NAMES[TRIAGE])
    emulator.add_user(LEAD, name="lee", real_name=USER_NAMES[LEAD])
    emulator.add_user(AGENT, name="alex", real_name=USER_NAMES[AGENT])
    emulator.add_user(
        CUSTOMER, name="gina", real_name=USER_NAMES[CUSTOMER], team_id=CUSTOMER_TEAM_ID
    )
    return emulator


async def _started(server: uvicorn.Server, task: asyncio.Task[None]) -> int:
    deadline = time.monotonic() + 15
    while not server.started:
        if task.done():
            error = task.exception()
            raise DemoFailed(f"ticketbot did not start ({error or 'it exited'})")
        if time.monotonic() > deadline:
            raise DemoFailed("ticketbot did not start within 15 s")
        await asyncio.sleep(0.01)
    return server.servers[0].sockets[0].getsockname()[1]


# -- the story ---------------------------------------------------------------------------------


async def play(story: Story) -> None:
    story.say(
        f"ticketbot demo: {TEAM_NAME}'s support team helps {CUSTOMER_TEAM_NAME}, a Slack Connect"
        " customer."
    )
    story.say(f"Slack is the bundled emulator; each step is {story.transport}.")
    story.say("")
    steps = [
        _add_agent,
        _watch_support,
        _customer_asks,
        _agent_takes_it,
        _agent_answers,
        _customer_thanks,
        _agent_resolves,
        _customer_rates,
    ]
    for step in steps:
        try:
            await step(story)
        except DemoFailed as exc:
            raise DemoFailed(f"step {story.step} ({story.step_title}) failed: {exc}") from None
        except (httpx.HTTPError, OSError) as exc:
            raise DemoFailed(
                f"step {story.step} ({story.step_title}) failed: {type(exc).__name__}: {exc}"
            ) from None
    await _wait(
        story,
        "every message ticketbot owes Slack to be delivered",
        lambda: _outbox_drained(story),
    )
    story.say("")


async def _add_agent(story: Story) -> None:
    story.begin(f"{USER_NAMES[LEAD]} (a lead) adds {USER_NAMES[AGENT]} to the support team")
    await _command(story, f"team add <@{AGENT}|alex> agent", user=LEAD, channel=SUPPORT)
    async with story.runtime.session_factory() as session:
        role = await session.scalar(
            select(TeamMember.role).where(TeamMember.slack_user_id == AGENT)
        )
    if role != Role.AGENT:
        raise DemoFailed(f"{USER_NAMES[AGENT]} is not an agent after the command (role {role})")


async def _watch_support(story: Story) -> None:
    story.begin(f"{USER_NAMES[LEAD]} has #support watched, with triage cards in #support-triage")
    await _command(story, f"watch <#{TRIAGE}|{CHANNEL_NAMES[TRIAGE]}>", user=LEAD, channel=SUPPORT)
    async with story.runtime.session_factory() as session:
        watched = await session.scalar(
            select(WatchedChannel).where(
                WatchedChannel.slack_channel_id == SUPPORT, WatchedChannel.unwatched_at.is_(None)
            )
        )
    if watched is None or watched.triage_channel_id != TRIAGE:
        raise DemoFailed("#support is not watched with #support-triage after the command")


async def _command(story: Story, text: str, *, user: str, channel: str) -> None:
    story.say(f"{USER_NAMES[user]} in #{CHANNEL_NAMES[channel]}: /ticket {_as_typed(text)}", 3)
    answer = await story.sender.send_command(
        text,
        user_id=user,
        channel_id=channel,
        user_name=USER_NAMES[user],
        channel_name=CHANNEL_NAMES[channel],
    )
    _check_ack(answer.status_code, answer.text)
    reply = str(answer.json().get("text", ""))
    story.say(f"ticketbot (only {USER_NAMES[user]} sees this): {_plain(reply)}", indent=3)


async def _customer_asks(story: Story) -> None:
    story.begin(f"{USER_NAMES[CUSTOMER]} asks in #support (from {CUSTOMER_TEAM_NAME}'s workspace)")
    posted = story.emulator.add_message(
        SUPPORT, user=CUSTOMER, text=QUESTION, team=CUSTOMER_TEAM_ID
    )
    story.question_ts = posted["ts"]
    await _customer_event(story, message_event_of(posted, user_team=CUSTOMER_TEAM_ID))
    ticket = await _ticket(story)
    if ticket is None:
        raise DemoFailed(f"Slack got {story.answer}, but no ticket was stored")
    story.say(f"stored before Slack got {story.answer}: ticket {ticket.display_number}", indent=3)
    card = await _wait(story, "the triage card in #support-triage", lambda: _card(story))
    story.card_ts = card["ts"]
    story.say(f"ticketbot posts the triage card of {ticket.display_number} in #support-triage", 3)
    await _wait(
        story,
        "the automatic reply in the customer's thread",
        lambda: _thread_replies(story.emulator, SUPPORT, story.question_ts),
    )
    story.say(f"ticketbot replies in {USER_NAMES[CUSTOMER]}'s thread with the ticket number", 3)
    await _wait(
        story,
        f"the card to name the account ({CUSTOMER_TEAM_NAME}, from team.info)",
        lambda: CUSTOMER_TEAM_NAME in _card_field(story, "Requester"),
    )
    story.say(f"team.info names the account: the card now says {CUSTOMER_TEAM_NAME}", indent=3)


async def _agent_takes_it(story: Story) -> None:
    story.begin(f'{USER_NAMES[AGENT]} clicks "Assign to me" on the card')
    card = _card(story)
    if card is None:
        raise DemoFailed("the triage card is gone")
    button = _button(card, ActionId.ASSIGN_TO_ME)
    if button is None:
        raise DemoFailed('the card has no "Assign to me" button')
    answer = await story.sender.send_block_actions(
        [button],
        user_id=AGENT,
        channel_id=TRIAGE,
        message=card,
        user_name="alex",
        channel_name=CHANNEL_NAMES[TRIAGE],
    )
    _check_ack(answer.status_code, answer.text)
    await _wait(
        story,
        f"the card to show {USER_NAMES[AGENT]} as assignee",
        lambda: _refusal(story) or f"<@{AGENT}>" in _card_field(story, "Assignee"),
    )
    refusal = _refusal(story)
    if refusal:
        raise DemoFailed(f"ticketbot refused the click: {_plain(refusal)}")
    story.say(f"the card now shows Assignee: {USER_NAMES[AGENT]}", indent=3)


async def _agent_answers(story: Story) -> None:
    story.begin(f"{USER_NAMES[AGENT]} answers in {USER_NAMES[CUSTOMER]}'s thread in #support")
    posted = story.emulator.add_message(
        SUPPORT, user=AGENT, text=ANSWER, thread_ts=story.question_ts, team=TEAM_ID
    )
    answer = await story.sender.send_event(message_event_of(posted))
    _check_ack(answer.status_code, answer.text)
    await _wait(story, "the answer in the card's thread", lambda: _mirrored(story, ANSWER))
    await _wait(
        story, "the card to show the ticket open", lambda: "Open" in _card_field(story, "Status")
    )
    story.say("mirrored into the card's thread; first response recorded; status Open", indent=3)


async def _customer_thanks(story: Story) -> None:
    story.begin(f"{USER_NAMES[CUSTOMER]} says thanks in the thread")
    posted = story.emulator.add_message(
        SUPPORT, user=CUSTOMER, text=THANKS, thread_ts=story.question_ts, team=CUSTOMER_TEAM_ID
    )
    await _customer_event(story, message_event_of(posted, user_team=CUSTOMER_TEAM_ID))
    await _wait(story, "the thanks in the card's thread", lambda: _mirrored(story, THANKS))
    story.say("mirrored into the card's thread", indent=3)


async def _agent_resolves(story: Story) -> None:
    story.begin(
        f"{USER_NAMES[AGENT]} reacts :{RESOLVE_REACTION}: to {USER_NAMES[CUSTOMER]}'s question"
    )
    event = reaction_added_event(
        AGENT, RESOLVE_REACTION, SUPPORT, story.question_ts, item_user=CUSTOMER
    )
    answer = await story.sender.send_event(event)
    _check_ack(answer.status_code, answer.text)
    story.reactions.append(Reaction(SUPPORT, story.question_ts, RESOLVE_REACTION, AGENT))
    await _wait(
        story,
        "the card to show the ticket resolved",
        lambda: "Resolved" in _card_field(story, "Status"),
    )
    story.say("the ticket is resolved and the card says so", indent=3)


async def _customer_rates(story: Story) -> None:
    story.begin(f"{USER_NAMES[CUSTOMER]} rates the help with one tap")
    await story.runtime.timer_sweeper.sweep_until_idle()  # what the scheduler does every 15 s
    prompt = await _wait(story, "the rating prompt in the thread", lambda: _csat_prompt(story))
    story.say(f"ticketbot asks in the thread: {_plain(prompt.get('text', ''))}", indent=3)
    button = _button(prompt, "csat_rate_5")
    if button is None:
        raise DemoFailed("the prompt has no rating buttons")
    answer = await story.sender.send_block_actions(
        [button],
        user_id=CUSTOMER,
        channel_id=SUPPORT,
        message=prompt,
        user_name="gina",
        channel_name=CHANNEL_NAMES[SUPPORT],
        team_id=TEAM_ID,
    )
    _check_ack(answer.status_code, answer.text)
    thanked = await _wait(
        story,
        "the prompt to thank the customer",
        lambda: (lambda p: p if p and "5/5" in p.get("text", "") else None)(_csat_prompt(story)),
    )
    story.say(f"the prompt now says: {_plain(thanked['text'])}", indent=3)


def _csat_prompt(story: Story) -> dict[str, Any] | None:
    for message in _thread_replies(story.emulator, SUPPORT, story.question_ts):
        if _button(message, "csat_rate_5") is not None:
            return message
    return None


async def _customer_event(story: Story, event: dict[str, Any]) -> None:
    """A message from the customer's own workspace, in the channel shared with it."""
    answer = await story.sender.send_event(event, is_ext_shared_channel=True)
    _check_ack(answer.status_code, answer.text)


def message_event_of(posted: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The Events API message event for a message seeded in the emulator."""
    return message_event(
        posted["channel"],
        posted["user"],
        posted["text"],
        ts=posted["ts"],
        thread_ts=posted.get("thread_ts"),
        team=posted["team"],
        **extra,
    )


def _check_ack(status: int, body: str) -> None:
    if status != 200:
        raise DemoFailed(f"ticketbot answered HTTP {status}: {body[:300]}")


async def _wait(story: Story, what: str, condition: Callable[[], Any]) -> Any:
    """Poll until `condition` holds (it may be a coroutine function), or fail after a while."""
    deadline = time.monotonic() + STEP_TIMEOUT_SECONDS
    while True:
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            failed = [c for c in story.emulator.calls() if c.status != 200 or not c.response["ok"]]
            detail = f"; failed Slack calls: {[(c.method, c.response) for c in failed]}"
            raise DemoFailed(
                f"timed out after {STEP_TIMEOUT_SECONDS:g} s waiting for {what}"
                + (detail if failed else "")
            )
        await asyncio.sleep(0.01)


# -- reading Slack (the emulator) and the database ---------------------------------------------


def _card(story: Story) -> dict[str, Any] | None:
    for message in story.emulator.messages(TRIAGE):
        if message.get("bot_id") and message.get("thread_ts") in (None, message["ts"]):
            return message
    return None


def _card_field(story: Story, label: str) -> str:
    card = _card(story)
    return dict(card_fields(card["blocks"] or [])).get(label, "") if card else ""


def _button(card: dict[str, Any], action_id: str) -> dict[str, Any] | None:
    for block in card.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("action_id") == action_id:
                return {
                    "type": element["type"],
                    "action_id": action_id,
                    "block_id": block.get("block_id"),
                    "value": element.get("value"),
                    "text": element.get("text"),
                }
    return None


def _refusal(story: Story) -> str | None:
    for call in story.emulator.delivered("chat.postEphemeral"):
        if call.args.get("user") == AGENT:
            return str(call.args.get("text", ""))
    return None


def _thread_replies(emulator: SlackEmulator, channel: str, ts: str) -> list[dict[str, Any]]:
    return [m for m in emulator.thread(channel, ts) if m["ts"] != ts]


def _mirrored(story: Story, text: str) -> bool:
    first_line = text.splitlines()[0]
    return any(
        first_line in m.get("text", "")
        for m in _thread_replies(story.emulator, TRIAGE, story.card_ts)
    )


async def _ticket(story: Story) -> Ticket | None:
    async with story.runtime.session_factory() as session:
        return await session.scalar(select(Ticket).order_by(Ticket.id).limit(1))


async def _outbox_drained(story: Story) -> bool:
    async with story.runtime.session_factory() as session:
        rows = await session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        )
        counts = {OutboxStatus(status): n for status, n in rows}
    if counts.get(OutboxStatus.FAILED):
        raise DemoFailed(f"{counts[OutboxStatus.FAILED]} outbox message(s) failed")
    return not counts.get(OutboxStatus.PENDING)


# -- the transcript ----------------------------------------------------------------------------


async def print_transcript(story: Story) -> None:
    say = story.say
    say("=" * 78)
    say(f"#support, shared with {CUSTOMER_TEAM_NAME}: what {USER_NAMES[CUSTOMER]} saw")
    say("=" * 78)
    for line in channel_lines(story, SUPPORT):
        say(line)
    say("")
    say("=" * 78)
    say(f"#support-triage: what {TEAM_NAME}'s support team saw")
    say("=" * 78)
    for line in channel_lines(story, TRIAGE):
        say(line)
    say("")
    ticket = await _ticket(story)
    if ticket is None:
        raise DemoFailed("the ticket is gone from the database")
    say("=" * 78)
    say(f"Audit trail of {ticket.display_number} (ticket_events, oldest first)")
    say("=" * 78)
    async with story.runtime.session_factory() as session:
        events = (
            await session.scalars(
                select(TicketEvent)
                .where(TicketEvent.ticket_id == ticket.id)
                .order_by(TicketEvent.id)
            )
        ).all()
    for n, event in enumerate(events, 1):
        say(f"{n:>3}. {event.kind:<16} {_describe(event)}")
    say("")
    account = f", account {ticket.account_name}" if ticket.account_name else ""
    say(
        f"{ticket.display_number} final status: {ticket.status.value.replace('_', ' ')}"
        f" (assignee {_name(ticket.assignee_user_id)}{account})"
    )
    for line in await _health_lines(story, ticket):
        say(line)


async def _health_lines(story: Story, ticket: Ticket) -> list[str]:
    """The account's health as the morning scoring would compute it now, with its reasons."""
    runtime = story.runtime
    async with runtime.session_factory() as session, session.begin():
        scored = await recompute_health(
            session=session,
            workspace_id=ticket.workspace_id,
            now=runtime.clock.now(),
            zone="UTC",
            policy=HealthPolicy.from_settings(runtime.settings),
        )
    mine = [item for item in scored if item.account.id == ticket.account_id]
    if not mine:
        return []
    health = mine[0].health
    why = "; ".join(str(reason) for reason in health.costs) or "nothing against it yet"
    return [f"{mine[0].account.name} health: {health.score}/100 ({why})"]


def channel_lines(story: Story, channel: str) -> list[str]:
    """A channel as a person reads it: top-level messages, each followed by its thread."""
    lines: list[str] = []
    for message in story.emulator.messages(channel):
        if message.get("thread_ts") not in (None, message["ts"]):
            continue  # a reply: shown under its parent
        lines.extend(_message_lines(message, indent=0))
        for reaction in story.reactions:
            if (reaction.channel, reaction.ts) == (channel, message["ts"]):
                lines.append(f"    [:{reaction.name}: {_name(reaction.user)}]")
        for reply in _thread_replies(story.emulator, channel, message["ts"]):
            lines.extend(_message_lines(reply, indent=4, prefix="| "))
        lines.append("")
    return lines[:-1]


def _message_lines(message: dict[str, Any], *, indent: int, prefix: str = "") -> list[str]:
    author = _author(message)
    pad = " " * indent
    if message.get("blocks") and message.get("bot_id"):
        body = render_blocks(message["blocks"])
    else:
        body = _plain(message.get("text", "")).splitlines() or [""]
    body = _wrap(body, width=TRANSCRIPT_WIDTH - indent - len(prefix) - len(author) - 2)
    lines = [f"{pad}{prefix}{author}: {body[0]}"]
    lines.extend(f"{pad}{prefix}{' ' * (len(author) + 2)}{line}" for line in body[1:])
    return lines


def _wrap(lines: list[str], *, width: int) -> list[str]:
    """Wrap long lines to `width`: quotes stay quoted, card fields continue under their value."""
    wrapped: list[str] = []
    for line in lines:
        lead = re.match(r"[ >]*", line)
        field = re.match(r"\s+\S+:\s+", line)
        hang = lead.group(0) if lead else ""
        if field and ">" not in hang:
            hang = " " * len(field.group(0))
        wrapped.extend(textwrap.wrap(line, width=max(width, 30), subsequent_indent=hang) or [""])
    return wrapped


def _author(message: dict[str, Any]) -> str:
    if message.get("bot_id"):
        return "ticketbot"
    name = _name(message.get("user"))
    if message.get("team") == CUSTOMER_TEAM_ID:
        name += f" ({CUSTOMER_TEAM_NAME})"
    return name


def render_blocks(blocks: list[dict[str, Any]]) -> list[str]:
    """Block Kit as readable lines: section text, `Label: value` fields, and buttons."""
    lines: list[str] = []
    for block in blocks:
        if block.get("type") == "section":
            if block.get("text"):
                lines.extend(_plain(block["text"].get("text", "")).splitlines())
            for label, value in card_fields([block]):
                lines.append(f"  {label + ':':<11}{_plain(value)}")
        elif block.get("type") == "actions":
            lines.append("  " + "  ".join(_element_label(e) for e in block.get("elements", [])))
    return lines


def card_fields(blocks: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """`(label, raw value)` of each section field written as `*Label*\\nvalue`."""
    fields: list[tuple[str, str]] = []
    for block in blocks:
        for item in block.get("fields") or []:
            label, _, value = str(item.get("text", "")).partition("\n")
            fields.append((label.strip("*"), value))
    return fields


def _element_label(element: dict[str, Any]) -> str:
    if element.get("type") == "button":
        return f"[{element.get('text', {}).get('text', '')}]"
    chosen = (element.get("initial_option") or {}).get("text", {}).get("text")
    placeholder = (element.get("placeholder") or {}).get("text", "choose")
    return f"[{placeholder}: {chosen} v]" if chosen else f"[{placeholder} v]"


def _describe(event: TicketEvent) -> str:
    data = event.data or {}
    by = f"by {_name(event.actor_id)}" if event.actor_id else "by ticketbot"
    if event.kind == "created":
        return f"{by}, from a {data.get('source', '?')} in #{_channel(data.get('channel_id'))}"
    if event.kind in ("message_added", "note_added"):
        return f"{by} ({data.get('author_kind', '?')})"
    if event.kind == "assigned":
        return f"{by}, to {_name(data.get('assignee'))}"
    if "status" in data:
        return f"{by}, {data.get('previous')} -> {data['status']}"
    return by


# -- Slack mrkdwn to plain text ----------------------------------------------------------------


def _plain(text: str) -> str:
    """What a reader sees of Slack mrkdwn: names for mentions, labels for links, no markup."""
    return as_read(text, users=USER_NAMES, channels=CHANNEL_NAMES)


def _as_typed(text: str) -> str:
    """A command's text as its user typed it: `<@U123|alex>` was `@alex`."""
    return re.sub(r"<([@#])[^>|]*\|([^>]*)>", r"\1\2", text)


def _name(user_id: str | None) -> str:
    return USER_NAMES.get(user_id or "", user_id or "nobody")


def _channel(channel_id: str | None) -> str:
    return CHANNEL_NAMES.get(channel_id or "", channel_id or "?")
