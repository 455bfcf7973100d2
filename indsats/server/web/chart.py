"""The report's chart as inline SVG: one bar per state (median working time in it), a tick at the 90th
percentile. No script, no external file; the table under it on the page carries the same figures for a
screen reader, so the picture is marked as an image with a one-line summary.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from markupsafe import Markup

from indsats.i18n import _

if TYPE_CHECKING:
    from indsats.engine.supervision import PlanSteps

_LABEL, _BAR, _ROW = 230, 420, 30


def median_chart(plan: PlanSteps) -> Markup:
    rows = []
    values = [
        (s.label, _hours(s.median), _hours(s.p90), s.median_text or _("none completed")) for s in plan.states
    ]
    top = max((max(m, p) for _label, m, p, _text in values), default=0.0) or 1.0
    for i, (label, median, p90, text) in enumerate(values):
        y = 6 + i * _ROW
        width = _BAR * median / top
        tick = _LABEL + _BAR * p90 / top
        rows.append(
            f'<text class="chart-label" x="0" y="{y + 17}">{escape(label)}</text>'
            f'<rect class="chart-bar" x="{_LABEL}" y="{y + 4}" width="{width:.1f}" height="{_ROW - 10}"/>'
            + (f'<line class="chart-p90" x1="{tick:.1f}" x2="{tick:.1f}" y1="{y + 1}" y2="{y + _ROW - 3}"/>'
               if p90 else "")
            + f'<text class="chart-value" x="{_LABEL + max(width, tick - _LABEL if p90 else 0) + 8:.1f}" '
            f'y="{y + 17}">{escape(text)}</text>'
        )
    height = 12 + _ROW * len(values)
    summary = _("Median working time in each state for {plan}; the line shows the 90th percentile").format(
        plan=plan.title)
    return Markup(
        f'<svg class="chart" viewBox="0 0 {_LABEL + _BAR + 130} {height}" role="img" '
        f'aria-label="{escape(summary)}"><title>{escape(summary)}</title>{"".join(rows)}</svg>'
    )


def _hours(value: object) -> float:
    from datetime import timedelta

    return value.total_seconds() / 3600 if isinstance(value, timedelta) else 0.0
