"""Baseline for event_intake.py: Bolt's async FastAPI adapter with an empty event listener."""

import os

from fastapi import FastAPI, Request
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult


async def authorize(enterprise_id, team_id, user_id):
    return AuthorizeResult(enterprise_id=None, team_id=team_id, bot_token="xoxb-bench")


bolt = AsyncApp(
    signing_secret=os.environ["SLACK_SIGNING_SECRET"],
    authorize=authorize,
    process_before_response=True,
)


@bolt.event("message")
async def on_message() -> None:
    return None


handler = AsyncSlackRequestHandler(bolt)
app = FastAPI()


@app.post("/slack/events")
async def events(request: Request):
    return await handler.handle(request)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
