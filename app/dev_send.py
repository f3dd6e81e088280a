"""`ticketbot dev send`: play the people of the `ticketbot dev` workspace from another terminal.

Each request is signed exactly as Slack signs it (`SlackSender`) and posted to the running dev
server; what the people post is also seeded in the emulator through its control API
(`/_emulator/...`), so that ticketbot finds it in "Slack" (permalinks, history, `:ticket:`).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from app.dev import (
    CHANNEL_NAMES,
    DEV_CUSTOMER_TEAM_NAME,
    DEV_EMULATOR_URL,
    DEV_SIGNING_SECRET,
    DEV_SUPPORT_CHANNEL,
    DEV_TEAM_ID,
    DEV_URL,
    PEOPLE,
    SHARED_CHANNELS,
    DevPerson,
    autocomplete,
    first_line,
    json_or_none,
    one_line,
    plain,
)
from app.slack_emulator.reading import EMOJI_CODE

if TYPE_CHECKING:  # imported when used: `ticketbot --help` stays quick
    import httpx

    from app.slack_emulator import SlackSender

T = TypeVar("T")
EXIT_USAGE = 2
EXIT_FAILED = 1


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
    body = json_or_none(answer)
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
    target: DevTarget,
    *,
    label: str,
    who: DevPerson,
    channel: str,
    ts: str | None,
    wait_seconds: float = 2.0,
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
        told = await _told_clicker(dev, who, str(message["ts"]), calls_before, wait_seconds)
    summary = first_line(plain(str(message.get("text", ""))))
    lines = [
        f"{_who(who)} clicked {_label_of(action)!r} ({action['action_id']}) on the message"
        f" {message['ts']} in #{_channel_name(channel)} ({summary!r}) -> HTTP {answer.status_code}"
    ]
    if told:
        lines.append(f"ticketbot told {who.real_name} (only they see it): {plain(told)}")
    return lines


async def _told_clicker(
    dev: _Dev, who: DevPerson, message_ts: str, calls_before: int, wait_seconds: float
) -> str:
    """What ticketbot told the clicker (a refusal comes as an ephemeral message, through the
    outbox, just after the click), or "" once the clicked message was updated, or after a
    while."""
    deadline = time.monotonic() + wait_seconds
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
    for block, element in _interactive_elements(message):
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


def _interactive_elements(
    message: dict[str, Any],
) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(block, element) for every button and menu of a message, accessories included."""
    for block in message.get("blocks") or []:
        elements = list(block.get("elements") or [])
        if isinstance(block.get("accessory"), dict):
            elements.append(block["accessory"])
        for element in elements:
            if isinstance(element, dict) and "action_id" in element:
                yield block, element


def _options(element: dict[str, Any]) -> list[dict[str, Any]]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [])
    return [option for option in options if isinstance(option, dict)]


def _clickable(message: dict[str, Any]) -> list[str]:
    labels = []
    for _, element in _interactive_elements(message):
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
    return " ".join(EMOJI_CODE.sub(" ", text).split()).lower()


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
        body = json_or_none(answer)
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


def _who(who: DevPerson) -> str:
    if who.team_id == DEV_TEAM_ID:
        return who.real_name
    return f"{who.real_name} ({DEV_CUSTOMER_TEAM_NAME}, team {who.team_id})"


def _channel_name(channel: str) -> str:
    return CHANNEL_NAMES.get(channel, channel)


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
