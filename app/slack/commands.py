"""The `/ticket` command grammar: text in, a command or a usage error out. No I/O.

Slack sends the text with escaping on, so mentions arrive as `<@U123|name>` and channels as
`<#C123|name>` (or `<#C123>`, `<#C123|>` when Slack has no name to give); the helpers below read
those forms. Subcommands and keywords are case-insensitive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from app.sla.durations import parse_duration
from app.team.enums import AutoAssignMode, Role
from app.text_safety import escape, readable
from app.tickets.enums import ListFilter, Priority

_USAGE_LINES = [
    "*Usage:* `/ticket <subcommand>`",
    "• `/ticket help`: show this message",
    "• `/ticket list [open|mine|unassigned|breaching|waiting] [#channel] [@someone]`:"
    " the tickets, most urgent first",
    "• `/ticket show T-42`: a ticket's status and its SLA ledger",
    "• `/ticket new`: open a ticket by hand",
    "• `/ticket assign T-42 @someone|me`, `/ticket unassign T-42`: who works on it",
    "• `/ticket priority T-42 low|normal|high|urgent`: change its priority",
    "• `/ticket status T-42 open|waiting`: waiting on the customer pauses the resolution clock",
    "• `/ticket resolve T-42`, `/ticket reopen T-42`, `/ticket close T-42`",
    "• `/ticket note T-42 <text>`: an internal note under the triage card, never shown to"
    " the customer",
    "• `/ticket autoassign off|round_robin|least_loaded`: assign new tickets from this"
    " channel automatically",
    "• `/ticket team capacity @someone 5|none`: the most open tickets auto-assignment gives them",
    "• `/ticket team hours @someone Europe/Berlin 09:00-17:00 [days=mon-fri]|none`: when"
    " auto-assignment may pick them",
    "• `/ticket team`: list the support team",
    "• `/ticket team add @someone agent|lead`: add someone to the team, or change their role",
    "• `/ticket team remove @someone`: take someone off the team",
    "• `/ticket watch [#triage-channel]`: turn messages in this channel into tickets; their"
    " triage cards go to #triage-channel, or to the default triage channel",
    "• `/ticket unwatch`: stop making tickets from this channel",
    "• `/ticket channels`: list the watched channels and their triage channels",
    "• `/ticket autoreply on|off`: turn the automatic reply to new tickets here on or off",
    "• `/ticket offhours on|off`: tell customers who write here after hours when the team is back",
    "• `/ticket hours`: show business hours; `/ticket hours set Europe/Berlin 09:00-17:00"
    " [days=mon-fri] [holidays=DE]`: change them",
    "• `/ticket sla`: show the response and resolution targets",
    "• `/ticket sla set <low|normal|high|urgent> [first_response=4h] [next_response=8h]"
    " [resolution=2d] [business_hours=on|off]`: change the targets of one priority",
    "• `/ticket csat`: show who is asked to rate resolved tickets, and when",
    "• `/ticket csat on|off`: ask (or stop asking) for ratings in this channel",
    "• `/ticket csat all on|off`: turn the rating prompt on or off for the whole workspace",
    "• `/ticket csat delay 10m`: how long after a resolution the rating prompt is posted",
    "• `/ticket csat internal on|off`: also ask requesters from our own workspace",
    "• `/ticket csat account <name or team id> on|off`: ask (or stop asking) one customer account",
    "• `/ticket stats [7d|30d|90d]`: ticket volume and CSAT by period, channel, agent and account",
]
# Escaped once as a whole: Slack would read `<subcommand>` as markup (even in code spans).
USAGE = escape("\n".join(_USAGE_LINES))

_USER_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
_CHANNEL_MENTION = re.compile(r"^<#([CG][A-Z0-9]+)(?:\|[^>]*)?>$")
# A word, or a whole `<...>` escape even if the name inside it has spaces.
_TOKEN = re.compile(r"<[^>]*>|[^\s<]+|<")
_ROLES = {role.value: role for role in Role}
_SWITCH = {"on": True, "off": False}
_PRIORITIES = {priority.value: priority for priority in Priority}
_ECHO_LIMIT = 40
_T = TypeVar("_T")


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class TeamList:
    pass


@dataclass(frozen=True)
class TeamAdd:
    user_id: str
    role: Role


@dataclass(frozen=True)
class TeamRemove:
    user_id: str


@dataclass(frozen=True)
class Watch:
    """Watch the channel the command was run in; None means the workspace's triage channel."""

    triage_channel_id: str | None


