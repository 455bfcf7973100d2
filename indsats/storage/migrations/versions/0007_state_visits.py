"""state visits: time in state counted once, when the state is left, for the step report

One row per visit to a state (entered by ``opened``/``advanced``, left by ``advanced``), with its working time
less its pauses, whether it left by its pause-shifted deadline, and its deadline counted from the entry. Existing
cases get their rows from their events here, counted on the installation's calendar (``indsats init`` hands it
in; the default calendar otherwise), exactly as the report counted them from the log before.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "state_visits",
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("entry_seq", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("entered_at", sa.DateTime(), nullable=False),
        sa.Column("deadline_at", sa.DateTime(), nullable=True),
        sa.Column("left_at", sa.DateTime(), nullable=True),
        sa.Column("time_us", sa.BigInteger(), nullable=True),
        sa.Column("on_time", sa.Boolean(), nullable=True),
        sa.Column("paused_us", sa.BigInteger(), nullable=False),
        sa.Column("pauses", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_state_visits_case_id_cases")),
        sa.PrimaryKeyConstraint("case_id", "entry_seq", name=op.f("pk_state_visits")),
    )
    with op.batch_alter_table("state_visits", schema=None) as batch_op:
        batch_op.create_index("ix_state_visits_plan_id_state_time_us",
                              ["plan_id", "state", "time_us", "entered_at", "left_at"], unique=False)
        batch_op.create_index("ix_state_visits_plan_id_state_left_at",
                              ["plan_id", "state", "left_at", "entered_at", "on_time", "paused_us", "pauses"],
                              unique=False)
        batch_op.create_index("ix_state_visits_left_at_entered_at",
                              ["left_at", "entered_at", "pauses", "deadline_at", "plan_id", "state"], unique=False)
    with op.batch_alter_table("case_deadlines", schema=None) as batch_op:
        batch_op.create_index("ix_case_deadlines_started_at_name", ["started_at", "name", "met_at", "due_at"],
                              unique=False)
    _backfill(op.get_bind(), context.config.attributes.get("calendar"))


def _backfill(conn: sa.Connection, calendar: object | None) -> None:
    """Every existing case's visits, replayed from its events (a case at a time: memory stays flat)."""
    from indsats.engine.cases.visits import VISIT_KINDS, replay_visits
    from indsats.engine.plans.schema import parse_plan
    from indsats.engine.time.calendar import WorkingCalendar
    from indsats.storage.models import cases, events, plans, state_visits

    cal = calendar if isinstance(calendar, WorkingCalendar) else WorkingCalendar()
    pinned = {(i, v): parse_plan(text, f"{i}@{v}", complete=False)
              for i, v, text in conn.execute(sa.select(plans.c.id, plans.c.version, plans.c.text))}
    query = (
        sa.select(events.c.case_id, events.c.seq, events.c.kind, events.c.at, events.c.from_state, events.c.to_state,
                  cases.c.plan_id, cases.c.plan_version)
        .join(cases, cases.c.id == events.c.case_id)
        .where(events.c.kind.in_(VISIT_KINDS))
        .order_by(events.c.case_id, events.c.seq)
    )
    rows: list[dict[str, object]] = []
    batch: list[dict[str, object]] = []

    def flush_case() -> None:
        plan = pinned.get((str(rows[0]["plan_id"]), str(rows[0]["plan_version"])))
        if plan is not None:  # a case whose plan text is gone has no figures to give
            batch.extend(replay_visits(plan, rows, cal))

    for row in conn.execute(query).mappings():
        if rows and rows[0]["case_id"] != row["case_id"]:
            flush_case()
            rows = []
        rows.append(dict(row))
        if len(batch) >= 2000:
            conn.execute(sa.insert(state_visits), batch)
            batch = []
    if rows:
        flush_case()
    if batch:
        conn.execute(sa.insert(state_visits), batch)


def downgrade() -> None:
    with op.batch_alter_table("case_deadlines", schema=None) as batch_op:
        batch_op.drop_index("ix_case_deadlines_started_at_name")
    with op.batch_alter_table("state_visits", schema=None) as batch_op:
        batch_op.drop_index("ix_state_visits_left_at_entered_at")
        batch_op.drop_index("ix_state_visits_plan_id_state_left_at")
        batch_op.drop_index("ix_state_visits_plan_id_state_time_us")
    op.drop_table("state_visits")
