"""Where plans come from: the shipped ``workflows/`` folder and an optional directory from config.

A case pins its plan's id and version; the text of every version a case has used is kept in the
database, so editing or removing a plan file never changes a running case.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from indsats.engine.plan import Plan, parse_plan, plan_version
from indsats.errors import Invalid, NotFound

if TYPE_CHECKING:
    from indsats.storage.repository import Repository

SHIPPED = Path(__file__).resolve().parent.parent / "workflows"


@dataclass(frozen=True, kw_only=True)
class PlanFile:
    """A plan as found on disk: where, its text, and the parsed plan."""

    path: Path
    text: str
    plan: Plan


class PlanCatalog:
    """The plans available for new cases, and every pinned version for running ones."""

    def __init__(self, extra_dir: Path | None = None) -> None:
        self.dirs = [SHIPPED] + ([extra_dir] if extra_dir else [])
        self._files: dict[str, PlanFile] | None = None
        self._pinned: dict[tuple[str, str], Plan] = {}

    def files(self) -> dict[str, PlanFile]:
        """Every plan file by plan id; a plan in the configured directory overrides a shipped one."""
        if self._files is None:
            found: dict[str, PlanFile] = {}
            for directory in self.dirs:
                if not directory.is_dir():
                    raise Invalid(f"plans directory {directory} does not exist")
                for path in sorted(directory.glob("*.yaml")):
                    text = path.read_text(encoding="utf-8")
                    plan = parse_plan(text, str(path))
                    found[plan.id] = PlanFile(path=path, text=text, plan=plan)
                    self._pinned[(plan.id, plan.version)] = plan
            self._files = found
        return self._files

    def get(self, plan_id: str) -> PlanFile:
        files = self.files()
        if plan_id not in files:
            known = ", ".join(sorted(files)) or "none"
            raise NotFound(f"no plan '{plan_id}' (plans: {known})")
        return files[plan_id]

    def pinned(self, repo: Repository, plan_id: str, version: str) -> Plan:
        """The exact plan version a case was opened under."""
        key = (plan_id, version)
        plan = self._pinned.get(key)
        if plan is None:
            text = repo.plan_text(plan_id, version)
            if text is None:
                raise NotFound(f"plan '{plan_id}' version {version} is not in the database")
            plan = parse_plan(text, f"{plan_id}@{version}")
            if plan_version(text) != version:
                raise Invalid(f"plan '{plan_id}' version {version}: stored text does not match its version")
            self._pinned[key] = plan
        return plan
