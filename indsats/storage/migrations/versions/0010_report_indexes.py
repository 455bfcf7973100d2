"""report indexes: the step report's counts at a million cases read index entries in the order they are asked for

Measured on 1,000,000 cases (300,000 open, 850,000 case deadlines), SQLite, each query alone:

- late open visits per plan and state: ``ix_state_visits_left_at_plan_id_state`` (left_at, plan_id, state, …)
  groups the visits not left as the index holds them, where (left_at, entered_at, …) sorted all 300,000 first:
  380 → 150 ms;
- case deadlines per name: ``ix_case_deadlines_name_started_at`` reads one name's entries only, where
  (started_at, name, …) read every deadline's for each name (a name no case has: 110 → 0 ms);
- running case deadlines: ``ix_case_deadlines_met_at_due_at_started_at`` holds what the count needs of an unmet
  deadline, and ``ix_cases_id_is_open_plan_id`` whether its case is open and its plan, so neither table's rows
  are read: 470 → 135 ms.

Whole process, ``indsats report`` at 1,000,000 cases: 2.4 → 1.75 s (the same output). SQLite writes the cases
index only when a case is opened or closed; PostgreSQL writes it, like every index of ``cases``, on each update
that changes an indexed column (state and deadline change with each advance): one index entry more a transition.
The other indexes change as their rows do today.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("state_visits", schema=None) as batch_op:
        batch_op.drop_index("ix_state_visits_left_at_entered_at")
        batch_op.create_index("ix_state_visits_left_at_plan_id_state",
                              ["left_at", "plan_id", "state", "entered_at", "pauses", "deadline_at"], unique=False)
    with op.batch_alter_table("case_deadlines", schema=None) as batch_op:
        batch_op.drop_index("ix_case_deadlines_started_at_name")
        batch_op.create_index("ix_case_deadlines_name_started_at", ["name", "started_at", "met_at", "due_at"],
                              unique=False)
        batch_op.drop_index("ix_case_deadlines_met_at_due_at")
        batch_op.create_index("ix_case_deadlines_met_at_due_at_started_at",
                              ["met_at", "due_at", "started_at", "name", "case_id"], unique=False)
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_id_is_open_plan_id", ["id", "is_open", "plan_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_id_is_open_plan_id")
    with op.batch_alter_table("case_deadlines", schema=None) as batch_op:
        batch_op.drop_index("ix_case_deadlines_met_at_due_at_started_at")
        batch_op.create_index("ix_case_deadlines_met_at_due_at", ["met_at", "due_at"], unique=False)
        batch_op.drop_index("ix_case_deadlines_name_started_at")
        batch_op.create_index("ix_case_deadlines_started_at_name", ["started_at", "name", "met_at", "due_at"],
                              unique=False)
    with op.batch_alter_table("state_visits", schema=None) as batch_op:
        batch_op.drop_index("ix_state_visits_left_at_plan_id_state")
        batch_op.create_index("ix_state_visits_left_at_entered_at",
                              ["left_at", "entered_at", "pauses", "deadline_at", "plan_id", "state"], unique=False)
