"""The resilience harness's world: scratch databases, `ticketbot serve` processes, and a Slack.

Each scenario gets a `Stack`: a fresh database of its own (a PostgreSQL database created next
to the one named, or a SQLite file), a Slack emulator in this process, and real `ticketbot serve`
processes started with the project's CLI, each in its own process group so that `kill9` takes
it down as a crash would. Everything is torn down in `close`, also when the scenario fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.db import create_engine
from app.slack_emulator import SlackEmulator, SlackSender, message_event, next_ts

ROOT = Path(__file__).resolve().parent.parent

SECRET = "chaos-signing-secret"
TOKEN = "xoxb-chaos"
TEAM_ID = "T0001"
LEAD = "ULEAD1"
SUPPORT = "CSUPPORT"
TRIAGE = "CTRIAGE"

# Short timeouts and small claims, so that a crashed replica's claims run out within a run:
# a claim's lease is one round of sends (2 x the 1 s timeout + 5 s) plus a 5 s margin, 12 s
# (app/outbox/dispatcher.py), where the defaults would hold a dead replica's rows for 130 s.
SERVE_SETTINGS = {
    "LOG_LEVEL": "INFO",
    "LOG_FORMAT": "console",
    "SCHEDULER_INTERVAL_SECONDS": "1",
    "OUTBOX_POLL_SECONDS": "0.5",
    "OUTBOX_BATCH_SIZE": "4",
    "OUTBOX_CONCURRENCY": "4",
    "OUTBOX_LEASE_SECONDS": "1",
    "SLACK_HTTP_TIMEOUT_SECONDS": "1",
    "WEBHOOK_TIMEOUT_SECONDS": "1",
    "CATCH_UP_INTERVAL_SECONDS": "0",  # catch-up on start only: each restart reads back
    "DIGEST_HOUR": "-1",
}
READY_TIMEOUT_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def is_postgres(url: str) -> bool:
    return url.startswith("postgresql")


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class ScratchDatabases:
    """Fresh, empty databases of one kind: PostgreSQL databases created on the server of
    `server_url` (the database it names is not touched) or SQLite files in `directory`.
    `drop_all` removes the PostgreSQL ones; `ticketbot serve` migrates each on its first start."""

    def __init__(self, server_url: str, directory: Path) -> None:
        self.server_url = server_url
        self.directory = directory
        self.kind = "postgresql" if is_postgres(server_url) else "sqlite"
        self._tag = uuid.uuid4().hex[:8]
        self._created: list[str] = []

    async def new(self, name: str) -> str:
        if self.kind == "sqlite":
            return f"sqlite+aiosqlite:///{self.directory / f'{name}.db'}"
        database = f"ticketbot_chaos_{self._tag}_{name}"
        connection = await asyncpg.connect(_asyncpg_dsn(self.server_url))
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            await connection.execute(f'CREATE DATABASE "{database}"')
        finally:
            await connection.close()
        self._created.append(database)
        return make_url(self.server_url).set(database=database).render_as_string(False)

    async def drop_all(self) -> None:
        if not self._created:
            return
        connection = await asyncpg.connect(_asyncpg_dsn(self.server_url))
        try:
            for database in self._created:
                await connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        finally:
            await connection.close()
        self._created.clear()


def serve_environment(database_url: str, api_url: str, **overrides: str) -> dict[str, str]:
    """The caller's environment without any ticketbot setting, plus the harness's settings."""
    ours = {name.upper() for name in Settings.model_fields}
    env = {name: value for name, value in os.environ.items() if name.upper() not in ours}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    env.update(SERVE_SETTINGS)
    env.update(
        DATABASE_URL=database_url,
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=api_url,
        SUPPORT_LEADS=LEAD,
        TRIAGE_CHANNEL_ID=TRIAGE,
    )
    env.update(overrides)
    return env


class ServeProcess:
    """One `ticketbot serve` on a fixed local port, restartable on the same port."""

    def __init__(self, name: str, port: int, env: dict[str, str], workdir: Path) -> None:
        self.name = name
        self.port = port
        self.env = env
        self.workdir = workdir
        self.log = workdir / f"{name}.log"
        self.starts = 0
        self._process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def start(self) -> float:
        """Start it (it migrates, then serves) and wait until /readyz answers 200; seconds."""
        started = time.monotonic()
        with self.log.open("ab") as log:
            log.write(f"--- start {self.starts + 1} ---\n".encode())
            log.flush()
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "app.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                env=self.env,
                cwd=self.workdir,  # no .env of a checkout is read
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # its own process group, for kill9
            )
        self.starts += 1
        async with httpx.AsyncClient(timeout=2.0) as client:
            while time.monotonic() - started < READY_TIMEOUT_SECONDS:
                if self._process.returncode is not None:
                    break
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{self.url}/readyz")).status_code == 200:
                        return time.monotonic() - started
                await asyncio.sleep(0.05)
        await self.kill9()
        raise RuntimeError(f"{self.name} did not become ready:\n{self.log_tail()}")

    async def kill9(self) -> None:
        """SIGKILL its whole process group, as a crash or an OOM kill would."""
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()

    async def stop(self) -> None:
        """A graceful stop (SIGTERM), then SIGKILL if it lingers."""
        process = self._process
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), timeout=10)
        await self.kill9()

    def memory_kb(self, field: str = "VmRSS") -> int | None:
        """`VmRSS` (now) or `VmHWM` (peak) of the server process, from /proc."""
        if self.pid is None:
            return None
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        return None

    def log_count(self, marker: str) -> int:
        """Lines of its log (all its starts) that contain `marker`."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return 0
        return sum(1 for line in text.splitlines() if marker in line)

    def log_around(self, marker: str, lines: int = 30) -> str | None:
        """The log from a line before the first that contains `marker`, or None."""
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return None
        for n, line in enumerate(text):
            if marker in line:
                return "\n".join(text[max(0, n - 1) : n + lines])
        return None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


