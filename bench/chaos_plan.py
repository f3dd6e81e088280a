"""The harness's two sizes (short for the test suite, long by hand) and its report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Mode:
    name: str
    # 1. kill -9 under load: events at a steady rate, the server killed `kills` times.
    kill_events: int
    kill_rate: float
    kills: int
    # 2. SLA timers: tickets whose first-response target (in seconds, around the clock) comes
    # due while a replica is killed.
    timer_tickets: int
    timer_target_seconds: int
    # 3. slow Slack: tickets opened while Slack answers late, 429 and 5xx; `storm_rounds`
    # rounds of the fault pattern.
    slow_tickets: int
    storm_rounds: int
    # 4. database cut: events at a steady rate, the connection to PostgreSQL cut once.
    cut_events: int
    cut_rate: float
    cut_seconds: float
    # 5. bad bodies: concurrent unsigned bodies of this size.
    big_bodies: int
    big_body_mb: int
    # How long the outbox may take to deliver what is owed at the end of a scenario. Every
    # ticket's card goes to the one triage channel, which Slack (and so the outbox's pacing)
    # takes about one post a second: the long mode's drain is mostly that queue.
    drain_seconds: float


SHORT = Mode(
    name="short",
    kill_events=24,
    kill_rate=3.0,
    kills=2,
    timer_tickets=8,
    timer_target_seconds=5,
    slow_tickets=12,
    storm_rounds=3,
    cut_events=20,
    cut_rate=5.0,
    cut_seconds=2.5,
    big_bodies=4,
    big_body_mb=50,
    drain_seconds=60.0,
)
LONG = Mode(
    name="long",
    kill_events=300,
    kill_rate=3.0,
    kills=10,
    timer_tickets=120,
    timer_target_seconds=30,
    slow_tickets=150,
    storm_rounds=40,
    cut_events=300,
    cut_rate=3.0,
    cut_seconds=8.0,
    big_bodies=4,
    big_body_mb=50,
    drain_seconds=900.0,
)
MODES = {mode.name: mode for mode in (SHORT, LONG)}


@dataclass
class Report:
    """One scenario's figures on one database, and what in them breaks an invariant."""

    scenario: str
    database: str
    figures: dict[str, Any] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    skipped: str | None = None

    @property
    def ok(self) -> bool:
        return not self.violations

    def require_zero(self, *names: str) -> None:
        for name in names:
            if self.figures.get(name):
                self.violations.append(f"{name} = {self.figures[name]}")

    def require(self, condition: bool, violation: str) -> None:
        if not condition:
            self.violations.append(violation)

    def text(self) -> str:
        head = f"[{self.database}] {self.scenario}"
        if self.skipped:
            return f"{head}: skipped ({self.skipped})"
        figures = ", ".join(f"{name} {_shown(value)}" for name, value in self.figures.items())
        lines = [f"{head} ({self.seconds:.1f} s): {figures}"]
        lines += [f"    note: {note}" for note in self.notes]
        lines += [f"    VIOLATION: {violation}" for violation in self.violations]
        return "\n".join(lines)


def _shown(value: Any) -> str:
    return f"{value:.1f}" if isinstance(value, float) else str(value)


COLUMNS = (
    ("acked", "acked"),
    ("lost", "lost"),
    ("duplicated", "dup"),
    ("owed", "owed"),
    ("delivered", "delivered"),
    ("5xx", "5xx"),
    ("timers missing", "timers missing"),
    ("timers doubled", "timers doubled"),
    ("duplicate posts", "dup posts"),
    ("RSS peak MB", "RSS peak MB"),
)


def table(reports: list[Report]) -> str:
    """The figures as a Markdown table, one row per scenario and database."""
    header = ["scenario", "database", *(title for _, title in COLUMNS), "s", "result"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for report in reports:
        cells = [report.scenario, report.database]
        cells += [
            _shown(report.figures[name]) if name in report.figures else "" for name, _ in COLUMNS
        ]
        cells.append(f"{report.seconds:.0f}")
        cells.append(
            "skipped"
            if report.skipped
            else "ok"
            if report.ok
            else f"{len(report.violations)} violation(s)"
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
