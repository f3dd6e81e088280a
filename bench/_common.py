"""Shared helpers for the benchmark scripts: processes, ports, percentiles."""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def summarise(name: str, latencies: list[float], elapsed: float) -> dict[str, float]:
    result = {
        "rate": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "mean_ms": statistics.fmean(latencies) * 1000,
    }
    print(
        f"{name:<28} {result['rate']:>8.0f}/s   p50 {result['p50_ms']:6.1f} ms"
        f"   p99 {result['p99_ms']:6.1f} ms   ({len(latencies)} in {elapsed:.2f} s)"
    )
    return result


async def start_process(
    args: list[str], env: dict[str, str], port: int
) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        *args,
        env={**os.environ, **env},
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            try:
                await client.post(f"http://127.0.0.1:{port}/slack/events", content=b"{}")
                return process
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{args} did not start listening on {port}")


async def stop_process(process: asyncio.subprocess.Process) -> None:
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), timeout=15)
    except TimeoutError:
        process.kill()


def python() -> str:
    return sys.executable


def uvicorn_args(app: str, port: int) -> list[str]:
    """One uvicorn worker serving `app` (a module of bench/ and its attribute), quietly."""
    return [
        python(),
        "-m",
        "uvicorn",
        "--app-dir",
        "bench",
        app,
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