@dataclass(frozen=True)
class Unwatch:
    pass


@dataclass(frozen=True)
class ChannelList:
    pass


@dataclass(frozen=True)
class AutoReply:
    enabled: bool


@dataclass(frozen=True)
class SlaShow:
    pass


@dataclass(frozen=True)
class SlaSet:
    priority: Priority
    first_response: timedelta | None = None
    next_response: timedelta | None = None
    resolution: timedelta | None = None
    business_hours: bool | None = None


@dataclass(frozen=True)
class OffHoursReply:
    enabled: bool


@dataclass(frozen=True)
class HoursShow:
    pass


@dataclass(frozen=True)
class HoursSet:
    time_zone: str
    opens: str
    closes: str
    days: tuple[str, ...]
    holiday_country: str | None = None


@dataclass(frozen=True)
class Show:
    number: int


@dataclass(frozen=True)
class ListTickets:
    filter: ListFilter = ListFilter.OPEN
    channel_id: str | None = None
    user_id: str | None = None
    page: int = 1


@dataclass(frozen=True)
class NewTicket:
    pass


@dataclass(frozen=True)
class Assign:
    number: int
    user_id: str | None  # None: the person running the command ("me")


@dataclass(frozen=True)
class Unassign:
    number: int


@dataclass(frozen=True)
class SetPriority:
    number: int
    priority: Priority


@dataclass(frozen=True)
class SetStatus:
    number: int
    waiting: bool  # True: waiting on the customer; False: open


@dataclass(frozen=True)
class Resolve:
    number: int


@dataclass(frozen=True)
class Reopen:
    number: int


@dataclass(frozen=True)
class Close:
    number: int


@dataclass(frozen=True)
class Note:
    number: int
    text: str


@dataclass(frozen=True)
class AutoAssign:
    mode: AutoAssignMode


@dataclass(frozen=True)
class TeamCapacity:
    user_id: str
    capacity: int | None


@dataclass(frozen=True)
class TeamHours:
    user_id: str
    time_zone: str | None  # None: clear (the workspace's business hours apply)
    opens: str = ""
    closes: str = ""
    days: tuple[str, ...] = ()


@dataclass(frozen=True)
class CsatShow:
    pass


@dataclass(frozen=True)
class CsatChannel:
    """Ask for ratings in the channel the command was run in, or not."""

    enabled: bool


@dataclass(frozen=True)
class CsatWorkspace:
    enabled: bool


@dataclass(frozen=True)
class CsatDelay:
    delay: timedelta


@dataclass(frozen=True)
class CsatInternal:
    enabled: bool


@dataclass(frozen=True)
class CsatAccount:
    account: str
    enabled: bool


@dataclass(frozen=True)
class Stats:
    days: int = 7


CsatCommand = CsatShow | CsatChannel | CsatWorkspace | CsatDelay | CsatInternal | CsatAccount

TicketCommand = Assign | Unassign | SetPriority | SetStatus | Resolve | Reopen | Close | Note

Command = (
    TicketCommand
    | ListTickets
    | NewTicket
    | AutoAssign
    | TeamCapacity
    | TeamHours
    | CsatCommand
    | Stats
    | HoursShow
    | HoursSet
    | OffHoursReply
    | Show
    | Help
    | TeamList
    | TeamAdd
    | TeamRemove
    | Watch
    | Unwatch
    | ChannelList
    | AutoReply
    | SlaShow
    | SlaSet
)


