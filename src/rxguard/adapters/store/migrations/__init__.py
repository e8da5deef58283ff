"""Alembic migrations of rxguard's database (run by `rxguard pharmacy migrate` or `store.db.migrate`)."""
