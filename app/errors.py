"""Domain errors. Services raise these; each adapter (Slack, HTTP API) renders them once.

An error is data: a `code` a program can act on, the `field` it concerns (when one input is
wrong), and a message for people, in plain text, in which the people it names are placeholders
(`{user}`) given in `people` as Slack user ids. The Slack adapter escapes the text and renders
the people as mentions; the REST API shows the text as it is and the people as ids: no Slack
markup reaches `/api/*`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping


class DomainError(Exception):
    """Something the user asked for cannot be done; the message says why, for that user."""

    code = "refused"

    def __init__(
        self,
        message: str = "",
        *,
        code: str | None = None,
        field: str | None = None,
        people: Mapping[str, str] | None = None,
    ) -> None:
        self.message = message
        self.code = code or type(self).code
        self.field = field
        self.people = dict(people or {})
        super().__init__(self.render(lambda user_id: user_id))

    def render(
        self, person: Callable[[str], str], text: Callable[[str], str] = lambda plain: plain
    ) -> str:
        """The message: its words through `text` (e.g. escaping), each person as `person`
        makes their id."""
        rendered = text(self.message)
        for name, user_id in self.people.items():
            rendered = rendered.replace("{" + name + "}", person(user_id))
        return rendered


class NotAuthenticated(DomainError):
    """The caller did not say who they are, or the credential is unknown or revoked."""

    code = "not_authenticated"


class NotAllowed(DomainError):
    """The actor's role does not permit this (e.g. only leads triage)."""

    code = "not_allowed"


class NotFound(DomainError):
    """The ticket, channel or member named does not exist."""

    code = "not_found"


class InvalidTransition(DomainError):
    """The ticket's status does not allow this change (e.g. resolving a closed ticket)."""

    code = "invalid_transition"


class Conflict(DomainError):
    """What was asked for exists already (e.g. an account of that name)."""

    code = "conflict"


class InvalidInput(DomainError):
    """A value is malformed or out of range."""

    code = "invalid_input"
