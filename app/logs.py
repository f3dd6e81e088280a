"""Logging setup: JSON lines for machines or readable console lines, through structlog.

Standard-library loggers (ours, uvicorn's, slack-sdk's) all go through the same formatter.
Tokens and secrets are never logged: settings hold them as SecretStr, and the Slack client's
debug output (which includes request bodies) is kept at WARNING unless LOG_LEVEL is DEBUG.
"""

from __future__ import annotations

import logging
import sys

import structlog

from app.config import LogFormat


def configure_logging(level: str, log_format: LogFormat) -> None:
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if log_format == LogFormat.JSON
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    quiet = "DEBUG" if level == "DEBUG" else "WARNING"
    for name in ("slack_sdk", "slack_bolt", "aiosqlite", "asyncio", "apscheduler"):
        logging.getLogger(name).setLevel(quiet if name != "apscheduler" else "WARNING")
    logging.getLogger("app.slack.bolt").setLevel("DEBUG" if level == "DEBUG" else "ERROR")
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
