"""The emulated Slack's side of an app install (OAuth v2) and of token rotation.

- ``GET /oauth/v2/authorize?client_id&scope&state[&redirect_uri][&team]``: Slack's consent page.
  The emulator "approves" at once for the team named by ``team`` (Slack's own parameter to pick
  the workspace) or the one signed in (:meth:`OAuthApp.sign_in`), and redirects to the
  ``redirect_uri`` (or the app's configured one) with ``code`` and the same ``state``. A
  client id it does not know, or a redirect URL not among the app's, gets an error page, as
  Slack shows one (docs.slack.dev/authentication/installing-with-oauth: "redirect_uri ... must
  match ... one of the redirect URLs configured").
- ``oauth.v2.access``: exchanges a code (once, within 10 minutes) or, with token rotation on, a
  refresh token (``grant_type=refresh_token``, each usable once) for a bot token. The client's
  id and secret come by HTTP Basic authentication or as arguments, as the method's page says
  (docs.slack.dev/reference/methods/oauth.v2.access). Errors are from that page's list:
  ``invalid_client_id``, ``bad_client_secret``, ``invalid_code``, ``invalid_grant_type``,
  ``invalid_refresh_token``, ``bad_redirect_uri``. Its answer's fields are those of
  ``OauthV2AccessResponse`` (Slack's node SDK types): ``access_token``, ``token_type: bot``,
  ``scope``, ``bot_user_id``, ``app_id``, ``team``, ``enterprise``, ``authed_user``,
  ``is_enterprise_install``, and with rotation ``refresh_token`` and ``expires_in`` (12 hours,
  docs.slack.dev/authentication/using-token-rotation).
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from app.slack_emulator.workspace import Workspace

CODE_LIFETIME_SECONDS = 600.0
ROTATED_TOKEN_SECONDS = 12 * 3600


@dataclass
class _Grant:
    team_id: str
    installer_user_id: str
    scopes: str
    redirect_uri: str | None
    expires_at: float


@dataclass
class OAuthApp:
    """The app's OAuth credentials and what it has granted."""

    client_id: str
    client_secret: str
    redirect_urls: list[str]
    token_rotation: bool = False
    signed_in: tuple[str, str] | None = None  # (team id, user id) of the browser's session
    codes: dict[str, _Grant] = field(default_factory=dict)
    refresh_tokens: dict[str, str] = field(default_factory=dict)  # refresh token -> team id

    def sign_in(self, team_id: str, user_id: str) -> None:
        """Who approves the next install in the "browser" (unless `team` is in the URL)."""
        self.signed_in = (team_id, user_id)


class OAuthRefusal(Exception):
    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


def authorize(
    app: OAuthApp, params: dict[str, str], teams: dict[str, Workspace], now: float
) -> str:
    """Slack's consent page, approved: the URL it redirects the installer to. Raises
    OAuthRefusal (shown as an error page) for what Slack refuses to start."""
    if params.get("client_id") != app.client_id:
        raise OAuthRefusal("invalid_client_id")
    redirect = params.get("redirect_uri") or (app.redirect_urls[0] if app.redirect_urls else "")
    if not redirect or redirect not in app.redirect_urls:
        raise OAuthRefusal("bad_redirect_uri")
    if not params.get("scope"):
        raise OAuthRefusal("invalid_scope")
    team_id = params.get("team") or (app.signed_in[0] if app.signed_in else None)
    if team_id is None or team_id not in teams:
        raise OAuthRefusal("invalid_team")
    installer = app.signed_in[1] if app.signed_in and app.signed_in[0] == team_id else "UADMIN"
    code = f"{secrets.randbelow(10**10)}.{secrets.token_hex(16)}"
    app.codes[code] = _Grant(
        team_id=team_id,
        installer_user_id=installer,
        scopes=params["scope"],
        redirect_uri=params.get("redirect_uri"),
        expires_at=now + CODE_LIFETIME_SECONDS,
    )
    query = {"code": code}
    if params.get("state"):
        query["state"] = params["state"]
    return f"{redirect}{'&' if '?' in redirect else '?'}{urlencode(query)}"


def client_credentials(args: dict[str, Any], authorization: str) -> tuple[str | None, str | None]:
    """The client id and secret, from HTTP Basic authentication or else the arguments."""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "basic" and value.strip():
        try:
            decoded = base64.b64decode(value.strip()).decode()
        except (ValueError, UnicodeDecodeError):
            return None, None
        client_id, _, secret = decoded.partition(":")
        return client_id, secret
    given_id, given_secret = args.get("client_id"), args.get("client_secret")
    return (str(given_id) if given_id else None, str(given_secret) if given_secret else None)


def access(
    app: OAuthApp,
    args: dict[str, Any],
    authorization: str,
    teams: dict[str, Workspace],
    issue_token: Callable[[Workspace, float | None], str],
    now: float,
) -> dict[str, Any]:
    """`oauth.v2.access`'s answer (without ``ok``); raises OAuthRefusal with Slack's error."""
    client_id, secret = client_credentials(args, authorization)
    if client_id != app.client_id:
        raise OAuthRefusal("invalid_client_id")
    if secret != app.client_secret:
        raise OAuthRefusal("bad_client_secret")
    grant_type = str(args.get("grant_type") or "authorization_code")
    installer: str | None
    if grant_type == "authorization_code":
        grant = app.codes.pop(str(args.get("code") or ""), None)
        if grant is None or grant.expires_at < now:
            raise OAuthRefusal("invalid_code")
        if grant.redirect_uri is not None and args.get("redirect_uri") != grant.redirect_uri:
            raise OAuthRefusal("bad_redirect_uri")
        team_id, installer, scopes = grant.team_id, grant.installer_user_id, grant.scopes
    elif grant_type == "refresh_token":
        team_id_or_none = app.refresh_tokens.pop(str(args.get("refresh_token") or ""), None)
        if team_id_or_none is None:
            raise OAuthRefusal("invalid_refresh_token")
        team_id, installer, scopes = team_id_or_none, None, ""
    else:
        raise OAuthRefusal("invalid_grant_type")
    workspace = teams[team_id]
    expires_in = ROTATED_TOKEN_SECONDS if app.token_rotation else None
    token = issue_token(workspace, now + expires_in if expires_in else None)
    answer: dict[str, Any] = {
        "access_token": token,
        "token_type": "bot",
        "scope": scopes or workspace.granted_scopes,
        "bot_user_id": workspace.bot.user_id,
        "app_id": workspace.bot.app_id,
        # An org-wide install belongs to no one workspace: `team` is null and `enterprise`
        # names the org (api.slack.com/enterprise/apps/reference, "oauth.v2.access response").
        "team": (
            None
            if workspace.is_enterprise_install
            else {"id": workspace.team.id, "name": workspace.team.name}
        ),
        "enterprise": (
            {
                "id": workspace.enterprise_id,
                "name": (
                    workspace.team.name
                    if workspace.is_enterprise_install
                    else workspace.enterprise_id
                ),
            }
            if workspace.enterprise_id
            else None
        ),
        "is_enterprise_install": workspace.is_enterprise_install,
    }
    if installer is not None:
        answer["authed_user"] = {"id": installer}
        workspace.granted_scopes = scopes
    if expires_in is not None:
        refresh = f"xoxe-1-{secrets.token_hex(24)}"
        app.refresh_tokens[refresh] = team_id
        answer["refresh_token"] = refresh
        answer["expires_in"] = expires_in
    return answer
