"""Activations and disconnections per month, as an SVG drawn on the server: no chart library and
no script, readable by screen readers (each bar has a title, the figure a text summary)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 960, 240, 40, 36, 12
SERIES = (
    ("activations", "Activations", "bar-activations"),
    ("disconnections", "Disconnections", "bar-disconnections"),
)


def months(start: datetime, end: datetime) -> list[str]:
    """Every month the period [start, end) touches, as YYYY-MM."""
    last = end - timedelta(microseconds=1)
    year, month = start.year, start.month
    found = []
    while (year, month) <= (last.year, last.month):
        found.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


def by_month(times: Iterable[str], tz: ZoneInfo) -> Counter[str]:
    return Counter(
        datetime.fromisoformat(value).astimezone(tz).strftime("%Y-%m") for value in times
    )


def monthly_chart(labels: list[str], counts: dict[str, Counter[str]]) -> Markup:
    peak = max([1, *(counts[key][label] for key, _, _ in SERIES for label in labels)])
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    slot = plot_w / max(1, len(labels))
    bar = max(2.0, slot * 0.35)
    parts = [
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="chart-title chart-desc" class="chart">',
        '<title id="chart-title">Activations and disconnections per month</title>',
        f'<desc id="chart-desc">{escape(_summary(labels, counts))}</desc>',
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - 8}" y2="{TOP + plot_h}" class="axis"/>',
        f'<text x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end" class="tick">{peak}</text>',
        f'<text x="{LEFT - 6}" y="{TOP + plot_h}" text-anchor="end" class="tick">0</text>',
    ]
    for index, label in enumerate(labels):
        x0 = LEFT + index * slot + (slot - 2 * bar) / 2
        for offset, (key, name, css) in enumerate(SERIES):
            value = counts[key][label]
            height = plot_h * value / peak
            parts.append(
                f'<rect x="{x0 + offset * bar:.1f}" y="{TOP + plot_h - height:.1f}" width="{bar:.1f}" '
                f'height="{height:.1f}" class="{css}"><title>{name} in {label}: {value}</title></rect>'
            )
        parts.append(
            f'<text x="{LEFT + index * slot + slot / 2:.1f}" y="{HEIGHT - BOTTOM + 16}" '
            f'text-anchor="middle" class="tick">{label}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _summary(labels: list[str], counts: dict[str, Counter[str]]) -> str:
    return "; ".join(
        f"{label}: {counts['activations'][label]} activations, {counts['disconnections'][label]} disconnections"
        for label in labels
    )
