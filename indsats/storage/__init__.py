"""Storage: SQLAlchemy Core tables, queries, the unit of work and Alembic migrations. The only home of SQL."""
