"""The `/ticket` grammar: the commands, and one parser per subcommand (its words in, a command
or a usage error out). No I/O. Which parser reads which subcommand is the table's business
(specs.py).

Slack sends the text with escaping on, so mentions arrive as `<@U123|name>` and channels as
`<#C123|name>` (or `<#C123>`, `<#C123|>` when Slack has no name to give); the helpers below read
those forms. Subcommands and keywords are case-insensitive.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from app.sla.durations import parse_duration
from app.team.enums import AutoAssignMode, Role
from app.text_safety import escape, readable
from app.tickets.enums import ListFilter, Priority

_USER_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
_CHANNEL_MENTION = re.compile(r"^<#([CG][A-Z0-9]+)(?:\|[^>]*)?>$")
# A word, or a whole `<...>` escape even if the name inside it has spaces.
_TOKEN = re.compile(r"<[^>]*>|[^\s<]+|<")
_ROLES = {role.value: role for role in Role}
_SWITCH = {"on": True, "off": False}
_PRIORITIES = {priority.value: priority for priority in Priority}
_ECHO_LIMIT = 40
_T = TypeVar("_T")


class Command:
    """A `/ticket` subcommand, read: one of the frozen dataclasses below."""


@dataclass(frozen=True)
class Help(Command):
    pass


@dataclass(frozen=True)
class TeamList(Command):
    pass


@dataclass(frozen=True)
class TeamAdd(Command):
    user_id: str
    role: Role


@dataclass(frozen=True)
class TeamRemove(Command):
    user_id: str


@dataclass(frozen=True)
class Watch(Command):
    """Watch the channel the command was run in; None means the workspace's triage channel."""

    triage_channel_id: str | None


@dataclass(frozen=True)
class Unwatch(Command):
    pass


@dataclass(frozen=True)
class ChannelList(Command):
    pass


@dataclass(frozen=True)
class AutoReply(Command):
    enabled: bool


@dataclass(frozen=True)
class SlaShow(Command):
    pass


@dataclass(frozen=True)
class SlaSet(Command):
    priority: Priority
    first_response: timedelta | None = None
    next_response: timedelta | None = None
    resolution: timedelta | None = None
    business_hours: bool | None = None


@dataclass(frozen=True)
class OffHoursReply(Command):
    enabled: bool


@dataclass(frozen=True)
class HoursShow(Command):
    pass


@dataclass(frozen=True)
class HoursSet(Command):
    time_zone: str
    opens: str
    closes: str
    days: tuple[str, ...]
    holiday_country: str | None = None


@dataclass(frozen=True)
class Show(Command):
    number: int


@dataclass(frozen=True)
class ListTickets(Command):
    filter: ListFilter = ListFilter.OPEN
    channel_id: str | None = None
    user_id: str | None = None
    page: int = 1


@dataclass(frozen=True)
class NewTicket(Command):
    pass


@dataclass(frozen=True)
class Assign(Command):
    number: int
    user_id: str | None  # None: the person running the command ("me")


@dataclass(frozen=True)
class Unassign(Command):
    number: int


@dataclass(frozen=True)
class SetPriority(Command):
    number: int
    priority: Priority


@dataclass(frozen=True)
class SetStatus(Command):
    number: int
    waiting: bool  # True: waiting on the customer; False: open


@dataclass(frozen=True)
class Resolve(Command):
    number: int


@dataclass(frozen=True)
class Reopen(Command):
    number: int


@dataclass(frozen=True)
class Close(Command):
    number: int


@dataclass(frozen=True)
class Note(Command):
    number: int
    text: str


@dataclass(frozen=True)
class Escalate(Command):
    number: int
    tracker: str  # jira | linear
    target: str | None  # a Jira project key or a Linear team key; None: the connector's default


@dataclass(frozen=True)
class AutoAssign(Command):
    mode: AutoAssignMode


@dataclass(frozen=True)
class TeamCapacity(Command):
    user_id: str
    capacity: int | None


@dataclass(frozen=True)
class TeamHours(Command):
    user_id: str
    time_zone: str | None  # None: clear (the workspace's business hours apply)
    opens: str = ""
    closes: str = ""
    days: tuple[str, ...] = ()


@dataclass(frozen=True)
class CsatShow(Command):
    pass


