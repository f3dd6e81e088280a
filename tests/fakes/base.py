"""What every fake service shares: served on 127.0.0.1 by the emulator's embedded server,
taken down and brought back up on the same port (a far side that is down, then back)."""

from __future__ import annotations

from app.slack_emulator.server import ServerRunner


class LocalService:
    """Subclasses set `self._runner = ServerRunner(<their ASGI app>)` in `__init__`."""

    _runner: ServerRunner

    async def start(self) -> None:
        await self._runner.start("127.0.0.1", 0)

    async def stop(self) -> None:
        await self._runner.stop()

    async def go_down(self) -> None:
        """Stop listening (connections are refused), keeping the port for `come_up`."""
        await self._runner.stop()

    async def come_up(self) -> None:
        await self._runner.restart()

    @property
    def base_url(self) -> str:
        """Where the service answers, as its https address would be given to a connector."""
        if self._runner.port is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return f"http://127.0.0.1:{self._runner.port}"
