"""The citizen's right of access (GDPR art. 15; C-579/21): everything held about one subject reference,
with the access log about it, found through the subject index (no other case is decrypted)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from indsats.engine.cases.views import log_view
from indsats.engine.privacy.crypto import open_payload
from indsats.engine.log.events import EventKind
from indsats.engine.org.users import User, require_admin

if TYPE_CHECKING:
    from indsats.engine.context import Context

PURPOSE = "sagsbehandling efter indsatsplanen"


@dataclass(frozen=True, kw_only=True)
class SubjectExport:
    cases: list[str]
    file: str


def export_subject(ctx: Context, *, actor: str, subject_ref: str, path: Path, with_names: bool = False) -> SubjectExport:
    cipher = ctx.keys.cipher()
    with ctx.db.unit_of_work(write=True) as uow:
        repo = uow.repo
        me = require_admin(repo, actor)
        users = {u["login"]: u for u in repo.list_users()}

        def who(login: str | None) -> str | None:
            if login is None:
                return None
            user = users.get(login)
            if user is None:
                return "?"
            role = User.from_row(user, repo.grants_of(login)).what
            return f"{user['name']} ({role})" if with_names else role

        # Under every key held: during a key rotation some cases carry the new key's index, some the old's.
        cases = sorted({c.id: c for index in cipher.indices(subject_ref)
                        for c in repo.cases_by_subject_index(index)}.values(), key=lambda c: c.id)
        out: list[dict[str, Any]] = []
        for case in cases:
            events = repo.events_for(case.id)
            out.append(
                {
                    "case_id": case.id,
                    "plan": case.plan_id,
                    "state": case.state,
                    "opened_at": case.opened_at,
                    "closed_at": case.closed_at,
                    "source": case.source,
                    "subject_ref": None if case.subject_ref is None else cipher.open(case.subject_ref),
                    "events": [
                        {
                            "at": e["at"],
                            "kind": e["kind"],
                            "by": who(e["actor"]),
                            "trigger": e["trigger"],
                            "state": e["to_state"],
                            "details": open_payload(e["payload"], cipher),
                        }
                        for e in events
                        if e["kind"] != EventKind.viewed.value
                    ],
                    "access_log": [
                        {"at": e["at"], "by": who(e["actor"]), "what": f"indsats {(e['payload'] or {}).get('command', '?')}",
                         "purpose": PURPOSE}
                        for e in events
                        if e["kind"] == EventKind.viewed.value
                    ],
                }
            )
        ctx.private_files().write_private_json(
            path,
            {
                "format": "indsats-subject-export/1",
                "subject_ref": subject_ref,
                "exported_by": me.login,
                "exported_at": ctx.clock.now().isoformat(),
                "employee_names": with_names,
                "cases": out,
            },
        )
        for case in cases:  # the whole record left in plaintext: the access log says who took it, and when
            log_view(repo, case, me.login, "subject export", ctx.clock.now(), os_login=ctx.os_login)
        uow.commit()
    return SubjectExport(cases=[c["case_id"] for c in out], file=str(path))
