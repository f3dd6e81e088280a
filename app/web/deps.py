"""What every dashboard page depends on: who is signed in (their role read fresh from the
team table), a database session, and for a form post, its checked cross-site token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from app.clock import Clock
from app.config import Settings
from app.team.enums import Role
from app.team.service import get_role
from app.tickets.actors import Actor
from app.web.session import SESSION_COOKIE, SessionSigner, WebSession

if TYPE_CHECKING:  # the composition root's container; imported for its type only
    from app.runtime import Runtime


class SignInNeeded(Exception):
    """No valid session (or no longer on the team): the page sends the browser to sign in."""

    def __init__(self, next_path: str, reason: str | None = None) -> None:
        super().__init__(reason or "sign in")
        self.next_path = next_path
        self.reason = reason


class FormRefused(Exception):
    """A form post without this session's token, or from another site: refused, 403."""


@dataclass(frozen=True)
class WebContext:
    db: AsyncSession
    web: WebSession
    role: Role
    settings: Settings
    clock: Clock
    runtime: Runtime

    @property
    def workspace_id(self) -> int:
        return self.web.workspace_id

    @property
    def user_id(self) -> str:
        return self.web.user_id

    @property
    def actor(self) -> Actor:
        return Actor.user(self.web.user_id, self.role)

    @property
    def is_lead(self) -> bool:
        return self.role is Role.LEAD


def signer_of(request: Request) -> SessionSigner:
    signer: SessionSigner = request.app.state.web_signer
    return signer


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _here(request: Request) -> str:
    query = f"?{request.url.query}" if request.url.query else ""
    return request.url.path + query


async def signed_in(request: Request) -> AsyncIterator[WebContext]:
    runtime = runtime_of(request)
    web = signer_of(request).session(request.cookies.get(SESSION_COOKIE), now=runtime.clock.now())
    if web is None:
        raise SignInNeeded(_here(request))
    async with runtime.session_factory() as db:
        async with db.begin():
            role = await get_role(session=db, workspace_id=web.workspace_id, user_id=web.user_id)
        if role is None:
            raise SignInNeeded(_here(request), reason="not_on_team")
        yield WebContext(
            db=db,
            web=web,
            role=role,
            settings=runtime.settings,
            clock=runtime.clock,
            runtime=runtime,
        )


Page = Annotated[WebContext, Depends(signed_in)]


async def checked_form(request: Request, page: Page) -> FormData:
    """The posted form, if it carries this session's token and comes from this site (the
    Origin header, which browsers send on every cross-site POST, must be ours when present)."""
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != own_host(request, page.settings):
        raise FormRefused("This form was sent from another site.")
    form = await request.form()
    token = form.get("csrf")
    if not page.web.csrf_matches(token if isinstance(token, str) else None):
        raise FormRefused("This form has expired or was not sent from ticketbot: reload the page.")
    return form


Form = Annotated[FormData, Depends(checked_form)]


def own_host(request: Request, settings: Settings) -> str:
    if settings.public_url:
        return urlsplit(settings.public_url).netloc
    return request.headers.get("host", request.url.netloc)


def sign_in_path(next_path: str, reason: str | None = None) -> str:
    path = f"/web/signin?next={quote(next_path, safe='')}"
    return f"{path}&reason={reason}" if reason else path
