"""The `/ticket` subcommands, one spec each: its name, its line in the usage, its parser, its
handler, and who may run it. The usage text, `parse` and the listener's dispatch are built from
this table: adding a subcommand is adding a spec.

A name is the subcommand's words (`team add`); a word may be alternatives (`csat on|off`). The
text goes to the spec whose name matches the most of its first words (`team add ...` to
`team add`, `team frobnicate` to `team`, whose parser says what is wrong).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Generic, TypeAlias, TypeVar

from app.errors import NotAllowed
from app.slack.listeners import (
    account_commands,
    assignment_commands,
    channel_commands,
    csat_commands,
    nps_commands,
    sla_commands,
    team_commands,
    ticket_commands,
)
from app.slack.replies import Reply, ack_ephemeral
from app.slack.ticket_command.account_grammar import (
    parse_account_churn,
    parse_account_map,
    parse_account_new,
    parse_account_set,
    parse_account_show,
    parse_account_unmap,
    parse_accounts,
    parse_nps,
    parse_nps_opt_out,
    parse_nps_start,
)
from app.slack.ticket_command.call import Call, Slash
from app.slack.ticket_command.grammar import (
    Args,
    Command,
    Help,
    UsageError,
    parse_assign,
    parse_autoassign,
    parse_autoreply,
    parse_channels,
    parse_close,
    parse_csat,
    parse_csat_account,
    parse_csat_all,
    parse_csat_channel,
    parse_csat_delay,
    parse_csat_internal,
    parse_escalate,
    parse_help,
    parse_hours,
    parse_hours_set,
    parse_list,
    parse_new,
    parse_note,
    parse_offhours,
    parse_priority,
    parse_reopen,
    parse_resolve,
    parse_show,
    parse_sla,
    parse_sla_set,
    parse_stats,
    parse_status,
    parse_team_add,
    parse_team_capacity,
    parse_team_hours,
    parse_team_list,
    parse_team_remove,
    parse_unassign,
    parse_unwatch,
    parse_watch,
    split,
    unknown_subcommand,
)
from app.team.enums import Role
from app.text_safety import escape

C = TypeVar("C", bound=Command)

Parser: TypeAlias = Callable[[Args], C | UsageError]
Handler: TypeAlias = Callable[[Call, C], Awaitable[str | Reply]]
"""Runs the command in the listener's transaction, after the check of who may run it; returns
the reply only its user sees. A domain error it raises rolls the transaction back and becomes
the reply instead."""


@dataclass(frozen=True)
class Immediate(Generic[C]):
    """A handler that answers at once, with no transaction and no check (`help`, `new`): it
    acknowledges the request itself."""

    answer: Callable[[Slash, C], Awaitable[None]]


class Who(StrEnum):
    """Who may run a subcommand (checked in one place, by the listener, before its handler)."""

    ANYONE = "anyone"
    TEAM = "team"  # agents and leads
    LEADS = "leads"


@dataclass(frozen=True)
class Permission:
    """Who may run a subcommand, and what anyone else is told."""

    who: Who
    refusal: str = ""

    def allows(self, role: Role | None) -> bool:
        if self.who is Who.LEADS:
            return role == Role.LEAD
        if self.who is Who.TEAM:
            return role is not None
        return True

    def check(self, role: Role | None) -> None:
        if not self.allows(role):
            raise NotAllowed(self.refusal)


ANYONE = Permission(Who.ANYONE)


def team(to: str, *, then: str = "") -> Permission:
    """Agents and leads; others are told "Sorry, only the support team can <to>." (and `then`)."""
    return Permission(Who.TEAM, f"Sorry, only the support team can {to}.{then}")


def leads(to: str) -> Permission:
    """Leads; others are told "Sorry, only support leads can <to>."."""
    return Permission(Who.LEADS, f"Sorry, only support leads can {to}.")


@dataclass(frozen=True)
class Usage:
    """A subcommand's line in the usage: `/ticket <name> <args>`: <says>."""

    args: str = ""
    says: str = ""
    same_line: bool = False  # shown on the line of the spec before it, after its form


