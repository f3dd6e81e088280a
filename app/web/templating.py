"""The dashboard's templates (Jinja2, autoescaped) and the filters they format with."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

from app.text_safety import readable
from app.web.deps import WebContext

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")


def duration(seconds: float | None) -> str:
    """3 h 20 min, 2 d 4 h, 45 s; an em dash for none."""
    if seconds is None:
        return "—"
    seconds = abs(seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    if minutes < 60:
        return f"{minutes:.0f} min"
    hours, rest = divmod(int(minutes), 60)
    if hours < 48:
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def when(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def iso(moment: datetime | None) -> str:
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}%"


def number(value: float | None, places: int = 1) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if places == 0 or value == int(value) else f"{value:,.{places}f}"


TEMPLATES.env.filters.update(
    duration=duration, when=when, iso=iso, percent=percent, number=number, slack_text=readable
)


def render(
    request: Request,
    template: str,
    page: WebContext | None,
    status_code: int = 200,
    /,
    **context: Any,
) -> HTMLResponse:
    """A page, with who is signed in, their form token and any notice from the last action."""
    return TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "page": page,
            "csrf": page.web.csrf if page else "",
            "notice": request.query_params.get("notice"),
            "problem": request.query_params.get("problem"),
            "now": page.clock.now() if page else None,
            **context,
        },
        status_code=status_code,
        headers=SECURITY_HEADERS,
    )


# No framing (clickjacking), no sniffing, nothing loaded from elsewhere: every script, style
# and image comes from ticketbot itself (self-hosted installs are often offline).
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline';"
        " frame-ancestors 'none'; form-action 'self'"
    ),
    "Cache-Control": "no-store",
}