class Stack:
    """A scenario's database, Slack emulator and `ticketbot serve` processes."""

    def __init__(self, name: str, database_url: str, workdir: Path) -> None:
        self.name = name
        self.database_url = database_url
        self.workdir = workdir / name
        self.workdir.mkdir(parents=True, exist_ok=True)
        # Slack's pacing is not under test here (the outbox paces itself); its refusals are
        # injected where a scenario wants them. Block Kit and text checks stay on.
        self.emulator = SlackEmulator(bot_token=TOKEN, team_id=TEAM_ID, rate_limits=False)
        self.emulator.add_channel(SUPPORT, name="support")
        self.emulator.add_channel(TRIAGE, name="support-triage")
        self.servers: list[ServeProcess] = []
        self._engine: AsyncEngine | None = None
        self._customers = 0

    async def start(self) -> Stack:
        await self.emulator.start()
        return self

    @property
    def is_postgres(self) -> bool:
        return is_postgres(self.database_url)

    @property
    def engine(self) -> AsyncEngine:
        """The harness's own connection to the database (never through a proxy)."""
        if self._engine is None:
            self._engine = create_engine(self.database_url, pool_size=2)
        return self._engine

    def serve(self, name: str, *, database_url: str | None = None) -> ServeProcess:
        env = serve_environment(database_url or self.database_url, self.emulator.api_url)
        server = ServeProcess(name, free_port(), env, self.workdir)
        self.servers.append(server)
        return server

    def sender(self, server: ServeProcess, client: httpx.AsyncClient) -> SlackSender:
        return SlackSender(server.url, SECRET, team_id=TEAM_ID, client=client)

    async def set_up(self, server: ServeProcess, *commands: str) -> None:
        """The lead watches #support (triage cards to #support-triage), then runs `commands`,
        as signed slash commands; each must be answered 200."""
        async with httpx.AsyncClient(timeout=10.0) as client:
            sender = self.sender(server, client)
            for text in ("watch", *commands):
                answer = await sender.send_command(
                    text,
                    user_id=LEAD,
                    channel_id=SUPPORT,
                    response_url=self.emulator.new_response_url(),
                )
                if answer.status_code != 200:
                    raise RuntimeError(f"/ticket {text} answered {answer.status_code}")

    def customer_message(self) -> dict[str, Any]:
        """A new customer's first message in #support: held by Slack (the emulator, so that
        catch-up and post look-ups find its thread) and returned as its `message` event."""
        self._customers += 1
        user = f"UC{self._customers:08d}"
        text = f"Order {self._customers} was charged twice, can you refund one of them?"
        ts = next_ts()
        self.emulator.add_message(SUPPORT, user=user, text=text, ts=ts, team=TEAM_ID)
        return message_event(SUPPORT, user, text, ts=ts, team=TEAM_ID)

    async def close(self) -> None:
        for server in self.servers:
            with contextlib.suppress(Exception):
                await server.kill9()
        if self._engine is not None:
            await self._engine.dispose()
        await self.emulator.stop()
