"""Persistence: SQLAlchemy 2 models, the pharmacy's repository, and Alembic migrations shipped inside the package."""
