"""Persistence: SQLModel tables, engine and sessions, repositories and Alembic migrations."""
