"""Renders outbox render specs (`{"$render": {...}}`) from the database at send time."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.clock import Clock, SystemClock
from app.csat.models import CsatSurvey
from app.csat.notifications import PROMPT_VIEW
from app.home.notifications import HOME_VIEW
from app.home.queries import load_home
from app.slack.blocks.csat_prompt import CsatPrompt, csat_prompt
from app.slack.blocks.home import home_view
from app.slack.blocks.ticket_card import TicketCard, ticket_card
from app.tickets.models import Ticket
from app.tickets.notifications import TRIAGE_CARD_VIEW

RENDER_KEY = "$render"


class Renderer:
    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], clock: Clock | None = None
    ) -> None:
        self._session_factory = session_factory
        self._clock = clock or SystemClock()

    async def render(self, spec: dict[str, Any]) -> dict[str, Any] | None:
        """The message fields for a spec, or None if what it shows no longer exists."""
        if spec.get("view") == TRIAGE_CARD_VIEW:
            async with self._session_factory() as session:
                ticket = await session.get(Ticket, spec["ticket_id"])
                return ticket_card(TicketCard.of(ticket)) if ticket is not None else None
        if spec.get("view") == PROMPT_VIEW:
            async with self._session_factory() as session:
                survey = await session.get(CsatSurvey, spec["survey_id"])
                ticket = await session.get(Ticket, survey.ticket_id) if survey else None
                if survey is None or ticket is None:
                    return None
                prompt = CsatPrompt.of(
                    survey, ticket_number=ticket.display_number, subject=ticket.subject
                )
                return csat_prompt(prompt)
        if spec.get("view") == HOME_VIEW:
            async with self._session_factory() as session:
                home = await load_home(
                    session=session,
                    workspace_id=spec["workspace_id"],
                    user_id=spec["user_id"],
                    now=self._clock.now(),
                )
                return {"view": home_view(home)}
        return None
