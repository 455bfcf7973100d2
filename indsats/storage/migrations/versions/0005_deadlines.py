"""deadlines: case deadlines, reminders for them, the reason a case is paused

A plan's case deadlines (``case_deadlines``) run beside the per-state ones: one row per deadline started on a
case, met or not; their reminder rows name the deadline (``reminders.deadline``). A paused case keeps the
reason (encrypted) beside ``paused_at``.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_deadlines",
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("started_seq", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("met_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_case_deadlines_case_id_cases"),
        sa.PrimaryKeyConstraint("case_id", "name", name="pk_case_deadlines"),
    )
    with op.batch_alter_table("case_deadlines", schema=None) as batch_op:
        batch_op.create_index("ix_case_deadlines_met_at_due_at", ["met_at", "due_at"], unique=False)
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deadline", sa.String(length=64), nullable=True))
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pause_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("pause_reason")
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.drop_column("deadline")
    with op.batch_alter_table("case_deadlines", schema=None) as batch_op:
        batch_op.drop_index("ix_case_deadlines_met_at_due_at")
    op.drop_table("case_deadlines")
