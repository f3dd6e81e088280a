"""Run a standalone emulator: ``python -m app.slack_emulator --port 8090``.

Drive it from another process through the ``/_emulator/`` control API (see ``routes``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from app.slack_emulator.emulator import SlackEmulator


async def _serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not on Windows
            loop.add_signal_handler(sig, stop.set)
    emulator = SlackEmulator(
        bot_token=args.bot_token,
        strict_channels=args.strict_channels,
        rate_limits=not args.no_rate_limits,
    )
    await emulator.start(args.host, args.port)
    print(f"Slack emulator listening: {emulator.api_url}", flush=True)
    try:
        await stop.wait()
    finally:
        await emulator.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m app.slack_emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--bot-token", default="xoxb-emulator")
    parser.add_argument("--strict-channels", action="store_true")
    parser.add_argument(
        "--no-rate-limits", action="store_true", help="do not answer 429 over Slack's tiers"
    )
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
