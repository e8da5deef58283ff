"""Which database, how to connect, and how to migrate it: SQLite by default, PostgreSQL when the URL says so.

`RXGUARD_DATABASE_URL` picks the database (`postgresql+psycopg://user:password@host/db`, or `sqlite:///path`);
unset, rxguard uses a SQLite file in the user's data directory, so nothing needs a database server. SQLite runs
in WAL mode with `synchronous=FULL` and foreign keys on, and every transaction starts with BEGIN IMMEDIATE so two
writers never deadlock; a committed transaction survives the process being killed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from rxguard.errors import ConfigError

DATABASE_VARIABLE = "RXGUARD_DATABASE_URL"
HEAD = "0001"


def default_sqlite_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = Path(env["XDG_DATA_HOME"]) if env.get("XDG_DATA_HOME") else Path.home() / ".local" / "share"
    return base / "rxguard" / "pharmacy.sqlite"


def database_url(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    url = (env.get(DATABASE_VARIABLE) or "").strip()
    if not url:
        return f"sqlite:///{default_sqlite_path(env)}"
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"{DATABASE_VARIABLE}: not a database URL (value: {_redact(url)!r})") from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(f"{DATABASE_VARIABLE}: only sqlite and postgresql are supported (value: {_redact(url)!r})")
    return url


def _redact(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.rsplit("@", maxsplit=1)[-1]


def redacted(url: str) -> str:
    """The URL without its password, for messages and banners."""
    return _redact(url)


def make_engine(url: str, **options: Any) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_pre_ping=True, **options
        )

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection: Any, record: Any) -> None:
            dbapi_connection.isolation_level = None  # let SQLAlchemy's BEGIN below start transactions
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if parsed.get_backend_name() == "postgresql":
        # Keep any libpq options the URL carries (e.g. ?options=-c search_path=...), and add UTC.
        given = parsed.query.get("options")
        extra = " ".join(given) if isinstance(given, tuple) else (given or "")
        return create_engine(
            url, pool_pre_ping=True, connect_args={"options": f"{extra} -c timezone=UTC".strip()}, **options
        )
    raise ConfigError(f"{DATABASE_VARIABLE}: unsupported database {parsed.get_backend_name()!r}")


def alembic_config(url: str | None = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(resources.files("rxguard.adapters.store") / "migrations"))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the database to `revision` (default: the newest), creating the tables the first time."""
    from alembic import command

    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return MigrationContext.configure(connection).get_current_revision()
