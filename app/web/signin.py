"""Sign in with Slack (OpenID Connect), written from docs.slack.dev/authentication/
sign-in-with-slack: the browser goes to Slack's consent page with our client id and a `state`
it also carries in a short-lived signed cookie; Slack sends it back with a code; the code,
with our client secret, buys a user token (`openid.connect.token`); the token tells who it is
(`openid.connect.userInfo`). Only members of that workspace's support team get a session.

The user is read from userInfo, a call made over TLS with the token the code bought, and not
from the `id_token` (whose RS256 signature would need Slack's published keys fetched at run
time); `state`, bound to this browser by its cookie, is what stops a forged callback.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from app.team.service import get_role
from app.web.deps import Form, Page, runtime_of, signer_of
from app.web.session import SESSION_COOKIE, SIGN_IN_COOKIE, safe_next
from app.web.templating import render
from app.workspaces.service import find_workspace_id

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/web", include_in_schema=False)

CALLBACK_PATH = "/web/signin/callback"
SCOPES = "openid profile"

REASONS = {
    "not_on_team": "Only the support team signs in here. Ask a lead to add you with"
    " `/ticket team add @you agent` in Slack.",
    "other_workspace": "ticketbot is not installed in the Slack workspace you signed in with.",
    "failed": "Slack did not confirm who you are. Try again.",
    "expired": "That sign-in took too long or came from another browser. Try again.",
    "cancelled": "Signing in was cancelled in Slack.",
    "signed_out": "You are signed out.",
    "not_configured": "Sign in with Slack needs the app's client id and secret"
    " (SLACK_CLIENT_ID and SLACK_CLIENT_SECRET).",
}


@router.get("/signin")
async def sign_in_page(
    request: Request,
    next_: Annotated[str | None, Query(alias="next", max_length=2000)] = None,
    reason: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    settings = runtime_of(request).settings
    if not settings.web_sign_in:
        reason = "not_configured"
    return render(
        request,
        "signin.html",
        None,
        200,
        message=REASONS.get(reason or ""),
        start=f"/web/signin/slack?{urlencode({'next': safe_next(next_)})}",
        configured=settings.web_sign_in,
    )


@router.get("/signin/slack")
async def go_to_slack(
    request: Request, next_: Annotated[str | None, Query(alias="next", max_length=2000)] = None
) -> Response:
    runtime = runtime_of(request)
    settings = runtime.settings
    if not settings.web_sign_in:
        return RedirectResponse("/web/signin?reason=not_configured", status_code=303)
    state, cookie = signer_of(request).new_sign_in(
        next_path=safe_next(next_), now=runtime.clock.now()
    )
    query = {
        "response_type": "code",
        "scope": SCOPES,
        "client_id": settings.slack_client_id or "",
        "state": state,
        "redirect_uri": redirect_uri(request),
    }
    installation = runtime.identity.installation
    if installation is not None and installation.team_id and not settings.installs_with_oauth:
        query["team"] = installation.team_id  # Slack opens the right workspace
    response = RedirectResponse(
        f"{settings.slack_openid_authorize_url}?{urlencode(query)}", status_code=302
    )
    response.set_cookie(
        SIGN_IN_COOKIE,
        cookie,
        max_age=600,
        path="/web/signin",
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )
    return response


@router.get(CALLBACK_PATH.removeprefix("/web"))
async def back_from_slack(
    request: Request,
    code: Annotated[str | None, Query(max_length=500)] = None,
    state: Annotated[str | None, Query(max_length=200)] = None,
    error: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    runtime = runtime_of(request)
    settings = runtime.settings
    now = runtime.clock.now()
    expected = signer_of(request).sign_in(request.cookies.get(SIGN_IN_COOKIE), now=now)
    if error:
        return _again("cancelled")
    if expected is None or state is None or state != expected.state or not code:
        return _again("expired")
    if not settings.web_sign_in:
        return _again("not_configured")
    identity = await _who_signed_in(request, code)
    if identity is None:
        return _again("failed")
    user_id, team_id, enterprise_id, name = identity
    async with runtime.session_factory() as db, db.begin():
        workspace_id = await find_workspace_id(session=db, slack_team_id=team_id)
        if workspace_id is None and enterprise_id:
            workspace_id = await find_workspace_id(session=db, slack_team_id=enterprise_id)
        if workspace_id is None:
            return _again("other_workspace")
        role = await get_role(session=db, workspace_id=workspace_id, user_id=user_id)
    if role is None:
        logger.info("sign-in refused: %s is not on the support team", user_id)
        return _again("not_on_team")
    cookie = signer_of(request).new_session(
        workspace_id=workspace_id, user_id=user_id, name=name, now=now
    )
    response = RedirectResponse(expected.next_path, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=int(signer_of(request).lifetime.total_seconds()),
        path="/web",
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )
    response.delete_cookie(SIGN_IN_COOKIE, path="/web/signin")
    return response


@router.post("/signout")
async def sign_out(page: Page, form: Form) -> Response:
    response = RedirectResponse("/web/signin?reason=signed_out", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/web")
    return response


async def _who_signed_in(request: Request, code: str) -> tuple[str, str, str | None, str] | None:
    """(user id, team id, enterprise id, name) from Slack, or None if Slack says no."""
    runtime = runtime_of(request)
    settings = runtime.settings
    assert settings.slack_client_id is not None and settings.slack_client_secret is not None
    client = AsyncWebClient(base_url=settings.slack_api_url, timeout=10)
    try:
        token = await client.openid_connect_token(
            client_id=settings.slack_client_id,
            client_secret=settings.slack_client_secret.get_secret_value(),
            code=code,
            redirect_uri=redirect_uri(request),
        )
        user_client = AsyncWebClient(
            token=token["access_token"], base_url=settings.slack_api_url, timeout=10
        )
        info: Any = await user_client.openid_connect_userInfo()
    except SlackApiError as exc:
        logger.warning("Sign in with Slack refused: %s", exc.response.get("error"))
        return None
    except Exception as exc:  # Slack unreachable: the person is told to try again
        logger.warning("Sign in with Slack failed: %s", type(exc).__name__)
        return None
    user_id = info.get("https://slack.com/user_id") or info.get("sub")
    team_id = info.get("https://slack.com/team_id")
    if not user_id or not team_id:
        return None
    name = info.get("name") or user_id
    return str(user_id), str(team_id), info.get("https://slack.com/enterprise_id"), str(name)


def redirect_uri(request: Request) -> str:
    settings = runtime_of(request).settings
    base = settings.public_url or str(request.base_url)
    return base.rstrip("/") + CALLBACK_PATH


def _secure(request: Request) -> bool:
    settings = runtime_of(request).settings
    base = settings.public_url or str(request.base_url)
    return base.startswith("https://")


def _again(reason: str) -> Response:
    response = RedirectResponse(f"/web/signin?reason={reason}", status_code=303)
    response.delete_cookie(SIGN_IN_COOKIE, path="/web/signin")
    return response
