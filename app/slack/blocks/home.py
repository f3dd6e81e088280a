"""The Home tab as Block Kit (a `home` view for views.publish), drawn from app/home/queries.py.

The support team gets its open tickets with their SLA, the unassigned queue and the week's
numbers; the buttons are the triage card's (same action ids and values), so the same handlers
serve them. Anyone else gets the tickets they asked for. A Home view holds at most 100 blocks:
the lists are capped upstream, and this stays far below (about 45 blocks at most).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from app.home.queries import CustomerHome, TeamHome, TicketList, WeekNumbers
from app.sla.durations import format_duration
from app.slack.blocks.parts import button, context, field, header, section
from app.slack.blocks.ticket_card import (
    PRIORITY_LABELS,
    SLA_LABELS,
    STATUS_LABELS,
    TARGET_LABELS,
)
from app.slack.ids import ActionId
from app.team.enums import Role
from app.text_safety import date, escape, link
from app.tickets.enums import OPEN_STATUSES, Priority
from app.tickets.models import Ticket

MAX_BLOCKS = 100
_SUBJECT_LIMIT = 80


def home_view(home: TeamHome | CustomerHome) -> dict[str, Any]:
    blocks = _team_blocks(home) if isinstance(home, TeamHome) else _customer_blocks(home)
    if len(blocks) > MAX_BLOCKS:  # never with the capped lists; a guard, not a layout
        blocks = [*blocks[: MAX_BLOCKS - 1], context("The rest did not fit here.")]
    return {"type": "home", "blocks": blocks}


def _team_blocks(home: TeamHome) -> list[dict[str, Any]]:
    role = "support lead" if home.role is Role.LEAD else "support agent"
    blocks: list[dict[str, Any]] = [
        {
            "type": "actions",
            "elements": [
                button(ActionId.CREATE_TICKET, "New ticket", json.dumps({})),
            ],
        },
        context(f"You are a {role}."),
        header("My open tickets"),
    ]
    blocks += _ticket_rows(
        home.mine,
        lambda t: section(_line(t), _ticket_button(ActionId.RESOLVE, t)),
        empty="Nothing is assigned to you. :tada:",
    )
    blocks += [{"type": "divider"}, header("Unassigned queue")]
    blocks += _ticket_rows(
        home.unassigned,
        lambda t: section(_line(t), _ticket_button(ActionId.ASSIGN_TO_ME, t)),
        empty="Every open ticket has someone on it.",
    )
    blocks += [{"type": "divider"}, header("This week"), *_week(home.week)]
    return blocks


def _customer_blocks(home: CustomerHome) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [header("Your requests")]
    blocks += _ticket_rows(
        home.requested,
        lambda t: section(_customer_line(t)),
        empty="You have no tickets. Ask in a support channel and the team will pick it up.",
    )
    return blocks


def _ticket_rows(
    tickets: TicketList, row: Callable[[Ticket], dict[str, Any]], *, empty: str
) -> list[dict[str, Any]]:
    if not tickets.tickets:
        return [section(empty)]
    rows = [row(ticket) for ticket in tickets.tickets]
    if tickets.more:
        rows.append(context(f"and {tickets.more} more"))
    return rows


def _line(ticket: Ticket) -> str:
    parts = [_sla(ticket), STATUS_LABELS[ticket.status]]
    if ticket.priority in (Priority.HIGH, Priority.URGENT):
        parts.append(PRIORITY_LABELS[ticket.priority])
    if ticket.requester_user_id:
        parts.append(f"from <@{ticket.requester_user_id}>")
    if ticket.channel_id:
        parts.append(f"<#{ticket.channel_id}>")
    return f"{_title(ticket)}\n" + " · ".join(parts)


def _customer_line(ticket: Ticket) -> str:
    parts = [STATUS_LABELS[ticket.status], f"opened {date(ticket.created_at, '{ago}')}"]
    if ticket.status in OPEN_STATUSES and ticket.assignee_user_id:
        parts.append(f"<@{ticket.assignee_user_id}> is on it")
    return f"{_title(ticket)}\n" + " · ".join(parts)


def _title(ticket: Ticket) -> str:
    subject = ticket.subject
    if len(subject) > _SUBJECT_LIMIT:
        subject = subject[: _SUBJECT_LIMIT - 1] + "…"
    number = (
        link(ticket.permalink, ticket.display_number) if ticket.permalink else ticket.display_number
    )
    return f"*{number}* · {escape(subject)}"


def _sla(ticket: Ticket) -> str:
    label = SLA_LABELS.get(ticket.sla_state, ticket.sla_state)
    running = [
        (due, target)
        for column, target in TARGET_LABELS.items()
        if (due := getattr(ticket, column)) is not None
    ]
    if not running:
        return label
    due, target = min(running)
    return f"{label} · {target} due {date(due, '{date_short_pretty} {time}')}"


def _week(week: WeekNumbers) -> list[dict[str, Any]]:
    attainment = week.sla_attainment
    decided = week.first_response_met + week.first_response_missed
    csat = week.csat
    if csat.score is not None:
        satisfaction = f"{csat.score:.0f}% satisfied · {csat.response_rate:.0f}% responded"
    elif csat.sent:
        satisfaction = f"no ratings yet ({csat.sent} asked)"
    else:
        satisfaction = "no surveys sent"
    return [
        {
            "type": "section",
            "fields": [
                field("Opened", str(week.opened)),
                field("Resolved", str(week.resolved)),
                field("First response (median)", _duration(week.first_response_median)),
                field(
                    "First-response SLA",
                    f"{attainment:.0f}% met ({week.first_response_met} of {decided})"
                    if attainment is not None
                    else "nothing decided yet",
                ),
                field("CSAT", satisfaction),
            ],
        },
        context(
            f"The last 7 days, {date(week.start, '{date_short}')} to "
            f"{date(week.end, '{date_short}')}. First response and SLA count the tickets "
            "opened in them."
        ),
    ]


def _duration(value: timedelta | None) -> str:
    return format_duration(value) if value is not None else "no first responses yet"


def _ticket_button(action_id: ActionId, ticket: Ticket) -> dict[str, Any]:
    value = json.dumps({"ticket_id": ticket.id}, separators=(",", ":"))
    labels = {ActionId.RESOLVE: "Resolve", ActionId.ASSIGN_TO_ME: "Assign to me"}
    style = "primary" if action_id is ActionId.RESOLVE else None
    return button(action_id, labels[action_id], value, style=style)
