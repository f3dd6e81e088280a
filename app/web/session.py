"""The dashboard's session: a signed cookie naming who signed in, and the token their forms
carry against cross-site requests.

The cookie holds no secret and no role: the role is read from the team table on every request,
so someone removed from the team is signed out at their next click. It is HttpOnly (no script
reads it), SameSite=Lax (a cross-site POST does not carry it) and Secure behind HTTPS. Expiry is
checked against the injected clock, so tests move time instead of waiting.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

SESSION_COOKIE = "ticketbot_session"
SIGN_IN_COOKIE = "ticketbot_sign_in"
SIGN_IN_LIFETIME = timedelta(minutes=10)


@dataclass(frozen=True)
class WebSession:
    workspace_id: int
    user_id: str
    name: str
    csrf: str
    expires_at: datetime

    def csrf_matches(self, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(token.encode(), self.csrf.encode())


@dataclass(frozen=True)
class SignInState:
    """What the browser carries to Slack's consent page and back: the `state` Slack returns,
    and where to go after signing in."""

    state: str
    next_path: str
    expires_at: datetime


class SessionSigner:
    def __init__(self, key: str, lifetime: timedelta) -> None:
        self._sessions = URLSafeSerializer(key, salt="ticketbot.web.session")
        self._sign_ins = URLSafeSerializer(key, salt="ticketbot.web.sign-in")
        self.lifetime = lifetime

    def new_session(self, *, workspace_id: int, user_id: str, name: str, now: datetime) -> str:
        return self._sessions.dumps(
            {
                "w": workspace_id,
                "u": user_id,
                "n": name,
                "c": secrets.token_urlsafe(24),
                "e": (now + self.lifetime).timestamp(),
            }
        )

    def session(self, cookie: str | None, *, now: datetime) -> WebSession | None:
        """The session a cookie names, or None if it is missing, forged or expired."""
        data = _load(self._sessions, cookie)
        try:
            session = WebSession(
                workspace_id=int(data["w"]),
                user_id=str(data["u"]),
                name=str(data["n"]),
                csrf=str(data["c"]),
                expires_at=datetime.fromtimestamp(float(data["e"]), tz=now.tzinfo),
            )
        except (KeyError, TypeError, ValueError):
            return None
        return session if now < session.expires_at else None

    def new_sign_in(self, *, next_path: str, now: datetime) -> tuple[str, str]:
        """(the state for Slack, the cookie that remembers it)."""
        state = secrets.token_urlsafe(24)
        cookie = self._sign_ins.dumps(
            {"s": state, "p": next_path, "e": (now + SIGN_IN_LIFETIME).timestamp()}
        )
        return state, cookie

    def sign_in(self, cookie: str | None, *, now: datetime) -> SignInState | None:
        data = _load(self._sign_ins, cookie)
        try:
            found = SignInState(
                state=str(data["s"]),
                next_path=str(data["p"]),
                expires_at=datetime.fromtimestamp(float(data["e"]), tz=now.tzinfo),
            )
        except (KeyError, TypeError, ValueError):
            return None
        return found if now < found.expires_at else None


def safe_next(path: str | None) -> str:
    """Only a path of this dashboard: never another site (an open redirect)."""
    if not path or not path.startswith("/web/") or path.startswith("//") or "\\" in path:
        return "/web/queue"
    return path


def _load(serializer: URLSafeSerializer, cookie: str | None) -> dict[str, Any]:
    if not cookie or len(cookie) > 4096:
        return {}
    try:
        data = serializer.loads(cookie)
    except BadSignature:
        return {}
    return data if isinstance(data, dict) else {}
