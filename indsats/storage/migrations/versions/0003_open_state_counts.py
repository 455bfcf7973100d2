"""open cases per state: an index on (is_open, plan_id, state) for the per-state counts

Counting open cases by (plan_id, state) reads only the is_open = true range of this index (covering it),
instead of every case, open or closed, through ix_cases_plan_state.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_open_plan_state", ["is_open", "plan_id", "state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_open_plan_state")