@dataclass(frozen=True)
class Spec(Generic[C]):
    """One subcommand: its name, its line in the usage, the parser that makes its command from
    the words after the name, the handler that runs it, and who may run it."""

    name: str
    usage: Usage
    parser: Parser[C]
    handler: Handler[C] | Immediate[C]
    who: Permission = ANYONE

    def __post_init__(self) -> None:
        if isinstance(self.handler, Immediate) and self.who != ANYONE:
            raise ValueError(f"/ticket {self.name} answers at once: anyone may run it")

    @property
    def form(self) -> str:
        """How the usage writes it: `/ticket team add @someone agent|lead`."""
        return " ".join(part for part in ("/ticket", self.name, self.usage.args) if part)

    def length_matched(self, words: Sequence[str]) -> int:
        """How many of the first words are this subcommand's name (0: they are not)."""
        name = self.name.split()
        if len(words) < len(name):
            return 0
        matches = all(
            word.lower() in choices.split("|") for word, choices in zip(words, name, strict=False)
        )
        return len(name) if matches else 0


_SHOW_INSTEAD = " You can `/ticket show` the tickets you asked about."
_TICKET_CHANGERS = team("change tickets", then=_SHOW_INSTEAD)
_CSAT_CHANGERS = leads("change CSAT settings")
_ACCOUNT_CHANGERS = leads("change accounts")


async def _show_usage(slash: Slash, command: Help) -> None:
    await ack_ephemeral(slash.ack, USAGE)


