"""The call log: every request the emulator answered, in arrival order."""

from __future__ import annotations

import copy
import threading
from dataclasses import asdict, dataclass
from typing import Any

RESPONSE_URL_METHOD = "response_url"


@dataclass(frozen=True)
class RecordedCall:
    """One answered request.

    ``args`` merges query args with the form or JSON body, with JSON-in-a-string fields
    (``blocks``, ``view``...) decoded. The token is kept apart, in ``token``.
    """

    method: str
    args: dict[str, Any]
    status: int
    response: dict[str, Any]
    at: float
    token: str | None

    @property
    def ok(self) -> bool:
        """True when Slack actually did it: HTTP 200 and ``"ok": true``."""
        return self.status == 200 and self.response.get("ok") is True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class CallLog:
    """Thread-safe, append-only list of calls; readers get deep copies."""

    def __init__(self) -> None:
        self._calls: list[RecordedCall] = []
        self._lock = threading.Lock()

    def append(self, call: RecordedCall) -> None:
        with self._lock:
            self._calls.append(call)

    def calls(self, method: str | None = None) -> list[RecordedCall]:
        with self._lock:
            selected = [c for c in self._calls if method is None or c.method == method]
        # Frozen dataclasses still hold mutable dicts: copy so readers cannot alter history.
        return copy.deepcopy(selected)

    def delivered(self, method: str | None = None) -> list[RecordedCall]:
        return [c for c in self.calls(method) if c.ok]

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()
