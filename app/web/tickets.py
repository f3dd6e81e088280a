"""The queue (open tickets, filtered, with bulk actions) and a ticket's own page, through the
same flows as Slack and the REST API."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from sqlalchemy import select

from app.accounts.models import NpsSurvey
from app.csat.models import CsatSurvey
from app.errors import DomainError, InvalidInput
from app.flows.changes import update_ticket
from app.flows.notes import add_internal_note
from app.reports.exports import TICKET_CSV_NAME, ticket_csv
from app.sla.models import SlaLedgerEntry
from app.text_safety import escape
from app.tickets.changes import SETTABLE_STATUSES, TicketChanges
from app.tickets.enums import OPEN_STATUSES, Priority, SlaState, TicketStatus
from app.tickets.models import Ticket
from app.tickets.queries import (
    UNASSIGNED,
    TicketFilters,
    TicketSort,
    get_ticket_by_number,
    list_tickets,
    parse_ticket_number,
    ticket_events,
    ticket_messages,
)
from app.web.deps import Form, Page, WebContext
from app.web.templating import render

router = APIRouter(prefix="/web", include_in_schema=False)

_E = TypeVar("_E", Priority, TicketStatus)
_C = TypeVar("_C", TicketStatus, Priority, SlaState)

PAGE_SIZE = 50
NPS_SHOWN = 3
MAX_BULK = 200
OPEN_CHOICES = tuple(s.value for s in OPEN_STATUSES)


@dataclass(frozen=True)
class QueueQuery:
    """The queue's filters as the form sent them, checked; `problems` says what was ignored."""

    statuses: tuple[TicketStatus, ...]
    priorities: tuple[Priority, ...]
    channel: str | None
    account: str | None
    assignee: str | None
    sla_state: SlaState | None
    cursor: str | None
    problems: tuple[str, ...]

    @classmethod
    def parse(cls, request: Request, user_id: str) -> QueueQuery:
        params = request.query_params
        problems: list[str] = []
        statuses = _choices(params.getlist("status"), TicketStatus, "status", problems)
        priorities = _choices(params.getlist("priority"), Priority, "priority", problems)
        slas = _choices([params.get("sla") or ""], SlaState, "SLA state", problems)
        sla = slas[0] if slas else None
        assignee = (params.get("assignee") or "").strip() or None
        if assignee == "me":
            assignee = user_id
        return cls(
            statuses=tuple(statuses) or tuple(sorted(OPEN_STATUSES)),
            priorities=tuple(priorities),
            channel=_short(params.get("channel")),
            account=_short(params.get("account"), 255),
            assignee=_short(assignee),
            sla_state=sla,
            cursor=_short(params.get("cursor"), 512),
            problems=tuple(problems),
        )

    @property
    def filters(self) -> TicketFilters:
        return TicketFilters(
            statuses=self.statuses,
            priorities=self.priorities,
            channel=self.channel,
            account=self.account,
            assignee=self.assignee,
            sla_state=self.sla_state,
        )

    def query_string(self, *, cursor: str | None = None) -> str:
        pairs: list[tuple[str, str]] = [("status", s.value) for s in self.statuses]
        pairs += [("priority", p.value) for p in self.priorities]
        for name, value in (
            ("channel", self.channel),
            ("account", self.account),
            ("assignee", self.assignee),
            ("sla", self.sla_state.value if self.sla_state else None),
            ("cursor", cursor),
        ):
            if value:
                pairs.append((name, value))
        return urlencode(pairs)


@router.get("/queue")
async def queue(request: Request, page: Page) -> Response:
    query = QueueQuery.parse(request, page.user_id)
    async with page.db.begin():
        try:
            found = await list_tickets(
                session=page.db,
                workspace_id=page.workspace_id,
                filters=query.filters,
                sort=TicketSort.CREATED_DESC,
                limit=PAGE_SIZE,
                cursor=query.cursor,
            )
        except InvalidInput as exc:  # a cursor from another filter, say
            return render(
                request,
                "queue.html",
                page,
                400,
                query=query,
                tickets=[],
                next_page=None,
                error=exc.message,
                **_choices_context(),
            )
    next_page = (
        f"/web/queue?{query.query_string(cursor=found.next_cursor)}" if found.next_cursor else None
    )
    return render(
        request,
        "queue.html",
        page,
        query=query,
        tickets=found.tickets,
        next_page=next_page,
        csv_url=f"/web/queue.csv?{query.query_string()}",
        error=None,
        **_choices_context(),
    )


