"""The read-only pages: my tasks, the stuck list (and its CSV export), the report, one case.

Each handler parses the query, calls one engine use case with the session's login as the actor, and renders
a template. Need-to-know is the engine's: a case the actor may not see is ``NotFound`` there, a 404 here.
A case page is logged by ``case_page`` (one ``viewed`` event, ``via: web``), the CSV by ``export_stuck``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.routing import Route

from indsats.engine.cases.views import case_page_history
from indsats.engine.cases.tasks import my_tasks
from indsats.engine.supervision import export_stuck, step_report, stuck_cases
from indsats.engine.time.clock import parse_time
from indsats.engine.time.durations import parse_duration
from indsats.errors import Invalid, NotAllowed
from indsats.i18n import N_, _
from indsats.server.web.chart import median_chart

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from starlette.requests import Request

    from indsats.engine.context import Context

VIA = "web"
# The CSV's header, in the reader's language (a spreadsheet's columns, read by people).
CSV_COLUMNS = [N_("case"), N_("plan"), N_("state"), N_("must act"), N_("role"), N_("deadline"), N_("overdue by"),
               N_("level"), N_("reminders"), N_("last activity"), N_("failed"), N_("reason")]


@dataclass(frozen=True, kw_only=True)
class StuckFilters:
    """The filters of ``indsats stuck``, as the form sends them (empty fields are no filter)."""

    at: str = ""
    plan: str = ""
    unit: str = ""
    role: str = ""
    overdue_by: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_query(cls, request: Request) -> StuckFilters:
        q = request.query_params
        return cls(at=q.get("at", "").strip(), plan=q.get("plan", "").strip(), unit=q.get("unit", "").strip(),
                   role=q.get("role", "").strip(), overdue_by=q.get("overdue_by", "").strip())

    def arguments(self) -> dict[str, Any]:
        """The use case's keyword arguments; ``Invalid`` names the field that is wrong."""
        found: dict[str, Any] = {"plan_id": self.plan or None, "unit": self.unit or None, "role": self.role or None}
        found["at"] = None if not self.at else _field("at", parse_time, self.at)
        found["overdue_by"] = None if not self.overdue_by else _field("overdue_by", parse_duration, self.overdue_by)
        return found

    def query(self) -> str:
        from urllib.parse import urlencode

        return urlencode({k: v for k, v in self.__dict__.items() if k != "errors" and v})


class FieldError(Invalid):
    """A filter the form must show next to its field."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.field = name


def _field(name: str, parse: Callable[[str], Any], text: str) -> Any:
    try:
        return parse(text)
    except Invalid as exc:
        raise FieldError(name, str(exc)) from None




def page_routes(
    context: Callable[[], Context],
    login_of: Callable[[Request], Awaitable[tuple[str, Any]]],
    render: Callable[..., Response],
) -> list[Route]:
    """The pages; ``login_of`` gives the signed-in login and user (or raises), ``render`` fills a template."""

    async def tasks(request: Request) -> Response:
        login, me = await login_of(request)
        items = await run_in_threadpool(my_tasks, context(), actor=login)
        return render(request, "tasks.html", {"me": me, "items": items})

    async def stuck(request: Request) -> Response:
        login, me = await login_of(request)
        filters = StuckFilters.from_query(request)
        found: list[Any] = []
        errors: dict[str, str] = {}
        allowed = True
        try:
            found = await run_in_threadpool(stuck_cases, context(), actor=login, **filters.arguments())
        except FieldError as exc:
            errors[exc.field] = str(exc)
        except NotAllowed:  # who may ask is the engine's rule; the page only says no
            allowed = False
        plans = sorted(context().catalog.files())
        status = 400 if errors else 403 if not allowed else 200
        return render(request, "stuck.html", {"me": me, "found": found, "filters": filters, "errors": errors,
                                              "plans": plans, "allowed": allowed}, status)

    async def stuck_csv(request: Request) -> Response:
        login, _me = await login_of(request)
        filters = StuckFilters.from_query(request)
        found = await run_in_threadpool(export_stuck, context(), actor=login, via=VIA, **filters.arguments())
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow([_(column) for column in CSV_COLUMNS])
        writer.writerows(
            [_cell(v) for v in (
                s.case_id, s.plan_id, s.state_label, ", ".join(f"{p.name} ({p.login})" for p in s.must_act),
                ", ".join(sorted({p.role for p in s.must_act})), _local(s.deadline), s.overdue_text or "",
                s.escalation_level, s.reminders_sent, _local(s.last_activity_at), s.failed_reminders, s.reason.text(),
            )]
            for s in found
        )
        return Response(
            buffer.getvalue(), media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="{name}"'.format(name=_("stuck-cases.csv"))},
        )

    async def report(request: Request) -> Response:
        login, me = await login_of(request)
        q = request.query_params
        chosen = {name: q.get(name, "").strip() for name in ("plan", "since", "until")}
        result = await run_in_threadpool(
            step_report, context(), actor=login, plan_id=chosen["plan"] or None,
            since=parse_day(chosen["since"], "since"), until=parse_day(chosen["until"], "until"),
        )
        charts = {p.plan_id: median_chart(p) for p in result.plans}
        return render(request, "report.html", {"me": me, "report": result, "charts": charts, "chosen": chosen,
                                               "plans": sorted(context().catalog.files())})

    async def case(request: Request) -> Response:
        login, me = await login_of(request)
        case_id = request.path_params["case_id"]
        view, history = await run_in_threadpool(case_page_history, context(), actor=login, case_id=case_id, via=VIA)
        return render(request, "case.html", {"me": me, "case": view, "history": history})

    return [
        Route("/", tasks, methods=["GET"]),
        Route("/stuck", stuck, methods=["GET"]),
        Route("/stuck.csv", stuck_csv, methods=["GET"]),
        Route("/report", report, methods=["GET"]),
        Route("/cases/{case_id}", case, methods=["GET"]),
    ]


def parse_day(text: str | None, name: str) -> date | None:
    """A ``since``/``until`` day (YYYY-MM-DD), or ``Invalid``; empty is none."""
    if not text or not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise Invalid(_("bad date '{text}' for {option}: use YYYY-MM-DD, e.g. 2026-03-02").format(
            text=text.strip(), option=name)) from None


def _local(value: Any) -> str:
    from indsats.engine.time.clock import to_local

    return "" if value is None else to_local(value).strftime("%Y-%m-%d %H:%M")


def _cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run: text starting like a formula gets a leading apostrophe."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
