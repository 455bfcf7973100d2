"""The page ``indsats report --html`` writes: one self-contained HTML file, inline CSS and an inline SVG chart.

Nothing is fetched when it is opened (no network, no CDN, no script), so it can be mailed or archived as is.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from indsats.commands.render import local
from indsats.i18n import _, language

if TYPE_CHECKING:
    from indsats.engine.supervision import PlanSteps, StepReport, StuckCase

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2em; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.n { text-align: right; }
.bar { fill: #4a7ab5; } .label { font-size: 12px; } .value { font-size: 11px; fill: #333; }
"""


def report_page(report: StepReport, stuck: list[StuckCase]) -> str:
    """The whole page as text."""
    beginning = _("the beginning")
    window = f"{local(report.since) if report.since else beginning} – {local(report.until)}"
    title, heading, stuck_heading = _("indsats report"), _("Time in state"), _("Stuck cases ({n})").format(n=len(stuck))
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{escape(language())}"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{escape(heading)}</h1>",
        "<p>" + escape(_("Window: {window} (Europe/Copenhagen). Times are working time.").format(window=window))
        + "</p>",
    ]
    for plan in report.plans:
        parts.append(f"<h2>{escape(plan.title)} ({escape(plan.plan_id)})</h2>")
        parts.append(_chart(plan))
        parts.append(_state_table(plan))
    parts.append(f"<h2>{escape(stuck_heading)}</h2>")
    parts.append(_stuck_table(stuck))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _chart(plan: PlanSteps) -> str:
    """A horizontal bar per state: its median working time in state."""
    label_width, bar_width, row_height = 220, 420, 26
    hours = [
        (s.label, s.median.total_seconds() / 3600 if s.median else 0.0, s.median_text or "–") for s in plan.states
    ]
    top = max((h for _label, h, _text in hours), default=0.0) or 1.0
    height = row_height * len(hours) + 10
    rows = []
    for i, (label, value, text) in enumerate(hours):
        y = 5 + i * row_height
        width = bar_width * value / top
        rows.append(
            f'<text class="label" x="0" y="{y + 16}">{escape(label)}</text>'
            f'<rect class="bar" x="{label_width}" y="{y + 3}" width="{width:.1f}" height="{row_height - 8}"/>'
            f'<text class="value" x="{label_width + width + 6:.1f}" y="{y + 16}">{escape(text)}</text>'
        )
    total_width = label_width + bar_width + 90
    aria = _("Median working time in state, {plan}").format(plan=plan.plan_id)
    return (
        # Inline SVG in HTML needs no namespace declaration (and the page then names no URL at all).
        f'<svg width="{total_width}" height="{height}" role="img" '
        f'aria-label="{escape(aria)}">'
        + "".join(rows)
        + "</svg>"
    )


def _state_table(plan: PlanSteps) -> str:
    head = [_("state"), _("passed"), _("median"), _("90th percentile"), _("on time"), _("breaches"), _("escalations"),
            _("open now")]
    rows = []
    for s in plan.states:
        share = "" if s.on_time_share is None else f"{s.on_time_share:.0%}"
        cells = [escape(s.label), str(s.passed), escape(s.median_text or ""), escape(s.p90_text or ""), share,
                 str(s.breaches), str(s.escalations), str(s.open_now)]
        tds = "".join(f'<td{"" if j == 0 else " class=n"}>{c}</td>' for j, c in enumerate(cells))
        rows.append(f"<tr>{tds}</tr>")
    return _table(head, rows)


def _stuck_table(stuck: list[StuckCase]) -> str:
    head = [_("case"), _("plan"), _("state"), _("must act"), _("deadline"), _("overdue by"), _("level"), _("reminders"),
            _("last activity"), _("reason")]
    rows = []
    for s in stuck:
        who = ", ".join(f"{p.name} ({p.role})" for p in s.must_act)
        cells = [s.case_id, s.plan_id, s.state_label, who, local(s.deadline), s.overdue_text or "",
                 str(s.escalation_level), str(s.reminders_sent), local(s.last_activity_at),
                 _(str(s.reason.value))]  # its value is its message id (a WireEnum through the server)
        rows.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
    return _table(head, rows)


def _table(head: list[str], rows: list[str]) -> str:
    return "<table><tr>" + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr>" + "".join(rows) + "</table>"
