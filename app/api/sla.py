"""SLA over REST: a ticket's clocks, the tickets at risk, the targets and the business hours.

Reading needs `tickets:read`; changing targets or business hours needs `admin` (what leads do
with `/ticket sla set` and `/ticket hours set` in Slack, through the same services).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from app.api.deps import ApiContext, require_scope
from app.api.errors import error_responses
from app.apikeys.scopes import Scope
from app.sla.policies import all_targets, set_business_hours, set_targets
from app.sla.queries import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    RiskState,
    ticket_sla,
    tickets_at_risk,
    working_week,
)
from app.sla.schemas import (
    AtRiskPageRead,
    BusinessHoursRead,
    BusinessHoursUpdate,
    SlaPoliciesRead,
    SlaPoliciesUpdate,
    SlaPolicyRead,
    TicketSlaRead,
)
from app.tickets.queries import get_ticket_by_number, parse_ticket_number

router = APIRouter(tags=["sla"], responses=error_responses(401, 403, 422, 503))

Reader = Annotated[ApiContext, Depends(require_scope(Scope.TICKETS_READ))]
Admin = Annotated[ApiContext, Depends(require_scope(Scope.ADMIN))]
TicketNumber = Annotated[
    str, Path(description="The ticket's number: `12` or `T-12`.", examples=["T-12"])
]
Channel = Annotated[
    str | None,
    Query(
        description="A channel id: the targets that apply in that channel (its overrides, else"
        " the workspace's).",
        max_length=32,
        pattern=r"^[A-Z0-9]+$",
    ),
]


@router.get(
    "/api/tickets/{number}/sla",
    summary="A ticket's SLA clocks (time left, paused, met, breached) and its SLA ledger",
    response_model=TicketSlaRead,
    responses=error_responses(404),
    operation_id="getTicketSla",
)
async def read_ticket_sla(number: TicketNumber, api: Reader) -> TicketSlaRead:
    async with api.session.begin():
        ticket = await get_ticket_by_number(
            session=api.session, workspace_id=api.workspace_id, number=parse_ticket_number(number)
        )
        sla = await ticket_sla(session=api.session, ticket=ticket, now=api.clock.now())
    return TicketSlaRead.of(sla)


@router.get(
    "/api/sla/at-risk",
    summary="Active tickets at risk or breached, the one falling due first first",
    response_model=AtRiskPageRead,
    operation_id="listTicketsAtRisk",
)
async def list_tickets_at_risk(
    api: Reader,
    sla_state: Annotated[
        RiskState | None,
        Query(description="Only `at_risk` or only `breached` tickets (default: both)."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[
        str | None, Query(description="`next_cursor` of the previous page.", max_length=512)
    ] = None,
) -> AtRiskPageRead:
    states = [sla_state] if sla_state else list(RiskState)
    async with api.session.begin():
        page = await tickets_at_risk(
            session=api.session,
            workspace_id=api.workspace_id,
            now=api.clock.now(),
            states=states,
            limit=limit,
            cursor=cursor,
        )
    return AtRiskPageRead.of(page)


@router.get(
    "/api/sla-policies",
    summary="The SLA targets of every priority",
    response_model=SlaPoliciesRead,
    operation_id="getSlaPolicies",
)
async def read_sla_policies(api: Reader, channel: Channel = None) -> SlaPoliciesRead:
    async with api.session.begin():
        targets = await all_targets(
            session=api.session, workspace_id=api.workspace_id, channel_id=channel
        )
    return SlaPoliciesRead(channel=channel, policies=[SlaPolicyRead.of(t) for t in targets])


@router.put(
    "/api/sla-policies",
    summary="Change SLA targets (they apply to clocks started from now on)",
    response_model=SlaPoliciesRead,
    operation_id="updateSlaPolicies",
)
async def update_sla_policies(body: SlaPoliciesUpdate, api: Admin) -> SlaPoliciesRead:
    now = api.clock.now()
    async with api.session.begin():
        for change in body.policies:
            await set_targets(
                session=api.session,
                workspace_id=api.workspace_id,
                priority=change.priority,
                actor_id=api.actor.id,
                now=now,
                channel_id=body.channel,
                first_response=change.first_response,
                next_response=change.next_response,
                resolution=change.resolution,
                business_hours=change.business_hours,
                warn_fraction=change.warn_fraction,
            )
        targets = await all_targets(
            session=api.session, workspace_id=api.workspace_id, channel_id=body.channel
        )
    return SlaPoliciesRead(channel=body.channel, policies=[SlaPolicyRead.of(t) for t in targets])


@router.get(
    "/api/business-hours",
    summary="The working week SLA clocks count",
    response_model=BusinessHoursRead,
    operation_id="getBusinessHours",
)
async def read_business_hours(api: Reader) -> BusinessHoursRead:
    async with api.session.begin():
        week = await working_week(session=api.session, workspace_id=api.workspace_id)
    return BusinessHoursRead.of(week)


@router.put(
    "/api/business-hours",
    summary="Replace the working week (it applies to clocks started from now on)",
    response_model=BusinessHoursRead,
    operation_id="updateBusinessHours",
)
async def update_business_hours(body: BusinessHoursUpdate, api: Admin) -> BusinessHoursRead:
    async with api.session.begin():
        await set_business_hours(
            session=api.session,
            workspace_id=api.workspace_id,
            time_zone=body.time_zone,
            weekly_hours=body.weekly_hours,
            holiday_country=body.holiday_country,
            holiday_subdivision=body.holiday_subdivision,
            closed_dates=body.closed_dates,
            actor_id=api.actor.id,
            now=api.clock.now(),
        )
        week = await working_week(session=api.session, workspace_id=api.workspace_id)
    return BusinessHoursRead.of(week)
