"""The emulated Slack's side of Sign in with Slack (OpenID Connect).

Written from docs.slack.dev/authentication/sign-in-with-slack, the method pages
docs.slack.dev/reference/methods/openid.connect.token and .../openid.connect.userInfo, and
Slack's discovery document (slack.com/.well-known/openid-configuration: response type `code`,
scopes `openid profile email`, client authentication `client_secret_post` or
`client_secret_basic`):

- ``GET /openid/connect/authorize?response_type=code&scope=openid...&client_id&state
  [&nonce][&redirect_uri][&team]``: the consent page, approved at once by whoever the
  "browser" is signed in as (:meth:`OAuthApp.sign_in`), redirecting to ``redirect_uri`` with
  ``code`` and the same ``state``. A request Slack would not start gets an error page.
- ``openid.connect.token``: the code (once, within 10 minutes; ``redirect_uri`` must match the
  one given to authorize, "a potential gotcha" on the method's page) for a user token and an
  ``id_token``. Errors as ``oauth.v2.access``'s: ``invalid_client_id``, ``bad_client_secret``,
  ``invalid_code``, ``bad_redirect_uri``, ``invalid_grant_type``.
- ``openid.connect.userInfo``: that token's user, with the claim names of the method page's
  example (``sub``, ``https://slack.com/user_id``, ``https://slack.com/team_id``, ``email``,
  ``name``, ...). ``not_authed`` without a token, ``invalid_auth`` for one it never issued.

The ``id_token`` is a JWT whose signature the emulator does not make verifiable (Slack signs with
RS256 keys published at /openid/connect/keys); ticketbot reads the user from userInfo, a call
made with the token the code bought, and not from the id_token.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from app.slack_emulator.oauth import CODE_LIFETIME_SECONDS, OAuthApp, OAuthRefusal
from app.slack_emulator.oauth import client_credentials as _client_credentials
from app.slack_emulator.workspace import Workspace

AUTHORIZE_PATH = "/openid/connect/authorize"
TOKEN_METHOD = "openid.connect.token"
USERINFO_METHOD = "openid.connect.userInfo"
ISSUER = "https://slack.com"


@dataclass
class SignInGrant:
    team_id: str
    user_id: str
    redirect_uri: str | None
    nonce: str | None
    expires_at: float


@dataclass
class SignedInUser:
    team_id: str
    user_id: str


class OpenIdProvider:
    """The codes and user tokens of Sign in with Slack, for one app (its OAuth credentials)."""

    def __init__(self, app: OAuthApp) -> None:
        self.app = app
        self.codes: dict[str, SignInGrant] = {}
        self.tokens: dict[str, SignedInUser] = {}

    def authorize(self, params: dict[str, str], teams: dict[str, Workspace], now: float) -> str:
        """Where the approved consent page redirects; raises OAuthRefusal for an error page."""
        if params.get("client_id") != self.app.client_id:
            raise OAuthRefusal("invalid_client_id")
        if params.get("response_type") != "code":
            raise OAuthRefusal("unsupported_response_type")
        if "openid" not in (params.get("scope") or "").split():
            raise OAuthRefusal("invalid_scope")
        redirect = params.get("redirect_uri") or (
            self.app.redirect_urls[0] if self.app.redirect_urls else ""
        )
        if not redirect or redirect not in self.app.redirect_urls:
            raise OAuthRefusal("bad_redirect_uri")
        if self.app.signed_in is None:
            raise OAuthRefusal("not_signed_in")
        team_id, user_id = self.app.signed_in
        if params.get("team") and params["team"] != team_id:
            raise OAuthRefusal("invalid_team")
        if team_id not in teams:
            raise OAuthRefusal("invalid_team")
        code = f"{secrets.randbelow(10**10)}.{secrets.token_hex(16)}"
        self.codes[code] = SignInGrant(
            team_id=team_id,
            user_id=user_id,
            redirect_uri=params.get("redirect_uri"),
            nonce=params.get("nonce"),
            expires_at=now + CODE_LIFETIME_SECONDS,
        )
        query = {"code": code}
        if params.get("state"):
            query["state"] = params["state"]
        return f"{redirect}{'&' if '?' in redirect else '?'}{urlencode(query)}"

    def token(
        self, args: dict[str, Any], authorization: str, teams: dict[str, Workspace], now: float
    ) -> dict[str, Any]:
        """`openid.connect.token`'s answer (without ``ok``); raises OAuthRefusal."""
        client_id, secret = _client_credentials(args, authorization)
        if client_id != self.app.client_id:
            raise OAuthRefusal("invalid_client_id")
        if secret != self.app.client_secret:
            raise OAuthRefusal("bad_client_secret")
        if str(args.get("grant_type") or "authorization_code") != "authorization_code":
            raise OAuthRefusal("invalid_grant_type")
        grant = self.codes.pop(str(args.get("code") or ""), None)
        if grant is None or grant.expires_at < now:
            raise OAuthRefusal("invalid_code")
        if grant.redirect_uri is not None and args.get("redirect_uri") != grant.redirect_uri:
            raise OAuthRefusal("bad_redirect_uri")
        token = f"xoxp-{grant.team_id}-{secrets.token_hex(12)}"
        self.tokens[token] = SignedInUser(grant.team_id, grant.user_id)
        claims = {
            "iss": ISSUER,
            "sub": grant.user_id,
            "aud": self.app.client_id,
            "exp": int(now) + 3600,
            "iat": int(now),
            "auth_time": int(now),
            "https://slack.com/user_id": grant.user_id,
            "https://slack.com/team_id": grant.team_id,
        }
        if grant.nonce:
            claims["nonce"] = grant.nonce
        return {"access_token": token, "token_type": "Bearer", "id_token": _jwt(claims)}

    def user_info(self, token: str | None, teams: dict[str, Workspace]) -> dict[str, Any]:
        """`openid.connect.userInfo`'s answer (without ``ok``); raises OAuthRefusal."""
        if not token:
            raise OAuthRefusal("not_authed")
        signed_in = self.tokens.get(token)
        if signed_in is None:
            raise OAuthRefusal("invalid_auth")
        workspace = teams[signed_in.team_id]
        user = workspace.users.get(signed_in.user_id)
        name = (user.real_name or user.name) if user else signed_in.user_id
        answer: dict[str, Any] = {
            "sub": signed_in.user_id,
            "https://slack.com/user_id": signed_in.user_id,
            "https://slack.com/team_id": signed_in.team_id,
            "name": name,
            "locale": "en-US",
            "https://slack.com/team_name": workspace.team.name,
            "https://slack.com/team_domain": workspace.team.domain,
        }
        if user is not None and user.email:
            answer.update(email=user.email, email_verified=True)
        if workspace.enterprise_id:
            answer["https://slack.com/enterprise_id"] = workspace.enterprise_id
        return answer


def _jwt(claims: dict[str, Any]) -> str:
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = {"typ": "JWT", "alg": "RS256", "kid": "emulator"}
    return ".".join(
        (
            part(json.dumps(header).encode()),
            part(json.dumps(claims).encode()),
            part(secrets.token_bytes(32)),
        )
    )
