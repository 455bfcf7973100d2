"""visit days: the step report's figures added up per local day as visits are left and escalations sent

``visit_days``: per (plan, state, local day entered, local day left, time bucket) the visits left, on time,
their paused working time and how many were paused; ``escalation_days``: escalations per (plan, state, local
day). Both are kept in the transaction that leaves the visit or sends the escalation (see
``indsats.storage.visit_days``); here they are filled in from the existing ``state_visits`` and events.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "visit_days",
        sa.Column("plan_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("entry_day", sa.Integer(), nullable=False),
        sa.Column("left_day", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.Column("on_time", sa.Integer(), nullable=False),
        sa.Column("paused_us", sa.BigInteger(), nullable=False),
        sa.Column("paused_visits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("plan_id", "state", "entry_day", "left_day", "bucket", name=op.f("pk_visit_days")),
    )
    op.create_table(
        "escalation_days",
        sa.Column("plan_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("escalations", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("plan_id", "state", "day", name=op.f("pk_escalation_days")),
    )
    backfill(op.get_bind())


def backfill(conn: sa.Connection) -> None:
    """The day rows of every visit already left and every escalation already sent (the statements the
    benchmark world fills them in with too)."""
    from indsats.storage.visit_days import fill_in

    marks = "%s" if conn.dialect.name == "postgresql" else "?"

    def read(sql: str) -> Any:
        return conn.exec_driver_sql(sql).yield_per(5000)

    def write(sql: str, rows: list[tuple[Any, ...]]) -> None:
        conn.exec_driver_sql(sql.replace("?", marks), rows)

    fill_in(read, write)


def downgrade() -> None:
    op.drop_table("escalation_days")
    op.drop_table("visit_days")