# In the order of the usage. Not annotated, so that mypy infers each spec's command type and
# checks that its parser makes what its handler takes.
SPECS = (
    Spec("help", Usage("", "show this message"), parse_help, Immediate(_show_usage)),
    Spec(
        "list",
        Usage(
            "[open|mine|unassigned|breaching|waiting] [#channel] [@someone]",
            "the tickets, most urgent first",
        ),
        parse_list,
        ticket_commands.list_tickets,
        who=team("list tickets", then=_SHOW_INSTEAD),
    ),
    Spec(
        "show",
        Usage("T-42", "a ticket's status and its SLA ledger"),
        parse_show,
        ticket_commands.show_ticket,  # the team sees any ticket, a requester their own
    ),
    Spec(
        "new",
        Usage("", "open a ticket by hand"),
        parse_new,
        Immediate(ticket_commands.open_new_ticket),  # the form refuses anyone not on the team
    ),
    Spec(
        "assign",
        Usage("T-42 @someone|me"),
        parse_assign,
        ticket_commands.assign_ticket,
        who=_TICKET_CHANGERS,  # assigning someone else: leads (the service checks)
    ),
    Spec(
        "unassign",
        Usage("T-42", "who works on it", same_line=True),
        parse_unassign,
        ticket_commands.unassign_ticket,
        who=_TICKET_CHANGERS,
    ),
    Spec(
        "priority",
        Usage("T-42 low|normal|high|urgent", "change its priority"),
        parse_priority,
        ticket_commands.set_ticket_priority,
        who=_TICKET_CHANGERS,
    ),
    Spec(
        "status",
        Usage("T-42 open|waiting", "waiting on the customer pauses the resolution clock"),
        parse_status,
        ticket_commands.set_ticket_status,
        who=_TICKET_CHANGERS,
    ),
    Spec(
        "resolve",
        Usage("T-42"),
        parse_resolve,
        ticket_commands.resolve_ticket,
        who=_TICKET_CHANGERS,
    ),
    Spec(
        "reopen",
        Usage("T-42", same_line=True),
        parse_reopen,
        ticket_commands.reopen_ticket,
        who=_TICKET_CHANGERS,
    ),
    Spec(
        "close",
        Usage("T-42", same_line=True),
        parse_close,
        ticket_commands.close_ticket,
        who=_TICKET_CHANGERS,  # closing: leads (the service checks)
    ),
    Spec(
        "note",
        Usage(
            "T-42 <text>",
            "an internal note under the triage card, never shown to the customer",
        ),
        parse_note,
        ticket_commands.note_ticket,
        who=_TICKET_CHANGERS,
    ),
    Spec(
        "escalate",
        Usage(
            "T-42 jira|linear [PROJECT]",
            "open an engineering issue; the ticket waits on engineering until it is done",
        ),
        parse_escalate,
        ticket_commands.escalate_ticket,
        who=_TICKET_CHANGERS,
    ),
    Spec(
        "autoassign",
        Usage(
            "off|round_robin|least_loaded",
            "assign new tickets from this channel automatically",
        ),
        parse_autoassign,
        assignment_commands.set_channel_auto_assign,
        who=leads("change auto-assignment"),
    ),
    Spec(
        "team capacity",
        Usage("@someone 5|none", "the most open tickets auto-assignment gives them"),
        parse_team_capacity,
        assignment_commands.set_member_capacity,
        who=leads("change capacities"),
    ),
    Spec(
        "team hours",
        Usage(
            "@someone Europe/Berlin 09:00-17:00 [days=mon-fri]|none",
            "when auto-assignment may pick them",
        ),
        parse_team_hours,
        assignment_commands.set_member_hours,  # agents their own, leads anyone's
        who=Permission(Who.TEAM, "Sorry, only support leads can change someone else's hours."),
    ),
    Spec(
        "team",
        Usage("", "list the support team"),
        parse_team_list,
        team_commands.list_team,
        who=leads("see the support team"),
    ),
    Spec(
        "team add",
        Usage("@someone agent|lead", "add someone to the team, or change their role"),
        parse_team_add,
        team_commands.add_to_team,
        who=leads("change the team"),
    ),
    Spec(
        "team remove",
        Usage("@someone", "take someone off the team"),
        parse_team_remove,
        team_commands.remove_from_team,
        who=leads("change the team"),
    ),
    Spec(
        "watch",
        Usage(
            "[#triage-channel]",
            "turn messages in this channel into tickets; their triage cards go to"
            " #triage-channel, or to the default triage channel",
        ),
        parse_watch,
        channel_commands.watch_here,
        who=leads("watch channels"),
    ),
    Spec(
        "unwatch",
        Usage("", "stop making tickets from this channel"),
        parse_unwatch,
        channel_commands.unwatch_here,
        who=leads("unwatch channels"),
    ),
    Spec(
        "channels",
        Usage("", "list the watched channels and their triage channels"),
        parse_channels,
        channel_commands.list_channels,
        who=leads("list watched channels"),
    ),
    Spec(
        "autoreply",
        Usage("on|off", "turn the automatic reply to new tickets here on or off"),
        parse_autoreply,
        channel_commands.switch_auto_reply,
        who=leads("change auto-replies"),
    ),
    Spec(
        "offhours",
        Usage("on|off", "tell customers who write here after hours when the team is back"),
        parse_offhours,
        channel_commands.switch_off_hours_reply,
        who=leads("change the off-hours reply"),
    ),
    Spec(
        "hours",
        Usage("", "show business hours"),
        parse_hours,
        sla_commands.show_hours,
        who=team("see the business hours"),
    ),
    Spec(
        "hours set",
        Usage(
            "Europe/Berlin 09:00-17:00 [days=mon-fri] [holidays=DE]", "change them", same_line=True
        ),
        parse_hours_set,
        sla_commands.set_hours,
        who=leads("change business hours"),
    ),
    Spec(
        "sla",
        Usage("", "show the response and resolution targets"),
        parse_sla,
        sla_commands.show_sla,
        who=team("see the SLA targets"),
    ),
    Spec(
        "sla set",
        Usage(
            "<low|normal|high|urgent> [first_response=4h] [next_response=8h] [resolution=2d]"
            " [business_hours=on|off]",
            "change the targets of one priority",
        ),
        parse_sla_set,
        sla_commands.set_sla,
        who=leads("change SLA targets"),
    ),
    Spec(
        "csat",
        Usage("", "show who is asked to rate resolved tickets, and when"),
        parse_csat,
        csat_commands.show_csat,
        who=team("see the CSAT settings"),
    ),
    Spec(
        "csat on|off",
        Usage("", "ask (or stop asking) for ratings in this channel"),
        parse_csat_channel,
        csat_commands.set_csat_channel,
        who=_CSAT_CHANGERS,
    ),
    Spec(
        "csat all",
        Usage("on|off", "turn the rating prompt on or off for the whole workspace"),
        parse_csat_all,
        csat_commands.set_csat_workspace,
        who=_CSAT_CHANGERS,
    ),
    Spec(
        "csat delay",
        Usage("10m", "how long after a resolution the rating prompt is posted"),
        parse_csat_delay,
        csat_commands.set_csat_delay,
        who=_CSAT_CHANGERS,
    ),
    Spec(
        "csat internal",
        Usage("on|off", "also ask requesters from our own workspace"),
        parse_csat_internal,
        csat_commands.set_csat_internal,
        who=_CSAT_CHANGERS,
    ),
    Spec(
        "csat account",
        Usage("<name or team id> on|off", "ask (or stop asking) one customer account"),
        parse_csat_account,
        csat_commands.set_csat_account,
        who=_CSAT_CHANGERS,
    ),
    Spec(
        "stats",
        Usage("[7d|30d|90d]", "ticket volume and CSAT by period, channel, agent and account"),
        parse_stats,
        csat_commands.show_stats,
        who=team("see the stats"),
    ),
    Spec(
        "accounts",
        Usage("[at-risk]", "customer accounts, least healthy first; or only those at risk"),
        parse_accounts,
        account_commands.list_account_health,
        who=team("see the accounts"),
    ),
    Spec(
        "account",
        Usage("[name|#channel]", "an account: its owner, renewal, tickets and health, and why"),
        parse_account_show,
        account_commands.show_account,
        who=team("see accounts"),
    ),
    Spec(
        "account show",
        Usage("name|#channel", same_line=True),
        parse_account_show,
        account_commands.show_account,
        who=team("see accounts"),
    ),
    Spec(
        "account new",
        Usage("<name>", "add an account for customers who write in channels of their own"),
        parse_account_new,
        account_commands.new_account,
        who=_ACCOUNT_CHANGERS,
    ),
    Spec(
        "account set",
        Usage(
            "[name] owner=@someone tier=strategic|enterprise|growth|standard"
            " renewal=2027-03-31 revenue=120000",
            "change an account (`none` clears one)",
        ),
        parse_account_set,
        account_commands.set_account,
        who=_ACCOUNT_CHANGERS,
    ),
    Spec(
        "account map",
        Usage("[name] #channel|domain acme.com", "its requests from there belong to it"),
        parse_account_map,
        account_commands.map_account,
        who=_ACCOUNT_CHANGERS,
    ),
    Spec(
        "account unmap",
        Usage("[name] #channel|domain acme.com", same_line=True),
        parse_account_unmap,
        account_commands.map_account,
        who=_ACCOUNT_CHANGERS,
    ),
    Spec(
        "account churned|active",
        Usage("[name]", "mark it lost (no more health scores), or won back"),
        parse_account_churn,
        account_commands.churn_account,
        who=_ACCOUNT_CHANGERS,
    ),
    Spec(
        "nps",
        Usage("[30d|90d|180d|365d]", "NPS by account, owner and channel, and who is asked when"),
        parse_nps,
        nps_commands.show_nps,
        who=team("see NPS"),
    ),
    Spec(
        "nps start",
        Usage("[account]", "ask every account's contacts (or one account's) the NPS question"),
        parse_nps_start,
        nps_commands.start_round,
        who=leads("start an NPS round"),
    ),
    Spec(
        "nps optout|optin",
        Usage("@someone|#channel|account", "never ask them (or ask them again)"),
        parse_nps_opt_out,
        nps_commands.change_opt_out,
        who=leads("change who is asked for NPS"),
    ),
)

