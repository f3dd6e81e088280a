"""Durations as support leads write them: `90s`, `30m`, `4h`, `2d`, `1h30m`. No I/O."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"(\d+)\s*([smhdw])", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MAX_DURATION = timedelta(days=365)


def parse_duration(text: str) -> timedelta:
    """`1h30m` -> 1:30:00. Raises ValueError with a message a person can act on."""
    compact = text.strip().replace(" ", "").lower()
    if not compact or _PART.sub("", compact):
        raise ValueError(f"{text!r} is not a duration; write it like 90s, 30m, 4h, 2d or 1h30m")
    seconds = sum(int(amount) * _UNITS[unit] for amount, unit in _PART.findall(compact))
    if seconds <= 0:
        raise ValueError(f"{text!r} must be longer than zero")
    duration = timedelta(seconds=seconds)
    if duration > MAX_DURATION:
        raise ValueError(f"{text!r} is longer than a year")
    return duration


def format_duration(duration: timedelta) -> str:
    """1:30:00 -> `1h30m`; the inverse of parse_duration for whole seconds."""
    seconds = int(duration.total_seconds())
    if seconds <= 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)
