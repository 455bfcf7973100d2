"""Plan files on disk: the shipped ``workflows/`` folder and an optional folder from config.

>>> [t.source.rsplit("/", 1)[-1] for t in PlanFolders().plan_texts()]   # doctest: +SKIP
['radikalisering.yaml', 'underretning.yaml']
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from indsats.adapters.files import os_reason
from indsats.i18n import _
from indsats.engine.ports import PlanText
from indsats.errors import Invalid

if TYPE_CHECKING:
    from indsats.engine.plans.schema import Plan

SHIPPED = Path(__file__).resolve().parent.parent / "workflows"


def read_plan_text(path: Path) -> str:
    """The text of one plan file, or ``Invalid`` naming the file."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise Invalid(_("{path}: not a text file (plans are UTF-8 YAML)").format(path=path)) from None
    except OSError as exc:
        raise Invalid(_("{path}: cannot read the plan: {error}").format(path=path, error=os_reason(exc))) from None


def load_plan(path: Path) -> Plan:
    """Load and validate one plan file."""
    from indsats.engine.plans.schema import parse_plan

    return parse_plan(read_plan_text(path), str(path))


class PlanFolders:
    """The shipped plans, then those of ``extra_dir`` (which override a shipped plan of the same id)."""

    def __init__(self, extra_dir: Path | None = None) -> None:
        self.dirs = [SHIPPED] + ([Path(extra_dir)] if extra_dir else [])

    def plan_texts(self) -> list[PlanText]:
        found: list[PlanText] = []
        for directory in self.dirs:
            if not directory.is_dir():
                raise Invalid(_("plans directory {directory} does not exist").format(directory=directory))
            for path in sorted(directory.glob("*.yaml")):
                found.append(PlanText(source=str(path), text=read_plan_text(path)))
        return found