USAGE_HEADER = "*Usage:* `/ticket <subcommand>`"


def usage_text(specs: Iterable[Spec[Any]]) -> str:
    """The header, then a line per spec (or per run of specs that share one), escaped once as
    a whole: Slack would read `<subcommand>` as markup (even in code spans)."""
    lines: list[list[Spec[Any]]] = []
    for spec in specs:
        if spec.usage.same_line and lines:
            lines[-1].append(spec)
        else:
            lines.append([spec])
    return escape("\n".join([USAGE_HEADER, *(f"• {_line(line)}" for line in lines)]))


def _line(specs: list[Spec[Any]]) -> str:
    """`a`, `b`: what both do (a form that says nothing shares the next one's words);
    `a`: what it does; `b`: what it does."""
    text = ""
    for before, spec in zip([None, *specs], specs, strict=False):
        if before is not None:
            text += "; " if before.usage.says else ", "
        text += f"`{spec.form}`" + (f": {spec.usage.says}" if spec.usage.says else "")
    return text


USAGE = usage_text(SPECS)


@dataclass(frozen=True)
class Parsed(Generic[C]):
    """A text read: the command, and the spec that runs it."""

    spec: Spec[C]
    command: C


def read(text: str) -> Parsed[Any] | UsageError:
    """The spec the text names and the command its parser makes, or what was wrong followed
    by the usage. No text at all asks for help."""
    words = split(text) or ["help"]
    named = spec_for(words)
    if named is None:
        return replace(unknown_subcommand(words[0]), usage=USAGE)
    spec, length = named
    command = spec.parser(Args(tuple(words[length:]), tuple(words[:length]), text))
    if isinstance(command, UsageError):
        return replace(command, usage=USAGE)
    return Parsed(spec, command)


def spec_for(words: Sequence[str]) -> tuple[Spec[Any], int] | None:
    """The spec whose name is the most of the first words, and how many words that is."""
    named: tuple[Spec[Any], int] | None = None
    for spec in SPECS:
        length = spec.length_matched(words)
        if length and (named is None or length > named[1]):
            named = (spec, length)
    return named


def parse(text: str) -> Command | UsageError:
    """The command in the text, or what was wrong followed by the usage."""
    parsed = read(text)
    return parsed if isinstance(parsed, UsageError) else parsed.command
