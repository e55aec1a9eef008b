"""The report's charts, drawn here as inline SVG: no script, no network, prints as is.

Two shapes are enough: a timeline (a metric against its standard over the replay, with
findings, tasks and quota outcomes marked) and paired horizontal bars (recall and
precision per rule). Every text that reaches the SVG goes through ``escape``; numbers
are formatted here, so nothing else can.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup

from rules.formatting import share_text

WIDTH, HEIGHT = 640, 140
_LEFT, _RIGHT, _TOP, _BOTTOM = 48, 12, 14, 22


@dataclass(frozen=True, slots=True)
class Point:
    at: datetime
    value: float | None
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True, slots=True)
class Event:
    at: datetime
    kind: str  # opened, resolved, task
    label: str


@dataclass(frozen=True, slots=True)
class Band:
    start: datetime
    end: datetime
    missed: bool
    label: str


def timeline(
    points: Sequence[Point], events: Sequence[Event], bands: Sequence[Band], title: str
) -> Markup:
    """The metric (solid), its standard (dashed), quota periods (tinted: red missed,
    green made), findings opened (red triangles up), resolved (green down), tasks (dots)."""
    if not points:
        return Markup("")
    first, last = points[0].at, points[-1].at
    span = max((last - first).total_seconds(), 1.0)
    values = [
        v for p in points for v in (p.value, p.minimum, p.maximum) if v is not None
    ]  # fmt: skip
    low, high = min([0.0, *values]), max([1.0, *values]) * 1.1

    def x(at: datetime) -> float:
        inside = min(max((at - first).total_seconds() / span, 0.0), 1.0)
        return _LEFT + inside * (WIDTH - _LEFT - _RIGHT)

    def y(value: float) -> float:
        share = (value - low) / (high - low) if high > low else 0.0
        return HEIGHT - _BOTTOM - share * (HEIGHT - _TOP - _BOTTOM)

    parts = [
        Markup(
            '<svg xmlns="http://www.w3.org/2000/svg" class="timeline" role="img" '
            'viewBox="0 0 {w} {h}" width="{w}" height="{h}"><title>{title}</title>'
        ).format(w=WIDTH, h=HEIGHT, title=title)
    ]
    for band in bands:
        left, right = x(band.start), x(band.end)
        if right <= left:
            continue
        parts.append(
            Markup(
                '<rect class="band {tint}" x="{x:.1f}" y="{y}" width="{w:.1f}" height="{h}">'
                '<title>{label}</title></rect>'
                '<text class="band-label" x="{tx:.1f}" y="{ty}">{label}</text>'
            ).format(
                tint="missed" if band.missed else "made", x=left, y=_TOP, w=right - left,
                h=HEIGHT - _TOP - _BOTTOM, label=band.label, tx=left + 3, ty=_TOP + 10,
            )
        )  # fmt: skip
    parts.append(_axis(low, high))
    for name, pick in (("minimum", _minimum), ("maximum", _maximum)):
        line = _polyline([(x(p.at), y(v)) for p in points if (v := pick(p)) is not None])
        if line:
            parts.append(Markup('<polyline class="standard {}" points="{}"/>').format(name, line))
    line = _polyline([(x(p.at), y(p.value)) for p in points if p.value is not None])
    if line:
        parts.append(Markup('<polyline class="metric" points="{}"/>').format(line))
    for event in events:
        parts.append(_marker(event, x(event.at)))
    parts.append(
        Markup(
            '<text class="date" x="{left}" y="{y}">{first}</text>'
            '<text class="date" x="{right}" y="{y}" text-anchor="end">{last}</text></svg>'
        ).format(
            left=_LEFT, right=WIDTH - _RIGHT, y=HEIGHT - 6, first=f"{first:%Y-%m-%d}",
            last=f"{last:%Y-%m-%d}",
        )
    )  # fmt: skip
    return Markup("").join(parts)


def _minimum(point: Point) -> float | None:
    return point.minimum


def _maximum(point: Point) -> float | None:
    return point.maximum


def _polyline(coordinates: Sequence[tuple[float, float]]) -> str:
    return " ".join(f"{px:.1f},{py:.1f}" for px, py in coordinates)


def _axis(low: float, high: float) -> Markup:
    return Markup(
        '<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{bottom}"/>'
        '<line class="axis" x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}"/>'
        '<text class="tick" x="{tick}" y="{top_text}" text-anchor="end">{high}</text>'
        '<text class="tick" x="{tick}" y="{bottom}" text-anchor="end">{low}</text>'
    ).format(
        left=_LEFT, top=_TOP, bottom=HEIGHT - _BOTTOM, right=WIDTH - _RIGHT, tick=_LEFT - 4,
        top_text=_TOP + 8, high=_short(high), low=_short(low),
    )  # fmt: skip


def _short(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value / 1000:.0f}k"
    return f"{value:.1f}" if abs(value) < 10 else f"{value:.0f}"


_OPENED = Markup(
    '<path class="opened" d="M{x:.1f},{top} l5,9 h-10 z"><title>{label}</title></path>'
)
_RESOLVED = Markup(
    '<path class="resolved" d="M{x:.1f},{low} l5,-9 h-10 z"><title>{label}</title></path>'
)
_TASK = Markup(
    '<circle class="task" cx="{x:.1f}" cy="{base}" r="3"><title>{label}</title></circle>'
)


def _marker(event: Event, px: float) -> Markup:
    shape = {"opened": _OPENED, "resolved": _RESOLVED}.get(event.kind, _TASK)
    return shape.format(
        x=px, top=_TOP + 2, low=_TOP + 11, base=HEIGHT - _BOTTOM - 4, label=event.label
    )


def bars(rows: Sequence[tuple[str, float | None, float | None]]) -> Markup:
    """Per row (label, recall, precision): two bars from 0 to 100%."""
    row_height, label_width, width = 22, 220, 640
    scale = width - label_width - 60
    height = row_height * len(rows) + 20
    parts = [
        Markup(
            '<svg xmlns="http://www.w3.org/2000/svg" class="bars" role="img" '
            'viewBox="0 0 {w} {h}" width="{w}" height="{h}">'
            "<title>Recall and precision per rule</title>"
        ).format(w=width, h=height)
    ]
    for index, (label, recall, precision) in enumerate(rows):
        top = 10 + index * row_height
        parts.append(
            Markup('<text class="bar-label" x="{x}" y="{y}" text-anchor="end">{label}</text>')
            .format(x=label_width - 6, y=top + 13, label=label)
        )  # fmt: skip
        for offset, name, share in ((0, "recall", recall), (9, "precision", precision)):
            parts.append(
                Markup(
                    '<rect class="{name}" x="{x}" y="{y}" width="{w:.1f}" height="8">'
                    "<title>{name} {text}</title></rect>"
                ).format(
                    name=name, x=label_width, y=top + offset,
                    w=0.0 if share is None else share * scale, text=share_text(share),
                )
            )  # fmt: skip
        parts.append(
            Markup('<text class="bar-value" x="{x}" y="{y}">{recall} / {precision}</text>').format(
                x=label_width + scale + 6,
                y=top + 13,
                recall=share_text(recall),
                precision=share_text(precision),
            )
        )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)