@dataclass(frozen=True)
class CsatChannel(Command):
    """Ask for ratings in the channel the command was run in, or not."""

    enabled: bool


@dataclass(frozen=True)
class CsatWorkspace(Command):
    enabled: bool


@dataclass(frozen=True)
class CsatDelay(Command):
    delay: timedelta


@dataclass(frozen=True)
class CsatInternal(Command):
    enabled: bool


@dataclass(frozen=True)
class CsatAccount(Command):
    account: str
    enabled: bool


@dataclass(frozen=True)
class Stats(Command):
    days: int = 7


@dataclass(frozen=True)
class UsageError:
    """What was wrong with the text, followed by the usage (which `parse`, in specs.py, adds:
    it is built from the table of subcommands)."""

    problem: str
    usage: str = ""

    @property
    def message(self) -> str:
        return f"{self.problem}\n{self.usage}" if self.usage else self.problem


@dataclass(frozen=True)
class Args:
    """What a subcommand's parser reads: the words after its name, its name's words as typed,
    and the whole text (a note keeps its own spacing)."""

    words: tuple[str, ...]
    said: tuple[str, ...] = ()
    text: str = ""


def split(text: str) -> list[str]:
    """The text's words; a `<...>` escape is one word even if the name inside has spaces."""
    return _TOKEN.findall(text)


def unknown_subcommand(word: str) -> UsageError:
    return UsageError(f"Unknown subcommand `{_echo(word)}`.")


def parse_user_mention(token: str) -> str | None:
    """`<@U123|ann>` or `<@U123>` -> `U123`; anything else -> None."""
    match = _USER_MENTION.match(token)
    return match.group(1) if match else None


def parse_channel_mention(token: str) -> str | None:
    """`<#C123|support>` or `<#C123>` -> `C123`; anything else -> None."""
    match = _CHANNEL_MENTION.match(token)
    return match.group(1) if match else None


_MAX_TICKET_NUMBER = 2**31 - 1


def parse_ticket_number(token: str) -> int | UsageError:
    """`T-42`, `t-42`, `#42` or `42` -> 42."""
    digits = token.upper().removeprefix("T-").removeprefix("#")
    if not digits.isascii() or not digits.isdigit() or not 0 < int(digits) <= _MAX_TICKET_NUMBER:
        return UsageError(f"`{_echo(token)}` is not a ticket number like T-42.")
    return int(digits)


# -- help, list, show, new -------------------------------------------------------------------


def parse_help(args: Args) -> Help:
    return Help()  # whatever follows: `help me please` is still asking for help


_FILTERS = {f.value: f for f in ListFilter}
_PAGE = re.compile(r"^page=(\d{1,4})$")


def parse_list(args: Args) -> ListTickets | UsageError:
    chosen: dict[str, object] = {}
    for arg in args.words:
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


def parse_show(args: Args) -> Show | UsageError:
    if len(args.words) != 1:
        return UsageError("Say which ticket, e.g. `/ticket show T-42`.")
    number = parse_ticket_number(args.words[0])
    return Show(number) if isinstance(number, int) else number


def parse_new(args: Args) -> NewTicket | UsageError:
    return _no_arguments(args, "new", NewTicket())


# -- one ticket ------------------------------------------------------------------------------

_NOTE = re.compile(r"^\s*\S+\s+\S+\s*(.*)$", re.DOTALL)  # `note`, the ticket, then the note
_NOTE_LIMIT = 4000


def parse_assign(args: Args) -> Assign | UsageError:
    example = "`/ticket assign T-42 @someone` (or `me`)"
    found = _ticket(args, example)
    if isinstance(found, UsageError):
        return found
    number, rest = found
    if len(rest) != 1:
        return UsageError(f"Say who takes it, e.g. {example}.")
    if rest[0].lower() == "me":
        return Assign(number, None)
    user_id = _user(rest[0])
    return Assign(number, user_id) if isinstance(user_id, str) else user_id


def parse_unassign(args: Args) -> Unassign | UsageError:
    return _only_the_ticket(args, "`/ticket unassign T-42`", Unassign)


