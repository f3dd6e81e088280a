"""Who may change a ticket, and when: checks every triage flow makes first."""

from __future__ import annotations

from app.errors import InvalidTransition, NotAllowed
from app.tickets.actors import Actor
from app.tickets.enums import OPEN_STATUSES
from app.tickets.models import Ticket


def require_triage(actor: Actor) -> None:
    if not actor.may_triage:
        raise NotAllowed("Sorry, only support agents and leads can triage tickets.")


def require_active(ticket: Ticket, verb: str) -> None:
    if ticket.status not in OPEN_STATUSES:
        raise InvalidTransition(
            f"{ticket.display_number} is {ticket.status.value.replace('_', ' ')}; cannot {verb} it."
        )
