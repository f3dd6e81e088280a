"""Charts, drawn once and shown twice: inline SVG on the web dashboard and PNG in Slack.

Drawn with matplotlib's object API (a Figure per chart, no pyplot state, so concurrent
requests never share a figure), imported on first use so that `serve` starts without it. The
SVG keeps its text as text (readable by screen readers and searchable); every chart carries a
plain-words description for its `aria-label` and the PNG's alt text.
"""

from __future__ import annotations

import asyncio
import io
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import orjson

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# Colours with at least 3:1 contrast on white (WCAG 1.4.11 for graphics), told apart by more
# than hue: the previous period is dashed.
CURRENT = "#1d4ed8"
PREVIOUS = "#6b7280"
WARNING = "#b45309"
PALETTE = (CURRENT, WARNING, "#047857", "#7c3aed", PREVIOUS)
# matplotlib is not thread-safe (its font cache and settings are shared): one drawing at a time.
_DRAWING = threading.Lock()
KEPT_DRAWINGS = 256  # about 25 KB each
_DRAWN: OrderedDict[bytes, str] = OrderedDict()


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    kind: Literal["bar", "line"] = "line"
    colour: str | None = None
    dashed: bool = False


@dataclass(frozen=True)
class Chart:
    title: str
    labels: Sequence[str]
    series: Sequence[Series]
    y_label: str = ""
    y_range: tuple[float, float] | None = None
    whole_numbers: bool = False  # counts: no 0.5 ticket on the axis
    description: str = field(default="")

    def to_data(self) -> dict[str, Any]:
        """Plain JSON (what an outbox row carries, to draw the PNG when it is sent)."""
        return {
            "title": self.title,
            "labels": list(self.labels),
            "series": [
                {
                    "name": s.name,
                    "values": list(s.values),
                    "kind": s.kind,
                    "colour": s.colour,
                    "dashed": s.dashed,
                }
                for s in self.series
            ],
            "y_label": self.y_label,
            "y_range": list(self.y_range) if self.y_range else None,
            "whole_numbers": self.whole_numbers,
            "description": self.description,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Chart:
        y_range = data.get("y_range")
        return cls(
            title=str(data["title"]),
            labels=[str(label) for label in data["labels"]],
            series=[
                Series(
                    name=str(s["name"]),
                    values=[None if v is None else float(v) for v in s["values"]],
                    kind="bar" if s.get("kind") == "bar" else "line",
                    colour=s.get("colour"),
                    dashed=bool(s.get("dashed")),
                )
                for s in data["series"]
            ],
            y_label=str(data.get("y_label") or ""),
            y_range=(float(y_range[0]), float(y_range[1])) if y_range else None,
            whole_numbers=bool(data.get("whole_numbers")),
            description=str(data.get("description") or ""),
        )

    @property
    def alt_text(self) -> str:
        """What the chart shows, in words, for those who cannot see it."""
        if self.description:
            return self.description
        parts = []
        for series in self.series:
            pairs = zip(series.values, self.labels, strict=False)
            points = [(v, label) for v, label in pairs if v is not None]
            if not points:
                continue
            top, at = max(points, key=lambda point: point[0])
            if series.kind == "bar":
                total = sum(v for v, _ in points)
                parts.append(f"{series.name}: {_number(total)} in all, most {_number(top)} on {at}")
            else:
                parts.append(
                    f"{series.name}: from {_number(points[0][0])} to {_number(points[-1][0])},"
                    f" highest {_number(top)} on {at}"
                )
        span = f" ({self.labels[0]} to {self.labels[-1]})" if self.labels else ""
        return f"{self.title}{span}. " + "; ".join(parts) if parts else f"{self.title}: no data."


async def svgs(charts: Sequence[Chart], **size: float) -> list[str]:
    """Several charts as SVG, drawn on a worker thread: drawing takes tens of milliseconds of
    CPU a chart, which on the event loop would hold back every other request (Slack's
    included) meanwhile."""
    return await asyncio.to_thread(lambda: [render_svg(chart, **size) for chart in charts])


async def png(chart: Chart) -> bytes:
    """`render_png` on a worker thread (see `svgs`)."""
    return await asyncio.to_thread(render_png, chart)


def render_svg(chart: Chart, *, width: float = 8.0, height: float = 3.2) -> str:
    """The chart as an `<svg>` element (no XML prolog), to put inside a page. The same data
    draws the same SVG, so the last ones drawn are kept: a report's charts change only when
    its numbers do (past days seldom; today's every 15 minutes), and several people open it."""
    from matplotlib.backends.backend_svg import FigureCanvasSVG

    key = orjson.dumps([chart.to_data(), width, height], option=orjson.OPT_SORT_KEYS)
    with _DRAWING:
        drawn = _DRAWN.get(key)
        if drawn is not None:
            _DRAWN.move_to_end(key)
            return drawn
        buffer = io.StringIO()
        FigureCanvasSVG(_draw(chart, width, height)).print_svg(buffer)
        text = buffer.getvalue()
        drawn = text[text.index("<svg") :]
        _DRAWN[key] = drawn
        if len(_DRAWN) > KEPT_DRAWINGS:
            _DRAWN.popitem(last=False)
    return drawn


def render_png(chart: Chart, *, width: float = 8.0, height: float = 3.6, dpi: int = 120) -> bytes:
    """The chart as PNG bytes (for Slack, which shows images, not SVG)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    buffer = io.BytesIO()
    with _DRAWING:
        figure = _draw(chart, width, height)
        figure.set_dpi(dpi)
        FigureCanvasAgg(figure).print_png(buffer)
    return buffer.getvalue()


def _draw(chart: Chart, width: float, height: float) -> Figure:
    import matplotlib

    matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text
    from matplotlib.figure import Figure

    # Fixed margins, in inches turned into fractions: a layout engine would measure every label
    # first, which is half the cost of drawing the chart.
    figure = Figure(figsize=(width, height))
    figure.subplots_adjust(
        left=0.75 / width, right=1 - 0.15 / width, top=1 - 0.4 / height, bottom=0.45 / height
    )
    axes = figure.add_subplot()
    positions = list(range(len(chart.labels)))
    bars = [s for s in chart.series if s.kind == "bar"]
    bar_width = 0.8 / max(len(bars), 1)
    for index, series in enumerate(chart.series):
        colour = series.colour or PALETTE[index % len(PALETTE)]
        values = [math.nan if v is None else float(v) for v in series.values]
        if series.kind == "bar":
            offset = (bars.index(series) - (len(bars) - 1) / 2) * bar_width
            axes.bar(
                [p + offset for p in positions],
                values,
                width=bar_width,
                color=colour,
                label=series.name,
                hatch="//" if series.dashed else None,
                edgecolor="white" if series.dashed else None,
            )
        else:
            axes.plot(
                positions,
                values,
                color=colour,
                label=series.name,
                linestyle="--" if series.dashed else "-",
                marker="o" if len(positions) <= 31 else None,
                markersize=3,
                linewidth=1.8,
            )
    axes.set_title(chart.title, loc="left", fontsize=11)
    if chart.y_label:
        axes.set_ylabel(chart.y_label, fontsize=9)
    if chart.y_range is not None:
        axes.set_ylim(*chart.y_range)
    else:
        axes.set_ylim(bottom=0, top=max(_highest(chart), 1) * 1.1)
    if chart.whole_numbers:
        from matplotlib.ticker import MaxNLocator

        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    step = max(1, math.ceil(len(positions) / 12))
    axes.set_xticks(positions[::step], [chart.labels[p] for p in positions[::step]], fontsize=8)
    axes.tick_params(axis="y", labelsize=8)
    axes.grid(axis="y", color="#e5e7eb", linewidth=0.8)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    if len(chart.series) > 1:
        axes.legend(fontsize=8, frameon=False, loc="upper left")
    return figure


def _highest(chart: Chart) -> float:
    known = [v for series in chart.series for v in series.values if v is not None]
    return max(known, default=0.0)


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 10 or value == int(value) else f"{value:.1f}"
