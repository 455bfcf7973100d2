"""The supervisor's view: which cases are stuck now (``stuck``), and how each state of a plan performs over time
(``report``, from the time in state counted when each state is left).
"""

from indsats.engine.supervision.report import (
    REPORT_ROLES,
    CaseDeadlineStats,
    PlanSteps,
    StateStats,
    StepReport,
    step_report,
)
from indsats.engine.supervision.stuck import StuckCase, StuckReason, export_stuck, iter_stuck, stuck_cases

__all__ = [
    "REPORT_ROLES", "CaseDeadlineStats", "PlanSteps", "StateStats", "StepReport", "StuckCase", "StuckReason",
    "export_stuck", "iter_stuck", "step_report", "stuck_cases",
]
