"""Scenarios 1 and 4: customers' messages keep coming while the server is killed, or while its
database connection is cut. Acknowledged means stored: no acknowledged event may be lost, no
retry may make a second ticket, and everything owed to Slack is posted once."""

from __future__ import annotations

import asyncio
import random
import statistics
import time

import httpx
from sqlalchemy.engine import make_url

from bench.chaos_figures import (
    drain,
    every_message_taken_in,
    intake_figures,
    outbox_figures,
    post_figures,
    wait_for,
)
from bench.chaos_load import LoadResult, SlackRetries, slack_client, steady_load
from bench.chaos_plan import Mode, Report
from bench.chaos_proxy import TcpProxy
from bench.chaos_stack import ServeProcess, Stack

RECOVERY_SECONDS = 20.0


async def kill_under_load(stack: Stack, mode: Mode, rng: random.Random, report: Report) -> None:
    """1. One `serve` killed -9 at random moments under a steady load, restarted each time."""
    server = stack.serve("serve")
    await server.start()
    await stack.set_up(server)
    duration = mode.kill_events / mode.kill_rate
    async with slack_client() as client:
        retries = SlackRetries([stack.sender(server, client)])
        load = asyncio.create_task(
            steady_load(
                stack.customer_message, retries, count=mode.kill_events, rate=mode.kill_rate
            )
        )
        restarts = await _kill_and_restart(server, kills=mode.kills, window=duration, rng=rng)
        result = await load
    await _restart_and_catch_up(stack, server, result, mode)
    owed = await drain(stack.engine, within=mode.drain_seconds)
    report.figures.update(await intake_figures(stack.engine, result))
    report.figures.update(await outbox_figures(stack.engine))
    report.figures.update(await post_figures(stack.engine, stack.emulator))
    report.figures["kills"] = len(restarts)
    report.figures["restart s"] = statistics.fmean(restarts) if restarts else 0.0
    report.figures["owed"] = owed
    report.require_zero("lost", "never taken in", "duplicated", "owed", "failed")
    report.require_zero("duplicate posts", "missing posts", "5xx")


async def _restart_and_catch_up(
    stack: Stack, server: ServeProcess, result: LoadResult, mode: Mode
) -> None:
    """Slack retries an event for about six minutes; the harness's retries take five seconds,
    so an event can be given up on while the server restarts. One more (graceful) restart
    after the load, as after a night down: catch-up on start reads such messages back."""
    await server.stop()
    await server.start()
    await wait_for(lambda: every_message_taken_in(stack.engine, result), within=mode.drain_seconds)


async def _kill_and_restart(
    server: ServeProcess, *, kills: int, window: float, rng: random.Random
) -> list[float]:
    """Kill -9 `kills` times at random moments spread over `window` seconds, each time
    restarting after a random pause of up to 0.3 s; the restarts' seconds to ready."""
    start = time.monotonic()
    restarts: list[float] = []
    for k in range(kills):
        left = window - (time.monotonic() - start)
        await asyncio.sleep(max(0.05, rng.uniform(0.1, 1.0) * left / (kills - k)))
        await server.kill9()
        await asyncio.sleep(rng.uniform(0.0, 0.3))
        restarts.append(await server.start())
    return restarts


async def database_cut(stack: Stack, mode: Mode, rng: random.Random, report: Report) -> None:
    """4. The connection between `serve` and PostgreSQL cut for a few seconds under load."""
    if not stack.is_postgres:
        report.skipped = "SQLite is embedded: there is no connection to cut"
        return
    url = make_url(stack.database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    through_proxy = url.set(host="127.0.0.1", port=proxy.port).render_as_string(False)
    server = stack.serve("serve", database_url=through_proxy)
    try:
        await server.start()
        await stack.set_up(server)
        duration = mode.cut_events / mode.cut_rate
        async with slack_client() as client:
            retries = SlackRetries([stack.sender(server, client)])
            load = asyncio.create_task(
                steady_load(
                    stack.customer_message, retries, count=mode.cut_events, rate=mode.cut_rate
                )
            )
            await asyncio.sleep(rng.uniform(0.2, 0.4) * duration)
            proxy.cut()
            await asyncio.sleep(mode.cut_seconds)
            proxy.restore()
            restored = time.monotonic()
            ready = await _wait_ready(server, client)
            result = await load
        await _restart_and_catch_up(stack, server, result, mode)
        owed = await drain(stack.engine, within=mode.drain_seconds)
    finally:
        await server.kill9()
        await proxy.stop()
    acked_after = [
        d.acked_at - restored for d in result.acked if d.acked_at and d.acked_at > restored
    ]
    report.figures.update(await intake_figures(stack.engine, result))
    report.figures.update(await outbox_figures(stack.engine))
    report.figures.update(await post_figures(stack.engine, stack.emulator))
    report.figures["cut s"] = mode.cut_seconds
    report.figures["refused connections"] = proxy.refused
    report.figures["ready after s"] = ready if ready is not None else -1.0
    report.figures["first ack after s"] = min(acked_after) if acked_after else -1.0
    report.figures["owed"] = owed
    report.require_zero("lost", "never taken in", "duplicated", "owed", "failed")
    report.require_zero("duplicate posts", "missing posts", "5xx")
    report.require(result.count_non_200() > 0, "the cut was not felt: every request got a 200")
    report.require(
        ready is not None, f"/readyz not 200 within {RECOVERY_SECONDS:g} s of the restore"
    )
    report.require(bool(acked_after), "no event acknowledged after the restore")


async def _wait_ready(server: ServeProcess, client: httpx.AsyncClient) -> float | None:
    """Seconds until /readyz answers 200 again, or None."""
    start = time.monotonic()

    async def ready() -> bool:
        try:
            return (await client.get(f"{server.url}/readyz")).status_code == 200
        except httpx.HTTPError:
            return False

    if await wait_for(ready, within=RECOVERY_SECONDS, poll=0.1):
        return time.monotonic() - start
    return None
