"""Alembic migrations for the indsats schema."""
