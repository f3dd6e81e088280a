"""What an API key may do. `admin` implies every other scope."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from app.errors import InvalidInput


class Scope(StrEnum):
    TICKETS_READ = "tickets:read"
    TICKETS_WRITE = "tickets:write"
    WEBHOOKS_MANAGE = "webhooks:manage"
    METRICS_READ = "metrics:read"
    ACCOUNTS_READ = "accounts:read"
    ACCOUNTS_WRITE = "accounts:write"
    CONNECTORS_MANAGE = "connectors:manage"
    ADMIN = "admin"


def grants(scopes: Iterable[str], needed: Scope) -> bool:
    """True if a key holding `scopes` may do what `needed` guards."""
    held = set(scopes)
    return Scope.ADMIN.value in held or needed.value in held


def parse_scopes(values: Iterable[str]) -> list[Scope]:
    """Scopes from user input (`tickets:read`, or several separated by commas), in enum order."""
    wanted: set[Scope] = set()
    for value in values:
        for part in value.split(","):
            name = part.strip().lower()
            if not name:
                continue
            try:
                wanted.add(Scope(name))
            except ValueError:
                choices = ", ".join(scope.value for scope in Scope)
                raise InvalidInput(f"unknown scope {name!r}; choose from {choices}") from None
    return [scope for scope in Scope if scope in wanted]
