"""The web dashboard: a third adapter beside Slack and the REST API, calling the same flows.
Server-rendered pages under /web, signed in with Slack; nothing is loaded from elsewhere."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from app.config import Settings
from app.web import accounts, reports, signin, tickets
from app.web.deps import FormRefused, SignInNeeded, sign_in_path
from app.web.session import SESSION_COOKIE, SessionSigner
from app.web.templating import SECURITY_HEADERS


def mount_dashboard(app: FastAPI, settings: Settings) -> None:
    app.state.web_signer = SessionSigner(
        settings.web_session_key(), timedelta(hours=settings.web_session_hours)
    )
    app.mount(
        "/web/static",
        StaticFiles(directory=Path(__file__).parent / "static"),
        name="web-static",
    )
    for router in (signin.router, tickets.router, reports.router, accounts.router):
        app.include_router(router)

    @app.get("/web", include_in_schema=False)
    @app.get("/web/", include_in_schema=False)
    async def dashboard_home() -> Response:
        return RedirectResponse("/web/queue", status_code=303)

    @app.exception_handler(SignInNeeded)
    async def sign_in_needed(request: Request, exc: SignInNeeded) -> Response:
        response = RedirectResponse(sign_in_path(exc.next_path, exc.reason), status_code=303)
        if exc.reason:  # a session that no longer lets anyone in goes
            response.delete_cookie(SESSION_COOKIE, path="/web")
        return response

    @app.exception_handler(FormRefused)
    async def form_refused(request: Request, exc: FormRefused) -> Response:
        return HTMLResponse(
            f"<!doctype html><title>Refused</title><p>{exc}</p>"
            '<p><a href="/web/queue">Back to ticketbot</a></p>',
            status_code=403,
            headers=SECURITY_HEADERS,
        )
