"""What every `/api/*` route depends on: the caller's API key, checked for a scope, and then a
session, the acting Actor and the workspace to work in.

    @router.get("/api/things")
    async def things(api: Annotated[ApiContext, Depends(require_scope(Scope.TICKETS_READ))]): ...

The key is checked in a short transaction of its own; the route then runs its unit of work
with `async with api.session.begin():` on the same session, which closes with the request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.errors import ApiError
from app.apikeys.models import ApiKey
from app.apikeys.scopes import Scope
from app.apikeys.service import api_key_actor, authenticate, check_scope
from app.clock import Clock
from app.errors import NotAuthenticated
from app.tickets.actors import Actor
from app.workspaces.service import installation_workspace_id

# Declared for the OpenAPI document (the "Authorize" button); the header is read below, so that
# a missing and a malformed header each get their own message.
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key from `ticketbot apikey create`: `Authorization: Bearer tb_...`.",
)

if TYPE_CHECKING:  # the composition root's container; imported for its type only
    from app.runtime import Runtime


@dataclass(frozen=True)
class ApiContext:
    session: AsyncSession
    actor: Actor
    workspace_id: int
    key: ApiKey
    clock: Clock
    default_triage_channel_id: str | None = None


def runtime_of(request: Request) -> Runtime:
    return request.app.state.runtime


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization")
    if not header:
        raise NotAuthenticated("Missing API key: send `Authorization: Bearer <key>`.")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("Malformed Authorization header: use `Bearer <key>`.")
    return token.strip()


def require_scope(scope: Scope) -> Callable[..., AsyncIterator[ApiContext]]:
    """A dependency that lets the request in only with a live key holding `scope`."""

    async def api_context(
        request: Request,
        _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    ) -> AsyncIterator[ApiContext]:
        runtime = runtime_of(request)
        token = bearer_token(request)
        async with runtime.session_factory() as session:
            async with session.begin():
                key = await authenticate(session=session, token=token, now=runtime.clock.now())
                workspace_id = key.workspace_id or await installation_workspace_id(
                    session=session, slack_team_id=runtime.identity.installation_key
                )
            check_scope(key, scope)
            if workspace_id is None and runtime.settings.installs_with_oauth:
                raise ApiError(
                    403,
                    "This key names no workspace, and this ticketbot serves several (or none"
                    " yet): make one with `ticketbot apikey create --workspace TEAM_ID`.",
                )
            if workspace_id is None:
                raise ApiError(
                    503, "ticketbot has not connected to its Slack workspace yet; try again soon."
                )
            yield ApiContext(
                session=session,
                actor=api_key_actor(key),
                workspace_id=workspace_id,
                key=key,
                clock=runtime.clock,
                default_triage_channel_id=runtime.settings.triage_channel_id,
            )

    return api_context
