"""An account's health, 0-100, from its support signals, with every point explained. Pure: no
I/O, no clock (app/accounts/signals.py gathers the signals; app/accounts/scoring.py stores
the result).

The score starts at 100 and each signal takes away up to its weight, growing with how bad the
signal is and never shrinking as it gets worse, so the score is monotone in every signal and
always within 0-100. A signal with no data (no ratings yet, no earlier volume to compare with)
takes nothing away and says so. The weights are the points each signal may cost at most; the
defaults add up to more than 100 because an account rarely goes wrong in every way at once.

| signal | costs nothing when | costs its whole weight when |
|---|---|---|
| CSAT, last 90 days | average 5/5 | average 1/5 |
| CSAT trend | not lower than the 90 days before | 2 points lower or more |
| NPS, last 180 days | +50 or more | -100 |
| SLA breaches, last 30 days | none | 5 or more |
| reopened tickets, last 90 days | none reopened | half of those resolved, or more |
| volume, last 30 days | at most its own usual (30-day average, 180 days before) | 3x that |
| oldest open ticket | 7 days or younger | 30 days or older |
| quiet ("champions gone quiet") | wrote in the last 30 days | nobody wrote for 90 days |
| contacts who left its channels, last 30 days | none | 3 or more |
| urgent tickets, last 30 days | none | 3 or more |
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

MAX_SCORE = 100


@dataclass(frozen=True)
class Signals:
    """What an account's support says about it, as of one day."""

    csat_average: float | None = None  # 1-5, ratings of the last 90 days
    csat_previous: float | None = None  # 1-5, ratings of the 90 days before those
    nps: float | None = None  # -100..100, answers of the last 180 days
    breaches: int = 0  # SLA targets breached in the last 30 days
    resolved: int = 0  # tickets resolved in the last 90 days
    reopened: int = 0  # ... and reopened in the same 90 days
    tickets: int = 0  # tickets opened in the last 30 days
    baseline: float | None = None  # tickets per 30 days over the 180 days before those
    oldest_open_days: float = 0.0  # age of its oldest open ticket
    quiet_days: float | None = None  # since its people last wrote; None: they never have
    contacts_left: int = 0  # its contacts who left its channels in the last 30 days
    urgent: int = 0  # urgent tickets opened in the last 30 days

    def as_dict(self) -> dict[str, Any]:
        return {field.name: getattr(self, field.name) for field in fields(self)}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Signals:
        known = {field.name for field in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})


@dataclass(frozen=True)
class Weights:
    """The most points each signal may take away (HEALTH_WEIGHTS overrides any of them)."""

    csat: float = 25
    csat_trend: float = 10
    nps: float = 20
    breaches: float = 20
    reopens: float = 10
    volume: float = 10
    open_age: float = 10
    quiet: float = 15
    contacts_left: float = 10
    urgent: float = 10


@dataclass(frozen=True)
class Reason:
    """One signal's part in the score: points taken away (0 or less) and why, in words."""

    signal: str
    points: int
    why: str

    def __str__(self) -> str:
        return f"{self.why}: {_signed(self.points)}" if self.points else self.why

    def as_dict(self) -> dict[str, Any]:
        return {"signal": self.signal, "points": self.points, "why": self.why}


@dataclass(frozen=True)
class Health:
    score: int
    reasons: tuple[Reason, ...]

    @property
    def costs(self) -> tuple[Reason, ...]:
        """The reasons that took points away, the heaviest first."""
        return tuple(sorted((r for r in self.reasons if r.points), key=lambda r: r.points))


def score(signals: Signals, weights: Weights | None = None) -> Health:
    """The account's health from its signals (see the module's table)."""
    weights = weights or Weights()
    reasons = tuple(rule(signals, weights) for rule in _RULES)
    lost = sum(-reason.points for reason in reasons)
    return Health(score=max(0, min(MAX_SCORE, MAX_SCORE - lost)), reasons=reasons)


# -- one rule per signal: (signals, weights) -> Reason ---------------------------------------


def _share(value: float, *, free: float, full: float) -> float:
    """How much of its weight a signal costs: 0 at `free` (or better), 1 at `full` (or worse),
    linear between; `full` may be above or below `free`."""
    if full == free:
        return 0.0
    part = (value - free) / (full - free)
    return max(0.0, min(1.0, part))