def parse_priority(args: Args) -> SetPriority | UsageError:
    example = "`/ticket priority T-42 high`"
    found = _ticket(args, example)
    if isinstance(found, UsageError):
        return found
    number, rest = found
    priority = _PRIORITIES.get(rest[0].lower()) if len(rest) == 1 else None
    if priority is None:
        return UsageError(f"Say one priority (low, normal, high, urgent), e.g. {example}.")
    return SetPriority(number, priority)


def parse_status(args: Args) -> SetStatus | UsageError:
    example = "`/ticket status T-42 waiting` (or `open`)"
    found = _ticket(args, example)
    if isinstance(found, UsageError):
        return found
    number, rest = found
    states = {"open": False, "waiting": True}
    if len(rest) != 1 or rest[0].lower() not in states:
        return UsageError(f"The status is `open` or `waiting`, e.g. {example}.")
    return SetStatus(number, states[rest[0].lower()])


def parse_resolve(args: Args) -> Resolve | UsageError:
    return _only_the_ticket(args, "`/ticket resolve T-42`", Resolve)


def parse_reopen(args: Args) -> Reopen | UsageError:
    return _only_the_ticket(args, "`/ticket reopen T-42`", Reopen)


def parse_close(args: Args) -> Close | UsageError:
    return _only_the_ticket(args, "`/ticket close T-42`", Close)


def parse_note(args: Args) -> Note | UsageError:
    example = "`/ticket note T-42 what you found`"
    found = _ticket(args, example)
    if isinstance(found, UsageError):
        return found
    number, _ = found
    match = _NOTE.match(args.text)
    note = match.group(1).strip() if match else ""
    if not note:
        return UsageError(f"Write the note after the ticket, e.g. {example}.")
    if len(note) > _NOTE_LIMIT:
        return UsageError(f"A note holds at most {_NOTE_LIMIT} characters.")
    return Note(number, note)


TRACKERS = ("jira", "linear")
_TARGET = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")  # a Jira project key, a Linear team key


def parse_escalate(args: Args) -> Escalate | UsageError:
    example = "`/ticket escalate T-42 jira ENG`"
    found = _ticket(args, example)
    if isinstance(found, UsageError):
        return found
    number, rest = found
    if not rest or rest[0].lower() not in TRACKERS:
        return UsageError(f"Say where: jira or linear, e.g. {example}.")
    if len(rest) > 2:
        return UsageError(f"{example} takes the ticket, the tracker and at most a project.")
    target = rest[1] if len(rest) == 2 else None
    if target is not None and not _TARGET.match(target):
        return UsageError("A project (Jira) or team (Linear) is named by its key, e.g. ENG.")
    return Escalate(number, rest[0].lower(), target.upper() if target else None)


def _ticket(args: Args, example: str) -> tuple[int, tuple[str, ...]] | UsageError:
    """The ticket number every one-ticket subcommand starts with, and the words after it."""
    if not args.words:
        return UsageError(f"Say which ticket, e.g. {example}.")
    number = parse_ticket_number(args.words[0])
    if isinstance(number, UsageError):
        return number
    return number, args.words[1:]


def _only_the_ticket(args: Args, example: str, command: Callable[[int], _T]) -> _T | UsageError:
    found = _ticket(args, example)
    if isinstance(found, UsageError):
        return found
    number, rest = found
    if rest:
        return UsageError(f"{example} takes only the ticket.")
    return command(number)


# -- the team --------------------------------------------------------------------------------


def parse_team_list(args: Args) -> TeamList | UsageError:
    """`team` (or `team list`); any other word after `team` is not one of its actions."""
    words = args.words
    if not words or (len(words) == 1 and words[0].lower() == "list"):
        return TeamList()
    return UsageError(
        f"Unknown `/ticket team` action `{_echo(words[0])}`: use `add`, `remove`, `capacity`"
        " or `hours`."
    )


def parse_team_add(args: Args) -> TeamAdd | UsageError:
    rest = args.words
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


def parse_team_remove(args: Args) -> TeamRemove | UsageError:
    rest = args.words
    if not rest:
        return UsageError("Say who to remove: `/ticket team remove @someone`.")
    if len(rest) > 1:
        return UsageError("`/ticket team remove` takes one person at a time.")
    user_id = _user(rest[0])
    if isinstance(user_id, UsageError):
        return user_id
    return TeamRemove(user_id=user_id)


