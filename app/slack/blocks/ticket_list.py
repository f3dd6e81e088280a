"""`/ticket list` as Block Kit: one section per ticket, and Previous/Next buttons.

A slash command's reply holds at most 50 blocks; a page of 20 tickets uses 23.
"""

from __future__ import annotations

import json
from typing import Any

from app.slack.blocks.parts import button, section
from app.slack.blocks.ticket_card import PRIORITY_LABELS, SLA_LABELS, STATUS_LABELS
from app.slack.ids import ActionId
from app.text_safety import date, escape, link
from app.tickets.enums import ListFilter
from app.tickets.models import Ticket
from app.tickets.triage_list import TicketPage, TriageQuery

MAX_BLOCKS = 50
_SUBJECT_LIMIT = 80
_DESCRIPTIONS = {
    ListFilter.OPEN: "Open tickets",
    ListFilter.MINE: "Your open tickets",
    ListFilter.UNASSIGNED: "Unassigned tickets",
    ListFilter.BREACHING: "Tickets at risk or breached",
    ListFilter.WAITING: "Tickets waiting on the customer",
}


def ticket_list(page: TicketPage) -> dict[str, Any]:
    """`text` and `blocks` of one page."""
    title = describe_query(page.query)
    if not page.total:
        text = f"{title}: none. :tada:"
        return {"text": text, "blocks": [section(text)]}
    first = (page.query.page - 1) * page.page_size + 1
    last = first + len(page.tickets) - 1
    header = f"*{title}* · {first} to {last} of {page.total}" if page.tickets else f"*{title}*"
    blocks: list[dict[str, Any]] = [section(header), {"type": "divider"}]
    blocks += [_row(ticket) for ticket in page.tickets]
    if not page.tickets:
        blocks.append(section(f"Page {page.query.page} is past the end ({page.pages} pages)."))
    buttons = []
    if page.query.page > 1:
        buttons.append(_page_button("Previous", page.query, page.query.page - 1))
    if page.has_next:
        buttons.append(_page_button("Next", page.query, page.query.page + 1))
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    return {"text": f"{title}: {page.total}", "blocks": blocks[:MAX_BLOCKS]}


def describe_query(query: TriageQuery) -> str:
    title = _DESCRIPTIONS[query.filter]
    if query.channel_id:
        title += f" in <#{query.channel_id}>"
    if query.user_id:
        title += f" for <@{query.user_id}>"
    return title


def query_to_value(query: TriageQuery, page: int) -> str:
    return json.dumps(
        {"f": query.filter.value, "c": query.channel_id, "u": query.user_id, "p": page},
        separators=(",", ":"),
    )


def query_from_value(value: object) -> TriageQuery | None:
    try:
        data = json.loads(value) if isinstance(value, str) else None
        if not isinstance(data, dict):
            return None
        page = int(data.get("p", 1))
        return TriageQuery(
            filter=ListFilter(data.get("f", "open")),
            channel_id=_str_or_none(data.get("c")),
            user_id=_str_or_none(data.get("u")),
            page=max(page, 1),
        )
    except (ValueError, TypeError):
        return None


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _row(ticket: Ticket) -> dict[str, Any]:
    subject = ticket.subject
    if len(subject) > _SUBJECT_LIMIT:
        subject = subject[: _SUBJECT_LIMIT - 1] + "…"
    number = (
        link(ticket.permalink, ticket.display_number) if ticket.permalink else ticket.display_number
    )
    parts = [
        STATUS_LABELS[ticket.status],
        PRIORITY_LABELS[ticket.priority],
        SLA_LABELS.get(ticket.sla_state, ticket.sla_state),
        f"<@{ticket.assignee_user_id}>" if ticket.assignee_user_id else "_unassigned_",
    ]
    if ticket.channel_id:
        parts.append(f"<#{ticket.channel_id}>")
    parts.append(f"opened {date(ticket.created_at, '{ago}')}")
    return section(f"*{number}* · {escape(subject)}\n" + " · ".join(parts))


def _page_button(label: str, query: TriageQuery, page: int) -> dict[str, Any]:
    action_id = f"{ActionId.TICKET_LIST_PAGE}_{label.lower()}"
    return button(action_id, label, query_to_value(query, page))
