"""The one Slack endpoint: Events API, slash commands and interactivity all arrive here."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

router = APIRouter(tags=["slack"])


@router.post(
    "/slack/events",
    summary="Slack requests (signed by Slack; unsigned or stale requests get 401)",
    include_in_schema=False,
)
async def slack_events(request: Request) -> Response:
    return await request.app.state.runtime.slack_handler.handle(request)