@dataclass(frozen=True)
class UsageError:
    """What was wrong with the text, followed by the usage."""

    problem: str

    @property
    def message(self) -> str:
        return f"{self.problem}\n{USAGE}"


def parse(text: str) -> Command | UsageError:
    words = _TOKEN.findall(text)
    if not words:
        return Help()
    subcommand, args = words[0].lower(), words[1:]
    if subcommand == "help":
        return Help()
    if subcommand == "team":
        return _parse_team(args)
    if subcommand == "watch":
        return _parse_watch(args)
    if subcommand == "unwatch":
        return _no_arguments(args, "unwatch", Unwatch())
    if subcommand == "channels":
        return _no_arguments(args, "channels", ChannelList())
    if subcommand == "autoreply":
        return _parse_autoreply(args)
    if subcommand == "sla":
        return _parse_sla(args)
    if subcommand == "show":
        return _parse_show(args)
    if subcommand == "hours":
        return _parse_hours(args)
    if subcommand == "list":
        return _parse_list(args)
    if subcommand == "new":
        return _no_arguments(args, "new", NewTicket())
    if subcommand in _TICKET_SUBCOMMANDS:
        return _parse_ticket_command(subcommand, args, text)
    if subcommand == "autoassign":
        modes = {mode.value: mode for mode in AutoAssignMode}
        if len(args) != 1 or args[0].lower().replace("-", "_") not in modes:
            return UsageError("Say `/ticket autoassign off`, `round_robin` or `least_loaded`.")
        return AutoAssign(modes[args[0].lower().replace("-", "_")])
    if subcommand == "csat":
        return _parse_csat(args)
    if subcommand == "stats":
        return _parse_stats(args)
    if subcommand == "offhours":
        if len(args) != 1 or args[0].lower() not in _SWITCH:
            return UsageError("Say `/ticket offhours on` or `/ticket offhours off`.")
        return OffHoursReply(_SWITCH[args[0].lower()])
    return UsageError(f"Unknown subcommand `{_echo(words[0])}`.")


def parse_user_mention(token: str) -> str | None:
    """`<@U123|ann>` or `<@U123>` -> `U123`; anything else -> None."""
    match = _USER_MENTION.match(token)
    return match.group(1) if match else None


def parse_channel_mention(token: str) -> str | None:
    """`<#C123|support>` or `<#C123>` -> `C123`; anything else -> None."""
    match = _CHANNEL_MENTION.match(token)
    return match.group(1) if match else None


_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^(\d{2}:\d{2})-(\d{2}:\d{2})$")


def _parse_hours(args: list[str]) -> HoursShow | HoursSet | UsageError:
    if not args:
        return HoursShow()
    if args[0].lower() != "set" or len(args) < 3:
        return UsageError("Say e.g. `/ticket hours set Europe/Berlin 09:00-17:00 days=mon-fri`.")
    match = _HOURS.match(args[2])
    if not match:
        return UsageError(f"`{_echo(args[2])}` is not opening hours like 09:00-17:00.")
    days: tuple[str, ...] = _DAY_NAMES[:5]
    country: str | None = None
    for option in args[3:]:
        name, _, value = option.lower().partition("=")
        if name == "days":
            first, _, last = value.partition("-")
            if first not in _DAY_NAMES or (last or first) not in _DAY_NAMES:
                return UsageError(f"`{_echo(option)}`: days are like mon-fri or sat.")
            days = _DAY_NAMES[_DAY_NAMES.index(first) : _DAY_NAMES.index(last or first) + 1]
        elif name == "holidays" and value.isalpha() and len(value) == 2:
            country = value.upper()
        else:
            return UsageError(f"`{_echo(option)}` is not `days=...` or `holidays=XX`.")
    if not days:
        return UsageError("The days run from the first to the last, e.g. mon-fri.")
    return HoursSet(args[1], match.group(1), match.group(2), tuple(days), country)