def parse_team_capacity(args: Args) -> TeamCapacity | UsageError:
    words = args.words
    if len(words) != 2:
        return UsageError("Say e.g. `/ticket team capacity @someone 5` (or `none`).")
    user_id = _user(words[0])
    if isinstance(user_id, UsageError):
        return user_id
    if words[1].lower() == "none":
        return TeamCapacity(user_id, None)
    if not words[1].isdigit() or not 0 < int(words[1]) <= 1000:
        return UsageError(f"`{_echo(words[1])}` is not a capacity: a number from 1 to 1000.")
    return TeamCapacity(user_id, int(words[1]))


def parse_team_hours(args: Args) -> TeamHours | UsageError:
    words = args.words
    if not words:
        return UsageError("Say e.g. `/ticket team hours @someone Europe/Berlin 09:00-17:00`.")
    user_id = _user(words[0])
    if isinstance(user_id, UsageError):
        return user_id
    if len(words) == 2 and words[1].lower() == "none":
        return TeamHours(user_id, None)
    hours = _hours_set(words[1:])
    if isinstance(hours, UsageError):
        return hours
    if hours.holiday_country is not None:
        return UsageError("Say e.g. `/ticket team hours @someone Europe/Berlin 09:00-17:00`.")
    return TeamHours(user_id, hours.time_zone, hours.opens, hours.closes, hours.days)


def parse_autoassign(args: Args) -> AutoAssign | UsageError:
    modes = {mode.value: mode for mode in AutoAssignMode}
    words = args.words
    if len(words) != 1 or words[0].lower().replace("-", "_") not in modes:
        return UsageError("Say `/ticket autoassign off`, `round_robin` or `least_loaded`.")
    return AutoAssign(modes[words[0].lower().replace("-", "_")])


# -- channels --------------------------------------------------------------------------------


def parse_watch(args: Args) -> Watch | UsageError:
    words = args.words
    if not words:
        return Watch(triage_channel_id=None)
    if len(words) > 1:
        return UsageError("`/ticket watch` takes at most one triage channel.")
    channel_id = parse_channel_mention(words[0])
    if channel_id is None:
        return UsageError(
            f"`{_echo(words[0])}` is not a channel: pick the triage channel from the `#` list."
        )
    return Watch(triage_channel_id=channel_id)


def parse_unwatch(args: Args) -> Unwatch | UsageError:
    return _no_arguments(args, "unwatch", Unwatch())


def parse_channels(args: Args) -> ChannelList | UsageError:
    return _no_arguments(args, "channels", ChannelList())


def parse_autoreply(args: Args) -> AutoReply | UsageError:
    words = args.words
    if len(words) != 1 or words[0].lower() not in _SWITCH:
        return UsageError("Say `on` or `off`: `/ticket autoreply on`.")
    return AutoReply(enabled=_SWITCH[words[0].lower()])


def parse_offhours(args: Args) -> OffHoursReply | UsageError:
    words = args.words
    if len(words) != 1 or words[0].lower() not in _SWITCH:
        return UsageError("Say `/ticket offhours on` or `/ticket offhours off`.")
    return OffHoursReply(_SWITCH[words[0].lower()])


# -- business hours and SLA targets ----------------------------------------------------------

_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^(\d{2}:\d{2})-(\d{2}:\d{2})$")
_HOURS_EXAMPLE = "Say e.g. `/ticket hours set Europe/Berlin 09:00-17:00 days=mon-fri`."


def parse_hours(args: Args) -> HoursShow | UsageError:
    """`hours` alone; any other word than `set` after it gets the example of `hours set`."""
    return UsageError(_HOURS_EXAMPLE) if args.words else HoursShow()


def parse_hours_set(args: Args) -> HoursSet | UsageError:
    return _hours_set(args.words)


def _hours_set(words: tuple[str, ...]) -> HoursSet | UsageError:
    """`Europe/Berlin 09:00-17:00 [days=mon-fri] [holidays=DE]`."""
    if len(words) < 2:
        return UsageError(_HOURS_EXAMPLE)
    match = _HOURS.match(words[1])
    if not match:
        return UsageError(f"`{_echo(words[1])}` is not opening hours like 09:00-17:00.")
    days: tuple[str, ...] = _DAY_NAMES[:5]
    country: str | None = None
    for option in words[2:]:
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
    return HoursSet(words[0], match.group(1), match.group(2), tuple(days), country)


