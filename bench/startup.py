"""How long `ticketbot serve` takes to be ready, against a bare Bolt app started the same way.

Each round starts both as fresh processes (one uvicorn worker each), alternating which goes
first, and polls until each answers: ticketbot's `/readyz` (database reachable, Slack's
auth.test answered, the scheduler and the outbox running), the baseline's `/healthz` (Bolt's
FastAPI adapter with one listener: bench/_baseline_bolt.py). It prints the median wall time to
ready, the CPU the process had used by then (from /proc, steady on a busy machine) and the
ratio ticketbot/baseline. ticketbot runs on a migrated SQLite file (`--no-migrate`, as a
replica would) against the Slack emulator in this process.

    python bench/startup.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, free_port, python, stop_process, uvicorn_args

from app.schema import upgrade_to_head
from app.slack_emulator import BENCH_EMULATOR, SlackEmulator

SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench-token"
TEAM_ID = "T0001"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Start:
    seconds: float  # spawn to the first 200
    cpu_seconds: float  # the process's own CPU by then


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


async def time_start(args: list[str], env: dict[str, str], url: str) -> Start:
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        *args,
        env={**os.environ, **env},
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with aiohttp.ClientSession() as client:
            deadline = started + 60
            while time.perf_counter() < deadline:
                if process.returncode is not None:
                    raise SystemExit(f"{args[:5]} exited with {process.returncode}")
                try:
                    async with client.get(url) as answer:
                        if answer.status == 200:
                            return Start(time.perf_counter() - started, cpu_seconds(process.pid))
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.005)
        raise SystemExit(f"{args[:5]} was not ready within 60 s")
    finally:
        await stop_process(process)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    options = parser.parse_args()
    emulator = SlackEmulator(bot_token=TOKEN, team_id=TEAM_ID, **BENCH_EMULATOR)
    await emulator.start()
    with tempfile.TemporaryDirectory() as scratch:
        database_url = f"sqlite+aiosqlite:///{scratch}/startup.db"
        await upgrade_to_head(database_url)
        ticketbot_env = {
            "DATABASE_URL": database_url,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_API_URL": emulator.api_url,
            "LOG_LEVEL": "WARNING",
        }
        baseline_env = {"SLACK_SIGNING_SECRET": SECRET}
        results: dict[str, list[Start]] = {"baseline": [], "ticketbot": []}
        print(f"{options.rounds} rounds, alternating; load average {_load()}", flush=True)
        for round_number in range(options.rounds + 1):  # the first round warms the disk cache
            order = ["baseline", "ticketbot"]
            if round_number % 2:
                order.reverse()
            for name in order:
                port = free_port()
                if name == "ticketbot":
                    args = [python(), "-m", "app.cli", "serve", "--no-migrate"]
                    args += ["--host", "127.0.0.1", "--port", str(port)]
                    start = await time_start(args, ticketbot_env, f"http://127.0.0.1:{port}/readyz")
                else:
                    start = await time_start(
                        uvicorn_args("_baseline_bolt:app", port),
                        baseline_env,
                        f"http://127.0.0.1:{port}/healthz",
                    )
                if round_number:
                    results[name].append(start)
        await emulator.stop()
    medians = {
        name: (
            statistics.median(start.seconds for start in starts),
            statistics.median(start.cpu_seconds for start in starts),
        )
        for name, starts in results.items()
    }
    for name, (seconds, cpu) in medians.items():
        print(f"{name:<10} ready in {seconds * 1000:6.0f} ms (median), CPU {cpu * 1000:6.0f} ms")
    ratio = medians["ticketbot"][0] / medians["baseline"][0]
    cpu_ratio = medians["ticketbot"][1] / medians["baseline"][1]
    print(f"ratio ticketbot/baseline: {ratio:.2f} wall, {cpu_ratio:.2f} CPU (target <= 1.2)")
    print(f"load average after: {_load()}")


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


if __name__ == "__main__":
    asyncio.run(main())