STATS_PERIODS = {"7d": 7, "30d": 30, "90d": 90}
_CSAT_HINT = escape(
    "Say `/ticket csat on|off`, `/ticket csat all on|off`, `/ticket csat delay 10m`,"
    " `/ticket csat internal on|off` or `/ticket csat account <name> on|off`."
)


def _parse_csat(args: list[str]) -> CsatCommand | UsageError:
    if not args:
        return CsatShow()
    option, rest = args[0].lower(), args[1:]
    if option in _SWITCH and not rest:
        return CsatChannel(_SWITCH[option])
    if option in ("all", "internal"):
        if len(rest) != 1 or rest[0].lower() not in _SWITCH:
            return UsageError(f"Say `/ticket csat {option} on` or `/ticket csat {option} off`.")
        enabled = _SWITCH[rest[0].lower()]
        return CsatWorkspace(enabled) if option == "all" else CsatInternal(enabled)
    if option == "delay":
        if len(rest) != 1:
            return UsageError("Say how long after a resolution, e.g. `/ticket csat delay 30m`.")
        if rest[0] == "0":
            return CsatDelay(timedelta(0))
        try:
            return CsatDelay(parse_duration(rest[0]))
        except ValueError as exc:
            return UsageError(f"delay: {exc}.")
    if option == "account":
        if len(rest) < 2 or rest[-1].lower() not in _SWITCH:
            return UsageError("Say e.g. `/ticket csat account Acme Corp off`.")
        return CsatAccount(readable(" ".join(rest[:-1])), _SWITCH[rest[-1].lower()])
    return UsageError(f"`{_echo(args[0])}` is not a CSAT setting. {_CSAT_HINT}")


def _parse_stats(args: list[str]) -> Stats | UsageError:
    if not args:
        return Stats()
    if len(args) == 1 and args[0].lower() in STATS_PERIODS:
        return Stats(STATS_PERIODS[args[0].lower()])
    return UsageError("Say `/ticket stats`, `/ticket stats 30d` or `/ticket stats 90d`.")


def _parse_show(args: list[str]) -> Show | UsageError:
    if len(args) != 1:
        return UsageError("Say which ticket, e.g. `/ticket show T-42`.")
    number = parse_ticket_number(args[0])
    return Show(number) if isinstance(number, int) else number


_MAX_TICKET_NUMBER = 2**31 - 1


def parse_ticket_number(token: str) -> int | UsageError:
    """`T-42`, `t-42`, `#42` or `42` -> 42."""
    digits = token.upper().removeprefix("T-").removeprefix("#")
    if not digits.isascii() or not digits.isdigit() or not 0 < int(digits) <= _MAX_TICKET_NUMBER:
        return UsageError(f"`{_echo(token)}` is not a ticket number like T-42.")
    return int(digits)


_TICKET_SUBCOMMANDS = {
    "assign": "`/ticket assign T-42 @someone` (or `me`)",
    "unassign": "`/ticket unassign T-42`",
    "priority": "`/ticket priority T-42 high`",
    "status": "`/ticket status T-42 waiting` (or `open`)",
    "resolve": "`/ticket resolve T-42`",
    "reopen": "`/ticket reopen T-42`",
    "close": "`/ticket close T-42`",
    "note": "`/ticket note T-42 what you found`",
}
_NOTE = re.compile(r"^\s*\S+\s+\S+\s*(.*)$", re.DOTALL)
_NOTE_LIMIT = 4000


