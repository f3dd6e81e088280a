"""Baseline for ingest.py: a Bolt app whose message listener stores one row in one transaction.

The least a Slack app that keeps what it acknowledges can do: Bolt's async FastAPI adapter with
`process_before_response=True`, and a listener that inserts the message with the SQLAlchemy ORM
and commits before Bolt answers. It uses ticketbot's engine settings (on SQLite: WAL, one writer
connection, `BEGIN IMMEDIATE`; on PostgreSQL: a pool of 10), so the two differ only in what
they do per event. The table is created on start.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from sqlalchemy import String, Text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app.db import create_engine


class Base(DeclarativeBase):
    pass


class ReceivedMessage(Base):
    __tablename__ = "baseline_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    channel_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str | None] = mapped_column(String(32))
    ts: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)


engine = create_engine(os.environ["BASELINE_DATABASE_URL"])
sessions = async_sessionmaker(engine, expire_on_commit=False)


async def authorize(enterprise_id: Any, team_id: str, user_id: Any) -> AuthorizeResult:
    return AuthorizeResult(enterprise_id=None, team_id=team_id, bot_token="xoxb-bench")


bolt = AsyncApp(
    signing_secret=os.environ["SLACK_SIGNING_SECRET"],
    authorize=authorize,
    process_before_response=True,
)


@bolt.event("message")
async def on_message(body: dict[str, Any], event: dict[str, Any]) -> None:
    async with sessions() as session, session.begin():
        session.add(
            ReceivedMessage(
                event_id=body["event_id"],
                channel_id=event["channel"],
                user_id=event.get("user"),
                ts=event["ts"],
                text=event.get("text") or "",
            )
        )


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield
    await engine.dispose()


handler = AsyncSlackRequestHandler(bolt)
app = FastAPI(lifespan=lifespan)


@app.post("/slack/events")
async def events(request: Request) -> Any:
    return await handler.handle(request)
