"""Runs the real app under uvicorn on a free local port, inside the test's event loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import uvicorn

from app.clock import Clock
from app.config import Settings
from app.main import create_app
from app.runtime import Runtime
from app.slack_emulator.server import EmbeddedServer


class RunningApp:
    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self._server: EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None
        self.app: Any = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def runtime(self) -> Runtime:
        return self.app.state.runtime

    async def start(self) -> RunningApp:
        self.app = create_app(self.settings, clock=self.clock)
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=0, log_config=None, lifespan="on", access_log=False
        )
        self._server = EmbeddedServer(config)
        self._task = asyncio.create_task(self._server.serve())
        deadline = time.monotonic() + 15
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError("the app stopped during start-up")
            if time.monotonic() > deadline:
                raise TimeoutError("the app did not start within 15 s")
            await asyncio.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.request_exit()
            await self._task
        self._server = None
        self._task = None

    async def crash(self) -> None:
        """Stop without a graceful shutdown of in-flight work (the closest to a kill in-process)."""
        if self._server is not None and self._task is not None:
            self._server.force_exit = True
            self._server.request_exit()
            await self._task
        self._server = None
        self._task = None


async def wait_until(
    condition: Callable[[], Any], *, within: float = 10.0, message: str = "condition"
) -> Any:
    """Wait for asynchronous work (a delivery, a commit) to show; never used to let time pass.

    Returns as soon as it shows, so `within` only bounds a failure: it is generous because the
    suite runs three workers on two cores, where a chain of deliveries can take seconds."""
    deadline = time.monotonic() + within
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {message}")
        await asyncio.sleep(0.01)


async def outbox_settled(app: RunningApp) -> None:
    """Wait until nothing in the outbox is due or being sent. Call it before the test clock
    jumps: a jump past a claim's lease makes a send still in flight look abandoned."""
    from sqlalchemy import func, select

    from app.outbox.enums import OutboxStatus
    from app.outbox.models import OutboxMessage

    async def idle() -> bool:
        async with app.runtime.session_factory() as session:
            busy = await session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(
                    OutboxMessage.status == OutboxStatus.PENDING,
                    (OutboxMessage.next_attempt_at <= app.clock.now())
                    | OutboxMessage.claimed_by.is_not(None),
                )
            )
        return busy == 0

    await wait_until(idle, message="the outbox to settle")