@router.get("/queue.csv")
async def queue_csv(request: Request, page: Page) -> Response:
    """The queue's tickets under the same filters, every page of them, streamed."""
    query = QueueQuery.parse(request, page.user_id)
    return StreamingResponse(
        await ticket_csv(
            session_factory=page.runtime.session_factory,
            workspace_id=page.workspace_id,
            filters=query.filters,
        ),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{TICKET_CSV_NAME}"'},
    )


@router.post("/queue")
async def bulk_change(request: Request, page: Page, form: Form) -> Response:
    """Assign, prioritise or resolve the ticked tickets, each in its own transaction, so one
    that cannot change (a closed ticket, an agent assigning someone else) leaves the rest."""
    back = _back(form.get("back"))
    numbers = [str(n) for n in form.getlist("ticket")][:MAX_BULK]
    if not numbers:
        return _redirect(back, problem="Tick at least one ticket.")
    try:
        changes = _bulk_changes(form, page.user_id)
    except InvalidInput as exc:
        return _redirect(back, problem=exc.message)
    done, refused = 0, []
    for number in numbers:
        try:
            await _change(page, number, changes)
            done += 1
        except DomainError as exc:
            refused.append(f"T-{number.removeprefix('T-')}: {exc.render(_person)}")
    notice = f"{done} ticket{'s' if done != 1 else ''} updated." if done else None
    return _redirect(back, notice=notice, problem=" ".join(refused) or None)


@router.get("/tickets/{number}")
async def ticket_page(
    request: Request, page: Page, number: Annotated[str, Path(max_length=20)]
) -> Response:
    async with page.db.begin():
        try:
            ticket = await get_ticket_by_number(
                session=page.db,
                workspace_id=page.workspace_id,
                number=parse_ticket_number(number),
            )
        except DomainError as exc:
            return render(request, "missing.html", page, 404, message=exc.render(_person))
        messages = await ticket_messages(session=page.db, ticket=ticket)
        events = await ticket_events(session=page.db, ticket=ticket)
        ledger = list(
            await page.db.scalars(
                select(SlaLedgerEntry)
                .where(SlaLedgerEntry.ticket_id == ticket.id)
                .order_by(SlaLedgerEntry.id)
            )
        )
        surveys = list(
            await page.db.scalars(
                select(CsatSurvey).where(CsatSurvey.ticket_id == ticket.id).order_by(CsatSurvey.id)
            )
        )
        # What the requester answered to NPS lately (NPS asks people, not tickets).
        nps_answers = (
            list(
                await page.db.scalars(
                    select(NpsSurvey)
                    .where(
                        NpsSurvey.workspace_id == page.workspace_id,
                        NpsSurvey.contact_user_id == ticket.requester_user_id,
                        NpsSurvey.score.is_not(None),
                    )
                    .order_by(NpsSurvey.sent_at.desc())
                    .limit(NPS_SHOWN)
                )
            )
            if ticket.requester_user_id
            else []
        )
    return render(
        request,
        "ticket.html",
        page,
        ticket=ticket,
        messages=messages,
        events=events,
        ledger=ledger,
        surveys=surveys,
        nps_answers=nps_answers,
        statuses=[s.value for s in SETTABLE_STATUSES],
        **_choices_context(),
    )


@router.post("/tickets/{number}")
async def change_ticket(
    page: Page, form: Form, number: Annotated[str, Path(max_length=20)]
) -> Response:
    back = f"/web/tickets/{_number(number)}"
    try:
        await _change(page, number, _ticket_changes(form, page.user_id))
    except DomainError as exc:
        return _redirect(back, problem=exc.render(_person))
    return _redirect(back, notice="Saved.")


@router.post("/tickets/{number}/notes")
async def add_ticket_note(
    page: Page, form: Form, number: Annotated[str, Path(max_length=20)]
) -> Response:
    back = f"/web/tickets/{_number(number)}"
    text = form.get("text")
    try:
        async with page.db.begin():
            ticket = await _locked(page, number)
            await add_internal_note(
                session=page.db,
                ticket=ticket,
                text=escape(text if isinstance(text, str) else ""),  # plain in, Slack text kept
                actor=page.actor,
                now=page.clock.now(),
            )
    except DomainError as exc:
        return _redirect(back, problem=exc.render(_person))
    return _redirect(back, notice="Note added; it is in the triage thread too.")


