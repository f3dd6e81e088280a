"""Slack message timestamps ("ts").

A Slack ts is a message id as much as a time: ``"<unix seconds>.<6 digits>"``, unique
within a channel and increasing. Generators here guarantee strict monotonicity even when
the clock is frozen or goes backwards (tests often pin the clock).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable

_MICROS = 1_000_000
# What Slack generates: seconds, a dot and exactly six digits.
_TS = re.compile(r"^\d+\.\d{6}$", re.ASCII)
# What Slack accepts as a bound (``latest``/``oldest``): seconds, optionally with a fraction.
_BOUND = re.compile(r"^(\d+)(?:\.(\d{1,6}))?$", re.ASCII)


class TsGenerator:
    """Produces unique, strictly increasing Slack ts strings from a clock."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> str:
        with self._lock:
            micros = max(int(self._clock() * _MICROS), self._last + 1)
            self._last = micros
        return format_ts(micros)

    def observe(self, ts: str) -> None:
        """Note a ts made elsewhere (e.g. a seeded message) so later ones sort after it."""
        micros = ts_micros(ts)
        with self._lock:
            self._last = max(self._last, micros)


def format_ts(micros: int) -> str:
    return f"{micros // _MICROS}.{micros % _MICROS:06d}"


def is_ts(value: str) -> bool:
    """True for a well-formed message ts such as ``"1732512345.000100"``."""
    return bool(_TS.match(value))


def ts_micros(value: str) -> int:
    """``"1732512345.0001"`` -> ``1732512345000100``; also takes whole seconds ("1732512345").

    Raises ValueError for anything else.
    """
    match = _BOUND.match(value)
    if match is None:
        raise ValueError(f"not a Slack ts: {value!r}")
    seconds, fraction = match.groups()
    return int(seconds) * _MICROS + int((fraction or "").ljust(6, "0"))


def ts_to_permalink_id(ts: str) -> str:
    """``"1732512345.000100"`` -> ``"p1732512345000100"`` (the message part of a permalink)."""
    return "p" + ts.replace(".", "")


# Shared by payload builders and by emulators running on the real clock, so that user
# messages (built by tests) and bot messages (posted to the emulator) never share a ts.
default_ts_generator = TsGenerator()


def next_ts() -> str:
    """A fresh Slack ts from the process-wide generator."""
    return default_ts_generator.next()
