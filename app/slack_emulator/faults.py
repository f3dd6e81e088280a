"""Injected faults: errors and delays for the next N calls of a method (or of any method)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

DEFAULT_RETRY_AFTER = 1


@dataclass
class Fault:
    """A planned misbehaviour; ``status is None`` means "answer normally, only late"."""

    method: str | None
    remaining: int
    status: int | None = None
    error: str | None = None
    retry_after: int | None = None
    delay: float = 0.0

    def matches(self, method: str) -> bool:
        return self.method is None or self.method == method

    def failure(self) -> tuple[int, dict[str, Any], dict[str, str]] | None:
        """The (status, body, headers) to answer instead of the real result, if any."""
        if self.status is None:
            return None
        headers: dict[str, str] = {}
        if self.status == 429:
            headers["Retry-After"] = str(
                DEFAULT_RETRY_AFTER if self.retry_after is None else self.retry_after
            )
            error = self.error or "ratelimited"
        elif self.status == 200:
            error = self.error or "fatal_error"
        else:
            if self.retry_after is not None:
                headers["Retry-After"] = str(self.retry_after)
            error = self.error or "internal_error"
        return self.status, {"ok": False, "error": error}, headers


class FaultQueue:
    """Faults are consumed in registration order: a call takes the first one that matches."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        if fault.remaining < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            self._faults.append(fault)

    def take(self, method: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
