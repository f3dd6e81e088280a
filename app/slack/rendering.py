"""Renders outbox render specs (`{"$render": {...}}`) from the database at send time."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accounts.models import NpsSurvey, Testimonial
from app.accounts.nps import PROMPT_VIEW as NPS_PROMPT_VIEW
from app.accounts.testimonials import PROMPT_VIEW as TESTIMONIAL_VIEW
from app.clock import Clock, SystemClock
from app.connectors.service import IssueShown, escalations_for_cards
from app.csat.models import CsatSurvey
from app.csat.notifications import PROMPT_VIEW
from app.home.notifications import HOME_VIEW
from app.home.queries import load_home
from app.slack.blocks.csat_prompt import CsatPrompt, csat_prompt
from app.slack.blocks.home import home_view
from app.slack.blocks.nps_prompt import NpsPrompt, nps_prompt
from app.slack.blocks.testimonial_prompt import testimonial_prompt
from app.slack.blocks.ticket_card import TicketCard, ticket_card
from app.tickets.models import Ticket
from app.tickets.notifications import TRIAGE_CARD_VIEW
from app.workspaces.models import Workspace

RENDER_KEY = "$render"


class Renderer:
    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], clock: Clock | None = None
    ) -> None:
        self._session_factory = session_factory
        self._clock = clock or SystemClock()

    async def render(self, spec: dict[str, Any]) -> dict[str, Any] | None:
        """The message fields for a spec, or None if what it shows no longer exists."""
        [rendered] = await self.render_all([spec])
        return rendered

    async def render_all(self, specs: list[dict[str, Any]]) -> list[dict[str, Any] | None]:
        """`render` of each spec, in order, from one session: the tickets and surveys of the
        lot are loaded with one query each (an outbox claim renders its cards together)."""
        async with self._session_factory() as session:
            cards = {int(spec["ticket_id"]) for spec in specs if _view(spec) == TRIAGE_CARD_VIEW}
            prompts = {int(spec["survey_id"]) for spec in specs if _view(spec) == PROMPT_VIEW}
            surveys: dict[int, CsatSurvey] = {}
            if prompts:
                found = await session.scalars(_SURVEYS, {"ids": sorted(prompts)})
                surveys = {survey.id: survey for survey in found}
            wanted = cards | {survey.ticket_id for survey in surveys.values()}
            tickets: dict[int, Ticket] = {}
            if wanted:
                loaded = await session.scalars(_TICKETS, {"ids": sorted(wanted)})
                tickets = {ticket.id: ticket for ticket in loaded}
            escalations: Escalations = ({}, set())
            if cards:
                escalations = await escalations_for_cards(
                    session=session,
                    ticket_ids=sorted(cards),
                    workspace_ids=sorted({t.workspace_id for t in tickets.values()}),
                )
            return [
                await self._render_one(session, spec, tickets, surveys, escalations)
                for spec in specs
            ]

    async def _render_one(
        self,
        session: AsyncSession,
        spec: dict[str, Any],
        tickets: dict[int, Ticket],
        surveys: dict[int, CsatSurvey],
        escalations: Escalations,
    ) -> dict[str, Any] | None:
        view = _view(spec)
        if view == TRIAGE_CARD_VIEW:
            ticket = tickets.get(int(spec["ticket_id"]))
            if ticket is None:
                return None
            issues, trackers = escalations
            card = TicketCard.of(
                ticket,
                issues=issues.get(ticket.id, ()),
                can_escalate=ticket.workspace_id in trackers,
            )
            return ticket_card(card)
        if view == PROMPT_VIEW:
            survey = surveys.get(int(spec["survey_id"]))
            ticket = tickets.get(survey.ticket_id) if survey is not None else None
            if survey is None or ticket is None:
                return None
            prompt = CsatPrompt.of(
                survey, ticket_number=ticket.display_number, subject=ticket.subject
            )
            return csat_prompt(prompt)
        if view == NPS_PROMPT_VIEW:
            nps = await session.get(NpsSurvey, int(spec["survey_id"]))
            if nps is None:
                return None
            workspace = await session.get(Workspace, nps.workspace_id)
            return nps_prompt(NpsPrompt.of(nps, vendor=workspace.name if workspace else ""))
        if view == TESTIMONIAL_VIEW:
            testimonial = await session.get(Testimonial, int(spec["testimonial_id"]))
            return testimonial_prompt(testimonial) if testimonial is not None else None
        if view == HOME_VIEW:
            home = await load_home(
                session=session,
                workspace_id=spec["workspace_id"],
                user_id=spec["user_id"],
                now=self._clock.now(),
            )
            return {"view": home_view(home)}
        return None


def _view(spec: dict[str, Any]) -> object:
    return spec.get("view")


# Built once, run with parameters (building a statement costs more than running it).
Escalations = tuple[dict[int, list[IssueShown]], set[int]]
_TICKETS = select(Ticket).where(Ticket.id.in_(bindparam("ids", expanding=True)))
_SURVEYS = select(CsatSurvey).where(CsatSurvey.id.in_(bindparam("ids", expanding=True)))
