"""`/api/tickets`: list, read, triage and annotate tickets, through the same services as Slack."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from app.api.deps import ApiContext, require_scope, runtime_of
from app.api.errors import error_responses
from app.apikeys.scopes import Scope
from app.flows.changes import update_ticket
from app.flows.manual import TicketForm, open_ticket_by_hand
from app.flows.notes import add_internal_note
from app.reports.exports import TICKET_CSV_NAME, ticket_csv
from app.text_safety import escape
from app.tickets.enums import Priority, TicketStatus
from app.tickets.queries import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    UNASSIGNED,
    SlaState,
    TicketFilters,
    TicketSort,
    get_ticket_by_number,
    list_tickets,
    parse_ticket_number,
    ticket_events,
    ticket_messages,
)
from app.tickets.schemas import (
    MessageRead,
    NoteCreate,
    TicketCreate,
    TicketDetail,
    TicketPage,
    TicketRead,
    TicketUpdate,
)

API_SOURCE = "api:tickets"  # a colon: no inbound source can be named so
"""`external_source` of tickets an API client opened with an `external_id`."""

router = APIRouter(
    prefix="/api/tickets",
    tags=["tickets"],
    responses=error_responses(401, 403, 413, 422, 503),
)

Reader = Annotated[ApiContext, Depends(require_scope(Scope.TICKETS_READ))]
Writer = Annotated[ApiContext, Depends(require_scope(Scope.TICKETS_WRITE))]
TicketNumber = Annotated[
    str, Path(description="The ticket's number: `12` or `T-12`.", examples=["T-12"])
]


def ticket_filters(
    status_: Annotated[
        list[TicketStatus] | None,
        Query(
            alias="status",
            description="Repeat for several. Discarded tickets are listed only when asked for.",
        ),
    ] = None,
    priority: Annotated[list[Priority] | None, Query(description="Repeat for several.")] = None,
    assignee: Annotated[
        str | None,
        Query(description=f"Slack user id of the assignee, or `{UNASSIGNED}` for unassigned."),
    ] = None,
    channel: Annotated[str | None, Query(description="Customer channel id.")] = None,
    requester: Annotated[str | None, Query(description="Slack user id of the requester.")] = None,
    account: Annotated[str | None, Query(description="Account name (any case).")] = None,
    created_from: Annotated[
        datetime | None, Query(description="Created at or after (ISO 8601; UTC if no zone).")
    ] = None,
    created_to: Annotated[datetime | None, Query(description="Created before.")] = None,
    sla_state: Annotated[SlaState | None, Query()] = None,
) -> TicketFilters:
    """The list's filters, shared by the JSON list and the CSV export."""
    return TicketFilters(
        statuses=status_ or (),
        priorities=priority or (),
        assignee=assignee,
        channel=channel,
        requester=requester,
        account=account,
        created_from=created_from,
        created_to=created_to,
        sla_state=sla_state,
    )


Filters = Annotated[TicketFilters, Depends(ticket_filters)]


@router.get(
    "",
    summary="List tickets, newest first",
    response_model=TicketPage,
    operation_id="listTickets",
)
async def list_tickets_page(
    api: Reader,
    filters: Filters,
    sort: Annotated[TicketSort, Query()] = TicketSort.CREATED_DESC,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[
        str | None, Query(description="`next_cursor` of the previous page.", max_length=512)
    ] = None,
) -> TicketPage:
    async with api.session.begin():
        page = await list_tickets(
            session=api.session,
            workspace_id=api.workspace_id,
            filters=filters,
            sort=sort,
            limit=limit,
            cursor=cursor,
        )
    return TicketPage(items=[TicketRead.of(t) for t in page.tickets], next_cursor=page.next_cursor)


@router.get(
    ".csv",
    summary="Every ticket the filters select, as a CSV file (streamed, newest first)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "One ticket a row."}},
    operation_id="exportTickets",
)
async def export_tickets(api: Reader, filters: Filters, request: Request) -> StreamingResponse:
    return StreamingResponse(
        await ticket_csv(
            session_factory=runtime_of(request).session_factory,
            workspace_id=api.workspace_id,
            filters=filters,
        ),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{TICKET_CSV_NAME}"'},
    )


@router.get(
    "/{number}",
    summary="One ticket with its conversation and audit trail",
    response_model=TicketDetail,
    responses=error_responses(404),
    operation_id="getTicket",
)
async def read_ticket(number: TicketNumber, api: Reader) -> TicketDetail:
    async with api.session.begin():
        ticket = await get_ticket_by_number(
            session=api.session, workspace_id=api.workspace_id, number=parse_ticket_number(number)
        )
        messages = await ticket_messages(session=api.session, ticket=ticket)
        events = await ticket_events(session=api.session, ticket=ticket)
    return TicketDetail.with_history(ticket, messages, events)


@router.post(
    "",
    summary="Open a ticket, as the new-ticket form does in Slack",
    response_model=TicketRead,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": TicketRead, "description": "Its `external_id` already opened this one."},
        **error_responses(409),
    },
    operation_id="createTicket",
)
async def create_ticket(body: TicketCreate, api: Writer, response: Response) -> TicketRead:
    async with api.session.begin():
        ticket, created = await open_ticket_by_hand(
            session=api.session,
            workspace_id=api.workspace_id,
            form=TicketForm(
                subject=body.subject,
                description=body.description,
                priority=body.priority.value,
                requester_user_id=body.requester,
                channel_id=body.channel,
                form_id=body.external_id,
                form_source=API_SOURCE,
            ),
            actor=api.actor,
            default_triage_channel_id=api.default_triage_channel_id,
            now=api.clock.now(),
        )
    if not created:
        response.status_code = status.HTTP_200_OK
    return TicketRead.of(ticket)


@router.patch(
    "/{number}",
    summary="Assign, prioritise or move a ticket along; the triage card updates as from Slack",
    response_model=TicketRead,
    responses=error_responses(404, 409),
    operation_id="updateTicket",
)
async def update_ticket_fields(
    number: TicketNumber, change: TicketUpdate, api: Writer
) -> TicketRead:
    async with api.session.begin():
        ticket = await get_ticket_by_number(
            session=api.session,
            workspace_id=api.workspace_id,
            number=parse_ticket_number(number),
            for_update=True,
        )
        await update_ticket(
            session=api.session,
            ticket=ticket,
            changes=change.changes(),
            actor=api.actor,
            now=api.clock.now(),
        )
    return TicketRead.of(ticket)


@router.post(
    "/{number}/notes",
    summary="Add an internal note, posted in the triage thread (never to the customer)",
    response_model=MessageRead,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(404),
    operation_id="addTicketNote",
)
async def add_ticket_note(number: TicketNumber, body: NoteCreate, api: Writer) -> MessageRead:
    async with api.session.begin():
        ticket = await get_ticket_by_number(
            session=api.session,
            workspace_id=api.workspace_id,
            number=parse_ticket_number(number),
            for_update=True,
        )
        message = await add_internal_note(
            session=api.session,
            ticket=ticket,
            text=escape(body.text),  # plain text in, Slack text stored
            actor=api.actor,
            now=api.clock.now(),
        )
    return MessageRead.of(message)
