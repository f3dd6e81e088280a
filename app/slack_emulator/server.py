"""Run an ASGI app with uvicorn inside the caller's event loop, on a port that survives restarts."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from typing import Any

import uvicorn

# Long enough for in-flight answers to finish, short enough that go_down() stays quick
# even while a slow_next() answer is pending (those get cancelled).
_GRACEFUL_SHUTDOWN_SECONDS = 0.25


class EmbeddedServer(uvicorn.Server):
    """A uvicorn server that suits embedding in a host program (tests, benchmarks, the demo).

    It leaves signal handlers alone (the host owns Ctrl-C), exits as soon as asked instead of
    polling every 100 ms, and shuts down without uvicorn's fixed 100 ms pauses: open
    connections are asked to close and in-flight answers are awaited, polling every few
    milliseconds (a test suite starts and stops a server per test).
    """

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._wake = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 10) % 864_000  # on_tick refreshes the Date header every 10
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=1.0)

    def request_exit(self) -> None:
        self.should_exit = True
        self._wake.set()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.config.timeout_graceful_shutdown or 5.0)
        while self.server_state.connections or self.server_state.tasks:
            if self.force_exit or loop.time() >= deadline:
                for task in self.server_state.tasks:
                    task.cancel(msg="server shut down")
                break
            await asyncio.sleep(0.002)
        for server in self.servers:
            await server.wait_closed()
        if not self.force_exit:
            await self.lifespan.shutdown()


def _bind(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        # Lets come_up() rebind the port while old connections sit in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


class ServerRunner:
    """Starts, stops and restarts one ASGI app on a fixed host and port."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self._host: str | None = None
        self._port: int | None = None
        self._server: EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def host(self) -> str | None:
        return self._host

    @property
    def port(self) -> int | None:
        return self._port

    @property
    def running(self) -> bool:
        return self._server is not None

    async def start(self, host: str, port: int) -> None:
        """Listen on ``host:port``; port 0 picks a free port, kept for later restarts."""
        if self.running:
            raise RuntimeError("already running")
        sock = _bind(host, port)
        self._host, self._port = host, sock.getsockname()[1]
        await self._serve(sock)

    async def restart(self) -> None:
        if self._host is None or self._port is None:
            raise RuntimeError("never started")
        if not self.running:
            await self._serve(_bind(self._host, self._port))

    async def stop(self) -> None:
        """Close the listening socket and open connections; a no-op when not running."""
        server, task = self._server, self._task
        self._server = self._task = None
        if server is None or task is None:
            return
        server.request_exit()
        await task

    async def _serve(self, sock: socket.socket) -> None:
        config = uvicorn.Config(
            self._app,
            lifespan="off",
            log_config=None,  # never reconfigure the host program's logging
            log_level=None,
            access_log=False,
            # typed int by uvicorn; it is a timeout, and a fraction of a second works
            timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_SECONDS,  # type: ignore[arg-type]
        )
        server = EmbeddedServer(config)
        task = asyncio.create_task(server.serve(sockets=[sock]), name="slack-emulator")
        while not server.started:
            if task.done():
                sock.close()
                task.result()  # re-raises the startup failure
                raise RuntimeError("emulator server exited during startup")
            await asyncio.sleep(0.005)
        self._server, self._task = server, task
