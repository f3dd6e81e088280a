"""Domain errors. Services raise these; each adapter (Slack, HTTP API) translates them once."""

from __future__ import annotations


class DomainError(Exception):
    """Something the user asked for cannot be done; the message says why, for that user."""


class NotAuthenticated(DomainError):
    """The caller did not say who they are, or the credential is unknown or revoked."""


class NotAllowed(DomainError):
    """The actor's role does not permit this (e.g. only leads triage)."""


class NotFound(DomainError):
    """The ticket, channel or member named does not exist."""


class InvalidTransition(DomainError):
    """The ticket's status does not allow this change (e.g. resolving a closed ticket)."""


class InvalidInput(DomainError):
    """A value is malformed or out of range."""