def parse_sla(args: Args) -> SlaShow | UsageError:
    """`sla` alone; any other word than `set` after it is refused."""
    if args.words:
        return UsageError(f"`/ticket sla` takes `set`, not `{_echo(args.words[0])}`.")
    return SlaShow()


def parse_sla_set(args: Args) -> SlaSet | UsageError:
    words = args.words
    if len(words) < 2:
        return UsageError("Say which priority and at least one target, e.g. `first_response=2h`.")
    priority = _PRIORITIES.get(words[0].lower())
    if priority is None:
        return UsageError(f"`{_echo(words[0])}` is not a priority (low, normal, high, urgent).")
    changes: dict[str, object] = {}
    for arg in words[1:]:
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


# -- CSAT and stats --------------------------------------------------------------------------

STATS_PERIODS = {"7d": 7, "30d": 30, "90d": 90}
_CSAT_HINT = escape(
    "Say `/ticket csat on|off`, `/ticket csat all on|off`, `/ticket csat delay 10m`,"
    " `/ticket csat internal on|off` or `/ticket csat account <name> on|off`."
)


def parse_csat(args: Args) -> CsatShow | UsageError:
    """`csat` alone; a word after it that is none of its settings is refused with a hint."""
    return _not_a_csat_setting(args.words[0]) if args.words else CsatShow()


def parse_csat_channel(args: Args) -> CsatChannel | UsageError:
    """`csat on` or `csat off`, and nothing after."""
    switch = args.said[-1]
    if args.words:
        return _not_a_csat_setting(switch)
    return CsatChannel(_SWITCH[switch.lower()])


def parse_csat_all(args: Args) -> CsatWorkspace | UsageError:
    enabled = _csat_switch(args, "all")
    return CsatWorkspace(enabled) if isinstance(enabled, bool) else enabled


def parse_csat_internal(args: Args) -> CsatInternal | UsageError:
    enabled = _csat_switch(args, "internal")
    return CsatInternal(enabled) if isinstance(enabled, bool) else enabled


def parse_csat_delay(args: Args) -> CsatDelay | UsageError:
    if len(args.words) != 1:
        return UsageError("Say how long after a resolution, e.g. `/ticket csat delay 30m`.")
    if args.words[0] == "0":
        return CsatDelay(timedelta(0))
    try:
        return CsatDelay(parse_duration(args.words[0]))
    except ValueError as exc:
        return UsageError(f"delay: {exc}.")


def parse_csat_account(args: Args) -> CsatAccount | UsageError:
    words = args.words
    if len(words) < 2 or words[-1].lower() not in _SWITCH:
        return UsageError("Say e.g. `/ticket csat account Acme Corp off`.")
    return CsatAccount(readable(" ".join(words[:-1])), _SWITCH[words[-1].lower()])


def _csat_switch(args: Args, option: str) -> bool | UsageError:
    if len(args.words) != 1 or args.words[0].lower() not in _SWITCH:
        return UsageError(f"Say `/ticket csat {option} on` or `/ticket csat {option} off`.")
    return _SWITCH[args.words[0].lower()]


def _not_a_csat_setting(word: str) -> UsageError:
    return UsageError(f"`{_echo(word)}` is not a CSAT setting. {_CSAT_HINT}")


def parse_stats(args: Args) -> Stats | UsageError:
    words = args.words
    if not words:
        return Stats()
    if len(words) == 1 and words[0].lower() in STATS_PERIODS:
        return Stats(STATS_PERIODS[words[0].lower()])
    return UsageError("Say `/ticket stats`, `/ticket stats 30d` or `/ticket stats 90d`.")


# -- shared ----------------------------------------------------------------------------------


def _no_arguments(args: Args, subcommand: str, command: _T) -> _T | UsageError:
    if args.words:
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
    if len(escape(shown)) <= _ECHO_LIMIT:
        return escape(shown)
    shown = shown[:_ECHO_LIMIT]
    while len(escape(shown)) > _ECHO_LIMIT:  # the limit counts the escapes (`&gt;`) too
        shown = shown[:-1]
    return escape(shown) + "…"