def _parse_ticket_command(
    subcommand: str, args: list[str], text: str
) -> TicketCommand | UsageError:
    example = _TICKET_SUBCOMMANDS[subcommand]
    if not args:
        return UsageError(f"Say which ticket, e.g. {example}.")
    number = parse_ticket_number(args[0])
    if isinstance(number, UsageError):
        return number
    rest = args[1:]
    if subcommand == "note":
        match = _NOTE.match(text)
        note = match.group(1).strip() if match else ""
        if not note:
            return UsageError(f"Write the note after the ticket, e.g. {example}.")
        if len(note) > _NOTE_LIMIT:
            return UsageError(f"A note holds at most {_NOTE_LIMIT} characters.")
        return Note(number, note)
    if subcommand == "assign":
        if len(rest) != 1:
            return UsageError(f"Say who takes it, e.g. {example}.")
        if rest[0].lower() == "me":
            return Assign(number, None)
        user_id = _user(rest[0])
        return Assign(number, user_id) if isinstance(user_id, str) else user_id
    if subcommand == "priority":
        priority = _PRIORITIES.get(rest[0].lower()) if len(rest) == 1 else None
        if priority is None:
            return UsageError(f"Say one priority (low, normal, high, urgent), e.g. {example}.")
        return SetPriority(number, priority)
    if subcommand == "status":
        states = {"open": False, "waiting": True}
        if len(rest) != 1 or rest[0].lower() not in states:
            return UsageError(f"The status is `open` or `waiting`, e.g. {example}.")
        return SetStatus(number, states[rest[0].lower()])
    if rest:
        return UsageError(f"{example} takes only the ticket.")
    simple: dict[str, type[Unassign | Resolve | Reopen | Close]] = {
        "unassign": Unassign,
        "resolve": Resolve,
        "reopen": Reopen,
        "close": Close,
    }
    return simple[subcommand](number)


_FILTERS = {f.value: f for f in ListFilter}
_PAGE = re.compile(r"^page=(\d{1,4})$")


def _parse_list(args: list[str]) -> ListTickets | UsageError:
    chosen: dict[str, object] = {}
    for arg in args:
        lowered = arg.lower()
        if lowered in _FILTERS and "filter" not in chosen:
            chosen["filter"] = _FILTERS[lowered]
        elif (channel_id := parse_channel_mention(arg)) and "channel_id" not in chosen:
            chosen["channel_id"] = channel_id
        elif (user_id := parse_user_mention(arg)) and "user_id" not in chosen:
            chosen["user_id"] = user_id
        elif (page := _PAGE.match(lowered)) and int(page.group(1)) >= 1:
            chosen["page"] = int(page.group(1))
        else:
            return UsageError(
                f"`{_echo(arg)}` is not a list filter: use one of open, mine, unassigned,"
                " breaching, waiting, plus a #channel and an @someone."
            )
    return ListTickets(**chosen)  # type: ignore[arg-type]


def _parse_capacity(args: list[str]) -> TeamCapacity | UsageError:
    if len(args) != 2:
        return UsageError("Say e.g. `/ticket team capacity @someone 5` (or `none`).")
    user_id = _user(args[0])
    if isinstance(user_id, UsageError):
        return user_id
    if args[1].lower() == "none":
        return TeamCapacity(user_id, None)
    if not args[1].isdigit() or not 0 < int(args[1]) <= 1000:
        return UsageError(f"`{_echo(args[1])}` is not a capacity: a number from 1 to 1000.")
    return TeamCapacity(user_id, int(args[1]))


def _parse_member_hours(args: list[str]) -> TeamHours | UsageError:
    if not args:
        return UsageError("Say e.g. `/ticket team hours @someone Europe/Berlin 09:00-17:00`.")
    user_id = _user(args[0])
    if isinstance(user_id, UsageError):
        return user_id
    if len(args) == 2 and args[1].lower() == "none":
        return TeamHours(user_id, None)
    hours = _parse_hours(["set", *args[1:]])
    if isinstance(hours, UsageError):
        return hours
    if isinstance(hours, HoursShow) or hours.holiday_country is not None:
        return UsageError("Say e.g. `/ticket team hours @someone Europe/Berlin 09:00-17:00`.")
    return TeamHours(user_id, hours.time_zone, hours.opens, hours.closes, hours.days)