# -- helpers ------------------------------------------------------------------------------------


async def _change(page: WebContext, number: str, changes: TicketChanges) -> None:
    """One ticket's changes in a transaction of its own, through the flows Slack uses."""
    async with page.db.begin():
        ticket = await _locked(page, number)
        await update_ticket(
            session=page.db, ticket=ticket, changes=changes, actor=page.actor, now=page.clock.now()
        )


async def _locked(page: WebContext, number: str) -> Ticket:
    """The ticket a form names, locked for the change (as the API and Slack lock it)."""
    return await get_ticket_by_number(
        session=page.db,
        workspace_id=page.workspace_id,
        number=parse_ticket_number(number),
        for_update=True,
    )


def _choices_context() -> dict[str, Any]:
    return {
        "all_statuses": [s.value for s in TicketStatus],
        "all_priorities": [p.value for p in Priority],
        "all_sla_states": [s.value for s in SlaState],
        "unassigned": UNASSIGNED,
    }


def _bulk_changes(form: object, user_id: str) -> TicketChanges:
    get = form.get  # type: ignore[attr-defined]
    action = get("action")
    if action == "assign_me":
        return TicketChanges(assign=True, assignee=user_id)
    if action == "assign":
        assignee = str(get("assignee") or "").strip()
        if not assignee:
            raise InvalidInput("Say whom to assign them to (a Slack user id such as U0123ABCD).")
        return TicketChanges(assign=True, assignee=assignee)
    if action == "priority":
        return TicketChanges(priority=_enum(Priority, get("priority"), "priority"))
    if action == "resolve":
        return TicketChanges(status=TicketStatus.RESOLVED)
    raise InvalidInput("Choose what to do with the ticked tickets.")


def _ticket_changes(form: object, user_id: str) -> TicketChanges:
    get = form.get  # type: ignore[attr-defined]
    assignee = str(get("assignee") or "").strip()
    status = get("status")
    priority = get("priority")
    assign = assignee != ""
    if assignee == "me":
        assignee = user_id
    return TicketChanges(
        assign=assign,
        assignee=None if assignee == UNASSIGNED else assignee or None,
        priority=_enum(Priority, priority, "priority") if priority else None,
        status=_enum(TicketStatus, status, "status") if status else None,
    )


def _enum(kind: type[_E], value: object, name: str) -> _E:
    try:
        return kind(str(value))
    except ValueError:
        raise InvalidInput(f"{value!s} is not a {name}.") from None


def _choices(values: Sequence[str], kind: type[_C], name: str, problems: list[str]) -> list[_C]:
    chosen: list[_C] = []
    for value in values:
        if not value:
            continue
        try:
            chosen.append(kind(value))
        except ValueError:
            problems.append(f"Unknown {name} {value[:40]!r} ignored.")
    return chosen


def _short(value: str | None, limit: int = 64) -> str | None:
    value = (value or "").strip()
    return value[:limit] or None


def _number(number: str) -> str:
    try:
        return f"T-{parse_ticket_number(number)}"
    except DomainError:
        return "T-0"


def _back(value: object) -> str:
    text = str(value or "")
    return text if text.startswith("/web/queue") and "//" not in text else "/web/queue"


def _redirect(path: str, *, notice: str | None = None, problem: str | None = None) -> Response:
    pairs = [(k, v) for k, v in (("notice", notice), ("problem", problem)) if v]
    base = path.split("#", 1)[0]
    for name in ("notice", "problem"):  # the previous action's messages go
        base = _without(base, name)
    joiner = "&" if "?" in base else "?"
    return RedirectResponse(base + (joiner + urlencode(pairs) if pairs else ""), status_code=303)


def _without(path: str, name: str) -> str:
    if "?" not in path:
        return path
    head, _, query = path.partition("?")
    kept = [part for part in query.split("&") if not part.startswith(f"{name}=")]
    return head + ("?" + "&".join(kept) if kept else "")


def _person(user_id: str) -> str:
    return user_id
