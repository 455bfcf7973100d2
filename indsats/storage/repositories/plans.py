"""Plan versions pinned by the cases that use them: the text a case was opened under, kept verbatim."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select

from indsats.storage.models import plans
from indsats.storage.repositories.base import Queries


class PlanRepository(Queries):
    """Pinned plan texts."""

    def ensure_plan(self, plan_id: str, version: str, text: str, at: datetime) -> None:
        """Pin a plan version's text the first time a case uses it."""
        if self.plan_text(plan_id, version) is None:
            self.conn.execute(
                insert(plans).values(id=plan_id, version=version, text=text, first_used_at=at)
            )

    def plan_text(self, plan_id: str, version: str) -> str | None:
        query = select(plans.c.text).where(plans.c.id == plan_id, plans.c.version == version)
        return self.conn.execute(query).scalar_one_or_none()

    def pinned_versions(self) -> list[tuple[str, str]]:
        """Every (plan id, version) some case was opened under."""
        return [(str(i), str(v)) for i, v in self.conn.execute(select(plans.c.id, plans.c.version).order_by(plans.c.id))]