def _cost(weight: float, share: float) -> int:
    return -round(weight * share)


def _csat(s: Signals, w: Weights) -> Reason:
    if s.csat_average is None:
        return Reason("csat", 0, "No CSAT ratings in 90 days")
    points = _cost(w.csat, _share(s.csat_average, free=5, full=1))
    return Reason("csat", points, f"CSAT {s.csat_average:.1f}/5 over 90 days")


def _csat_trend(s: Signals, w: Weights) -> Reason:
    if s.csat_average is None or s.csat_previous is None:
        return Reason("csat_trend", 0, "No CSAT trend yet")
    drop = s.csat_previous - s.csat_average
    points = _cost(w.csat_trend, _share(drop, free=0, full=2))
    if drop > 0:
        why = f"CSAT down {drop:.1f} from {s.csat_previous:.1f} the 90 days before"
    else:
        why = f"CSAT not lower than the 90 days before ({s.csat_previous:.1f})"
    return Reason("csat_trend", points, why)


def _nps(s: Signals, w: Weights) -> Reason:
    if s.nps is None:
        return Reason("nps", 0, "No NPS answers in 180 days")
    points = _cost(w.nps, _share(s.nps, free=50, full=-100))
    return Reason("nps", points, f"NPS {s.nps:+.0f}")


def _breaches(s: Signals, w: Weights) -> Reason:
    points = _cost(w.breaches, _share(s.breaches, free=0, full=5))
    return Reason("breaches", points, f"{_count(s.breaches, 'SLA breach', 'es')} in 30 days")


def _reopens(s: Signals, w: Weights) -> Reason:
    if s.resolved == 0:
        return Reason("reopens", 0, "Nothing resolved in 90 days")
    rate = min(s.reopened, s.resolved) / s.resolved
    points = _cost(w.reopens, _share(rate, free=0, full=0.5))
    return Reason(
        "reopens", points, f"{s.reopened} of {s.resolved} resolved tickets reopened in 90 days"
    )


def _volume(s: Signals, w: Weights) -> Reason:
    if s.baseline is None or s.baseline <= 0:
        return Reason("volume", 0, f"{_count(s.tickets, 'ticket')} in 30 days (no baseline yet)")
    ratio = s.tickets / s.baseline
    points = _cost(w.volume, _share(ratio, free=1, full=3))
    return Reason(
        "volume",
        points,
        f"{_count(s.tickets, 'ticket')} in 30 days against its usual {s.baseline:.1f}",
    )


def _open_age(s: Signals, w: Weights) -> Reason:
    days = s.oldest_open_days
    points = _cost(w.open_age, _share(days, free=7, full=30))
    if days <= 0:
        return Reason("open_age", points, "No open tickets")
    return Reason("open_age", points, f"Oldest open ticket {days:.0f} days old")


def _quiet(s: Signals, w: Weights) -> Reason:
    if s.quiet_days is None:
        return Reason("quiet", 0, "Has not written yet")
    points = _cost(w.quiet, _share(s.quiet_days, free=30, full=90))
    return Reason("quiet", points, f"Last wrote {s.quiet_days:.0f} days ago")


def _contacts_left(s: Signals, w: Weights) -> Reason:
    points = _cost(w.contacts_left, _share(s.contacts_left, free=0, full=3))
    return Reason(
        "contacts_left",
        points,
        f"{_count(s.contacts_left, 'contact')} left its channels in 30 days",
    )


def _urgent(s: Signals, w: Weights) -> Reason:
    points = _cost(w.urgent, _share(s.urgent, free=0, full=3))
    return Reason("urgent", points, f"{_count(s.urgent, 'urgent ticket')} in 30 days")


_RULES: tuple[Callable[[Signals, Weights], Reason], ...] = (
    _csat,
    _csat_trend,
    _nps,
    _breaches,
    _reopens,
    _volume,
    _open_age,
    _quiet,
    _contacts_left,
    _urgent,
)


def _count(n: int, noun: str, plural: str = "s") -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}{plural}"


def _signed(points: int) -> str:
    return f"{points}" if points < 0 else f"+{points}"
