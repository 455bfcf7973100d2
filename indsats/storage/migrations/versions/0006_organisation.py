"""organisation: roles granted per plan (and unit), deputies with dates, handover, a case's assignee and flags

Every existing user's role that is not the installation's own (``admin``, ``supervisor``) becomes a grant
in every plan that declares it (plan ``*``), which is what the single role meant before. The old value
stays in ``users.role`` (the organisation chain recorded it; only ``admin``/``supervisor`` there count);
``indsats init`` records the new grants in the organisation chain.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

INSTALLATION_ROLES = ("admin", "supervisor")


def upgrade() -> None:
    op.create_table(
        "grants",
        sa.Column("login", sa.String(length=64), nullable=False),
        sa.Column("plan_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=64), nullable=False),
        sa.Column("unit", sa.String(length=100), nullable=True),
        sa.Column("granted_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["login"], ["users.login"], name=op.f("fk_grants_login_users")),
        sa.PrimaryKeyConstraint("login", "plan_id", "role", name=op.f("pk_grants")),
    )
    op.create_index("ix_grants_plan_id_role", "grants", ["plan_id", "role"], unique=False)
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("role", existing_type=sa.String(length=32), nullable=True)
        batch_op.add_column(sa.Column("deputy_from", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("deputy_until", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("handed_over_to", sa.String(length=64), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_users_handed_over_to_users"), "users", ["handed_over_to"], ["login"]
        )
        batch_op.create_index("ix_users_deputy", ["deputy"], unique=False)
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assignee", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("flags", sa.Text(), nullable=True))
    users = sa.table("users", sa.column("login"), sa.column("role"), sa.column("created_at"))
    grants = sa.table(
        "grants", sa.column("login"), sa.column("plan_id"), sa.column("role"), sa.column("unit"), sa.column("granted_at")
    )
    conn = op.get_bind()
    rows = conn.execute(sa.select(users.c.login, users.c.role, users.c.created_at)).all()
    moved = [r for r in rows if r.role is not None and r.role not in INSTALLATION_ROLES]
    if moved:
        conn.execute(
            sa.insert(grants),
            [{"login": r.login, "plan_id": "*", "role": r.role, "unit": None, "granted_at": r.created_at} for r in moved],
        )
    cases = sa.table("cases", sa.column("minor"), sa.column("flags"))
    conn.execute(sa.update(cases).where(cases.c.minor.is_(True)).values(flags='["minor"]'))


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("flags")
        batch_op.drop_column("assignee")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index("ix_users_deputy")
        batch_op.drop_constraint(op.f("fk_users_handed_over_to_users"), type_="foreignkey")
        batch_op.drop_column("handed_over_to")
        batch_op.drop_column("deputy_until")
        batch_op.drop_column("deputy_from")
    op.drop_index("ix_grants_plan_id_role", table_name="grants")
    op.drop_table("grants")
