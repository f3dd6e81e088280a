"""The triage card: one message per ticket in its triage channel, edited on every change."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.connectors.service import IssueShown
from app.slack.blocks.parts import button, field, plain, section
from app.slack.ids import ActionId, BlockId
from app.text_safety import date, escape, link
from app.tickets.enums import OPEN_STATUSES, Priority, TicketStatus
from app.tickets.models import Ticket

STATUS_LABELS = {
    TicketStatus.NEW: ":new: New",
    TicketStatus.OPEN: ":large_blue_circle: Open",
    TicketStatus.WAITING_ON_CUSTOMER: ":hourglass_flowing_sand: Waiting on customer",
    TicketStatus.WAITING_ON_ENGINEERING: ":hammer_and_wrench: Waiting on engineering",
    TicketStatus.RESOLVED: ":white_check_mark: Resolved",
    TicketStatus.CLOSED: ":lock: Closed",
    TicketStatus.DISCARDED: ":wastebasket: Not a request",
}
PRIORITY_LABELS = {
    Priority.LOW: "Low",
    Priority.NORMAL: "Normal",
    Priority.HIGH: ":large_orange_circle: High",
    Priority.URGENT: ":red_circle: Urgent",
}


@dataclass(frozen=True)
class TicketCard:
    ticket_id: int
    number: str
    subject: str
    status: TicketStatus
    priority: Priority
    requester_user_id: str | None
    is_external: bool
    account_name: str | None
    channel_id: str | None
    permalink: str | None
    assignee_user_id: str | None
    created_at: datetime
    sla_state: str = "on_track"
    next_due: tuple[str, datetime] | None = None  # (target, due time) of the nearest clock
    issues: tuple[IssueShown, ...] = ()  # engineering issues made for it (Jira, Linear)
    can_escalate: bool = False  # an issue tracker is connected

    @classmethod
    def of(
        cls, ticket: Ticket, issues: Sequence[IssueShown] = (), can_escalate: bool = False
    ) -> TicketCard:
        return cls(
            ticket_id=ticket.id,
            number=ticket.display_number,
            subject=ticket.subject,
            status=ticket.status,
            priority=ticket.priority,
            requester_user_id=ticket.requester_user_id,
            is_external=ticket.is_external,
            account_name=ticket.account_name,
            channel_id=ticket.channel_id,
            permalink=ticket.permalink,
            assignee_user_id=ticket.assignee_user_id,
            created_at=ticket.created_at,
            sla_state=ticket.sla_state,
            next_due=_nearest_due(ticket),
            issues=tuple(issues),
            can_escalate=can_escalate,
        )


def ticket_card(card: TicketCard) -> dict[str, Any]:
    """`text` (notifications, screen readers) and `blocks` for chat.postMessage / chat.update."""
    requester = f"<@{card.requester_user_id}>" if card.requester_user_id else "unknown"
    if card.is_external:
        requester += f" · {escape(card.account_name)}" if card.account_name else " · external"
    where = f"<#{card.channel_id}>" if card.channel_id else "—"
    if card.permalink:
        where += f" · {link(card.permalink, 'view message')}"
    assignee = f"<@{card.assignee_user_id}>" if card.assignee_user_id else "_Unassigned_"
    blocks: list[dict[str, Any]] = [
        section(f"*{card.number}* · {escape(card.subject)}"),
        {
            "type": "section",
            "fields": [
                field("Requester", requester),
                field("Channel", where),
                field("Status", STATUS_LABELS[card.status]),
                field("Priority", PRIORITY_LABELS[card.priority]),
                field("Assignee", assignee),
                field("Opened", date(card.created_at, "{ago}")),
                field("SLA", _sla(card)),
                *([field("Engineering", _issues(card.issues))] if card.issues else []),
            ],
        },
    ]
    if card.status in OPEN_STATUSES:
        blocks.append(_actions(card))
    status = card.status.value.replace("_", " ")
    return {"text": f"{card.number}: {escape(card.subject)} ({status})", "blocks": blocks}


def _actions(card: TicketCard) -> dict[str, Any]:
    value = json.dumps({"ticket_id": card.ticket_id}, separators=(",", ":"))
    options = [
        {"text": plain(priority.value.title()), "value": priority.value} for priority in Priority
    ]
    current = next(option for option in options if option["value"] == card.priority.value)
    return {
        "type": "actions",
        "block_id": BlockId.TRIAGE_ACTIONS,
        "elements": [
            button(ActionId.ASSIGN_TO_ME, "Assign to me", value),
            {
                "type": "static_select",
                "action_id": ActionId.SET_PRIORITY,
                "placeholder": plain("Priority"),
                "options": [
                    {**option, "value": f"{card.ticket_id}:{option['value']}"} for option in options
                ],
                "initial_option": {**current, "value": f"{card.ticket_id}:{current['value']}"},
            },
            *(
                []
                if card.status is TicketStatus.WAITING_ON_CUSTOMER
                else [button(ActionId.WAIT_ON_CUSTOMER, "Waiting on customer", value)]
            ),
            *(
                [button(ActionId.ESCALATE, "Escalate", value)]
                if card.can_escalate
                and not card.issues
                and card.status is not TicketStatus.WAITING_ON_ENGINEERING
                else []
            ),
            button(ActionId.RESOLVE, "Resolve", value, style="primary"),
            {
                **button(ActionId.DISCARD, "Not a request", value, style="danger"),
                "confirm": {
                    "title": plain("Not a request?"),
                    "text": {
                        "type": "mrkdwn",
                        "text": f"{card.number} will be closed and left out of every report. "
                        "It stays in the audit trail.",
                    },
                    "confirm": plain("Discard"),
                    "deny": plain("Keep it"),
                },
            },
        ],
    }


def _issues(issues: Sequence[IssueShown]) -> str:
    shown = []
    for issue in issues:
        key = link(issue.url, issue.key) if issue.url else escape(issue.key)
        state = ":white_check_mark: done" if issue.done else escape(issue.status or "open")
        shown.append(f"{key} · {state}")
    return "\n".join(shown)


SLA_LABELS = {
    "on_track": ":large_green_circle: On track",
    "at_risk": ":large_yellow_circle: At risk",
    "breached": ":red_circle: Breached",
}
TARGET_LABELS = {
    "first_response_due_at": "first response",
    "next_response_due_at": "next response",
    "resolution_due_at": "resolution",
}


def _nearest_due(ticket: Ticket) -> tuple[str, datetime] | None:
    running = [
        (getattr(ticket, column), label)
        for column, label in TARGET_LABELS.items()
        if getattr(ticket, column) is not None
    ]
    if not running:
        return None
    due, label = min(running)
    return label, due


def _sla(card: TicketCard) -> str:
    label = SLA_LABELS.get(card.sla_state, card.sla_state)
    if card.next_due is None or card.status not in OPEN_STATUSES:
        return label
    target, due = card.next_due
    return f"{label} · {target} due {date(due, '{date_short_pretty} {time}')}"
