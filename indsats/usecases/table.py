"""Every use case the command line can ask for, by name: one line each (see ``indsats.usecases``).

The names are the API's routes (``POST /v1/NAME`` on ``indsats server``) and what commands pass to ``Obj.run``.
``reads=True`` marks a use case that writes nothing (see ``UseCase``); one not marked is served as a writer;
``batches=True`` one whose concurrent requests the server may commit together (group commit).
"""

from __future__ import annotations

from indsats.usecases import UseCase

_A = "indsats.usecases.adapted:"

USE_CASES: dict[str, UseCase] = {
    # cases
    "open": UseCase("indsats.engine.cases.service:open_case"),
    "advance": UseCase(_A + "advance", style="call", batches=True),
    "note": UseCase("indsats.engine.cases.service:add_note"),
    "show": UseCase("indsats.engine.cases.views:show_case"),
    "history": UseCase("indsats.engine.cases.views:case_history"),
    "history.read": UseCase("indsats.engine.cases.record:read_history"),
    "cases": UseCase("indsats.engine.cases.views:list_cases", reads=True),
    "verify": UseCase(_A + "verify", style="call", reads=True),
    "pause": UseCase("indsats.engine.cases.pause:pause_case"),
    "resume": UseCase("indsats.engine.cases.pause:resume_case"),
    "assign": UseCase("indsats.engine.cases.assign:assign_case"),
    "tasks": UseCase("indsats.engine.cases.tasks:my_tasks", reads=True),
    # people
    "users.add": UseCase("indsats.engine.org.users:add_user"),
    "users.list": UseCase("indsats.engine.org.users:list_users", reads=True),
    "users.grant": UseCase("indsats.engine.org.grants:grant_role"),
    "users.revoke": UseCase("indsats.engine.org.grants:revoke_role"),
    "users.edit": UseCase("indsats.engine.org.users:edit_user"),
    "users.deactivate": UseCase("indsats.engine.org.handover:deactivate_user"),
    "users.reactivate": UseCase("indsats.engine.org.users:reactivate_user"),
    "users.deputy": UseCase(_A + "users_deputy", style="call"),
    # plans
    "plans.list": UseCase(_A + "plans_list", style="call", reads=True),
    "plans.sources": UseCase(_A + "plans_sources", style="call", reads=True),
    "plans.check": UseCase(_A + "plans_check", style="call", reads=True),
    "plans.show": UseCase(_A + "plans_show", style="call", reads=True),
    "plans.validate": UseCase(_A + "plans_validate", style="call", reads=True),
    "plans.export": UseCase(_A + "plans_export", style="call", reads=True),
    "plans.graph": UseCase(_A + "plans_graph", style="call", reads=True),
    # reminders, calendar, supervision
    "remind": UseCase(_A + "remind", style="call"),
    "calendar.due": UseCase(_A + "calendar_due", style="call", reads=True),
    "calendar.closed": UseCase(_A + "calendar_closed", style="call", reads=True),
    "stuck": UseCase(_A + "stuck", style="call", streams=True, reads=True),
    "report": UseCase(_A + "report", style="call", reads=True),
    # data protection
    "audit.case": UseCase("indsats.engine.privacy.access_log:audit_case", reads=True),
    "audit.user": UseCase("indsats.engine.privacy.access_log:audit_user", reads=True),
    "access.review": UseCase("indsats.engine.privacy.access_log:access_review", reads=True),
    "access.sample": UseCase("indsats.engine.privacy.access_log:sample_access", reads=True),
    "archive.export": UseCase(_A + "archive_export", style="call"),
    "purge": UseCase("indsats.engine.privacy.retention:purge"),
    "subject.export": UseCase(_A + "subject_export", style="call"),
    # the log's seal and the installation's state: admins, through a server too
    "seal": UseCase(_A + "seal", style="call"),
    "health": UseCase(_A + "health", style="call", reads=True),
    "db.status": UseCase(_A + "db_status", style="call", reads=True),
    # the service user's own tasks, on the database itself
    "backup": UseCase(_A + "backup", style="call", direct_only=True),
}
