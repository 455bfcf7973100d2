"""The plans on offer (from a ``PlanSource``: the shipped ``workflows/`` folder and one from config).

A case pins its plan's id and version; the text of every version a case has used is kept in the
database, so editing or removing a plan file never changes a running case. A plan file that does not
load (every check ``plans validate`` runs on the plan alone) is not offered: asking for it raises
the ``Invalid`` naming its file, line and field, and the other plans stay available.

A plan version that loaded once is kept in its plain form (``plans/plain.py``) by the ``PlanCache`` the
catalog is given, so later commands on it parse neither YAML nor the schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from indsats.engine.plans.schema import Plan, parse_plan, plan_version
from indsats.errors import Invalid, NotFound
from indsats.i18n import _

if TYPE_CHECKING:
    from indsats.engine.ports import PlanCache, PlanSource
    from indsats.storage.repository import Repository


@dataclass(frozen=True, kw_only=True)
class PlanFile:
    """A plan as found by the source: where, its text, and the parsed plan."""

    path: str
    text: str
    plan: Plan


class PlanCatalog:
    """The plans available for new cases, and every pinned version for running ones."""

    def __init__(self, source: PlanSource, cache: PlanCache | None = None) -> None:
        self.source = source
        self.cache = cache
        self._files: dict[str, PlanFile] | None = None
        self._rejected: dict[str, Invalid] = {}
        self._pinned: dict[tuple[str, str], Plan] = {}

    def files(self) -> dict[str, PlanFile]:
        """Every plan file by plan id; a plan in the configured directory overrides a shipped one."""
        if self._files is None:
            found: dict[str, PlanFile] = {}
            for found_text in self.source.plan_texts():
                try:
                    plan = self._parse(found_text.text, found_text.source)
                except Invalid as exc:
                    # A broken override must not fall back to the shipped plan of the same id.
                    plan_id = _claimed_id(found_text.text, found_text.source)
                    found.pop(plan_id, None)
                    self._rejected[plan_id] = exc
                    continue
                self._rejected.pop(plan.id, None)
                found[plan.id] = PlanFile(path=found_text.source, text=found_text.text, plan=plan)
                self._pinned[(plan.id, plan.version)] = plan
            self._files = found
        return self._files

    def rejected(self) -> list[Invalid]:
        """Why each plan file that did not load is not offered (file, line and field), by plan id."""
        self.files()
        return [self._rejected[plan_id] for plan_id in sorted(self._rejected)]

    def get(self, plan_id: str) -> PlanFile:
        files = self.files()
        if plan_id in self._rejected:
            raise self._rejected[plan_id]
        if plan_id not in files:
            known = ", ".join(sorted(files)) or "none"
            raise NotFound(_("no plan '{plan_id}' (plans: {known})").format(plan_id=plan_id, known=known))
        return files[plan_id]

    def pinned(self, repo: Repository, plan_id: str, version: str) -> Plan:
        """The exact plan version a case was opened under."""
        key = (plan_id, version)
        plan = self._pinned.get(key)
        if plan is None:
            plan = self._cached(plan_id, version)
        if plan is None:
            text = repo.plan_text(plan_id, version)
            if text is None:
                raise NotFound(_("plan '{plan_id}' version {version} is not in the database").format(plan_id=plan_id, version=version))
            if plan_version(text) != version:
                raise Invalid(_("plan '{plan_id}' version {version}: stored text does not match its version").format(plan_id=plan_id, version=version))
            plan = self._parse(text, f"{plan_id}@{version}")
        self._pinned[key] = plan
        return plan

    def _parse(self, text: str, source: str) -> Plan:
        """``parse_plan``, unless this version passed it before (then its plain form, from the cache)."""
        found = self._cached(None, plan_version(text))
        if found is not None:
            return found
        plan = parse_plan(text, source)
        if self.cache is not None:
            from indsats.engine.plans.plain import to_plain

            self.cache.write(_cache_key(plan.version), to_plain(plan))
        return plan

    def _cached(self, plan_id: str | None, version: str) -> Plan | None:
        """The plan of this version (the hash of its text) if it loaded before; ``plan_id`` checked when given."""
        if self.cache is None:
            return None
        text = self.cache.read(_cache_key(version))
        if text is None:
            return None
        from indsats.engine.plans.plain import from_plain

        try:
            plan = from_plain(text)
        except (ValueError, TypeError, KeyError):  # a damaged or foreign entry: parse the text instead
            return None
        return plan if plan.version == version and plan_id in (None, plan.id) else None


def _cache_key(version: str) -> str:
    from indsats.engine.plans.plain import FORM

    return f"plan-{version}-f{FORM}"


def _claimed_id(text: str, source: str) -> str:
    """The id a plan file that did not load says it has, else its file name without ``.yaml``."""
    from indsats.engine.plans.yamlio import load

    try:
        data = load(text)
    except Exception:  # not YAML, or refused: the file name is all there is
        data = None
    claimed = data.get("id") if isinstance(data, dict) else None
    return claimed if isinstance(claimed, str) else source.replace("\\", "/").rsplit("/", 1)[-1].removesuffix(".yaml")
