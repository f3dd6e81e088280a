"""Who is acting on a ticket, and what their role lets them do."""

from __future__ import annotations

from dataclasses import dataclass

from app.team.enums import Role
from app.tickets.enums import ActorKind


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    id: str | None = None
    role: Role | None = None

    @classmethod
    def user(cls, user_id: str, role: Role | None) -> Actor:
        return cls(ActorKind.USER, user_id, role)

    @classmethod
    def system(cls) -> Actor:
        return cls(ActorKind.SYSTEM, None, None)

    @property
    def is_team_member(self) -> bool:
        return self.role is not None

    @property
    def is_lead(self) -> bool:
        """Leads may do everything; so may ticketbot itself and API keys (scoped elsewhere)."""
        return self.kind is not ActorKind.USER or self.role is Role.LEAD

    @property
    def may_triage(self) -> bool:
        """Leads and agents triage; ticketbot itself (and, later, API keys) act by their rules."""
        return self.kind is not ActorKind.USER or self.role is not None
