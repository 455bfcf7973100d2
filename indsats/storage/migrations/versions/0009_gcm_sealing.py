"""gcm sealing: values sealed from here on are AES-256-GCM tokens (``a1:…``), which an older indsats cannot open

No table changes. The revision marks the database as one an indsats before it must not work on: that
indsats would take a GCM token for data under another key ("wrong key?", exit 4); at this revision it stops
with exit 7 "written by a newer indsats" instead, before reading anything. Tokens sealed with Fernet before
still open, and ``indsats keys rotate`` re-seals them (see ``indsats.engine.privacy.crypto``).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing to change in the tables: the revision itself is the mark."""


def downgrade() -> None:
    """Back to 0008: only for a database that holds no GCM token yet (an older indsats cannot open one)."""