def _parse_sla(args: list[str]) -> SlaShow | SlaSet | UsageError:
    if not args:
        return SlaShow()
    if args[0].lower() != "set":
        return UsageError(f"`/ticket sla` takes `set`, not `{_echo(args[0])}`.")
    if len(args) < 3:
        return UsageError("Say which priority and at least one target, e.g. `first_response=2h`.")
    priority = _PRIORITIES.get(args[1].lower())
    if priority is None:
        return UsageError(f"`{_echo(args[1])}` is not a priority (low, normal, high, urgent).")
    changes: dict[str, object] = {}
    for arg in args[2:]:
        name, _, value = arg.partition("=")
        name = name.lower()
        if name == "business_hours" and value.lower() in _SWITCH:
            changes[name] = _SWITCH[value.lower()]
        elif name in {"first_response", "next_response", "resolution"} and value:
            try:
                changes[name] = parse_duration(value)
            except ValueError as exc:
                return UsageError(f"{name}: {exc}.")
        else:
            return UsageError(f"`{_echo(arg)}` is not a target setting.")
    return SlaSet(priority=priority, **changes)  # type: ignore[arg-type]


def _parse_team(args: list[str]) -> Command | UsageError:
    if not args or (len(args) == 1 and args[0].lower() == "list"):
        return TeamList()
    action, rest = args[0].lower(), args[1:]
    if action == "capacity":
        return _parse_capacity(rest)
    if action == "hours":
        return _parse_member_hours(rest)
    if action == "add":
        if not rest:
            return UsageError("Say who to add and as what: `/ticket team add @someone agent`.")
        user_id = _user(rest[0])
        if isinstance(user_id, UsageError):
            return user_id
        if len(rest) == 1:
            return UsageError("Say which role to give them: `agent` or `lead`.")
        role = _ROLES.get(rest[1].lower())
        if role is None:
            return UsageError(f"`{_echo(rest[1])}` is not a role: use `agent` or `lead`.")
        if len(rest) > 2:
            return UsageError("`/ticket team add` takes one person and one role.")
        return TeamAdd(user_id=user_id, role=role)
    if action == "remove":
        if not rest:
            return UsageError("Say who to remove: `/ticket team remove @someone`.")
        if len(rest) > 1:
            return UsageError("`/ticket team remove` takes one person at a time.")
        user_id = _user(rest[0])
        if isinstance(user_id, UsageError):
            return user_id
        return TeamRemove(user_id=user_id)
    return UsageError(
        f"Unknown `/ticket team` action `{_echo(args[0])}`: use `add`, `remove`, `capacity`"
        " or `hours`."
    )


def _parse_watch(args: list[str]) -> Watch | UsageError:
    if not args:
        return Watch(triage_channel_id=None)
    if len(args) > 1:
        return UsageError("`/ticket watch` takes at most one triage channel.")
    channel_id = parse_channel_mention(args[0])
    if channel_id is None:
        return UsageError(
            f"`{_echo(args[0])}` is not a channel: pick the triage channel from the `#` list."
        )
    return Watch(triage_channel_id=channel_id)


def _parse_autoreply(args: list[str]) -> AutoReply | UsageError:
    if len(args) != 1 or args[0].lower() not in _SWITCH:
        return UsageError("Say `on` or `off`: `/ticket autoreply on`.")
    return AutoReply(enabled=_SWITCH[args[0].lower()])


def _no_arguments(args: list[str], subcommand: str, command: _T) -> _T | UsageError:
    if args:
        return UsageError(f"`/ticket {subcommand}` takes no arguments.")
    return command


def _user(token: str) -> str | UsageError:
    user_id = parse_user_mention(token)
    if user_id is None:
        return UsageError(f"`{_echo(token)}` is not a person: pick them from the `@` list.")
    return user_id


def _echo(token: str) -> str:
    """The user's own word (Slack text), safe to quote back inside backticks: shown as read,
    shortened, escaped once (a `<!here>` they typed comes back as words, not a mention)."""
    shown = readable(token).replace("`", "'")
    return escape(shown if len(shown) <= _ECHO_LIMIT else shown[:_ECHO_LIMIT] + "…")
