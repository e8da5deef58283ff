"""`rxguard pharmacy ...`: migrate the database, load the demo data, add users, sweep refills, check the audit log."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from rxguard.errors import ConfigError, InputError

pharmacy_app = typer.Typer(
    help="The pharmacy: database migrations, demo data, users, refill sweep, audit-log check.", no_args_is_help=True
)

DatabaseOption = Annotated[
    str | None,
    typer.Option("--database", help="database URL (default: RXGUARD_DATABASE_URL, else the SQLite file)"),
]


def _url(database: str | None) -> str:
    from rxguard.adapters.store.db import database_url

    return database or database_url()


@pharmacy_app.command("migrate")
def migrate_command(database: DatabaseOption = None) -> None:
    """Create or upgrade the pharmacy's tables (Alembic; SQLite or PostgreSQL)."""
    from rxguard.adapters.store.db import current_revision, make_engine, migrate, redacted

    url = _url(database)
    engine = make_engine(url)
    migrate(engine)
    Console().print(f"{redacted(url)}: at revision {current_revision(engine)}", highlight=False)


@pharmacy_app.command("demo-data")
def demo_data(
    database: DatabaseOption = None,
    reset: Annotated[
        bool, typer.Option("--reset", help="start from an empty database (drops the pharmacy's data)")
    ] = False,
    port: Annotated[int, typer.Option(help="the port the service will run on (for the printed URLs)")] = 8000,
) -> None:
    """Load the demo people, records and orders, and print the demo accounts."""
    from sqlalchemy import func, select

    from rxguard.adapters.store import models
    from rxguard.adapters.store.db import make_engine, migrate, redacted
    from rxguard.adapters.store.repository import SqlStore
    from rxguard.bootstrap import screener
    from rxguard.pharmacy.demo import seed

    url = _url(database)
    engine = make_engine(url)
    if reset:
        _reset(engine)
    migrate(engine)
    with engine.connect() as connection:
        users = connection.execute(select(func.count()).select_from(models.UserRow)).scalar_one()
    out = Console()
    if users:
        raise InputError("--reset", "", f"{redacted(url)} already has {users} user(s): add --reset to start again")
    accounts = seed(SqlStore(engine), screener())
    table = Table(title="Demo accounts (made-up people; passwords for this demo only)")
    for column in ("username", "password", "role", "what to try"):
        table.add_column(column)
    for account in accounts:
        table.add_row(account.username, account.password, account.role, account.who)
    out.print(table)
    base = f"http://127.0.0.1:{port}"
    out.print(f"Pharmacy pages: {base}/pharmacy/  (sign in at {base}/pharmacy/login)", highlight=False)
    out.print(f"Demo database: {redacted(url)}", highlight=False)


def _reset(engine: object) -> None:
    from sqlalchemy import Engine, inspect

    from rxguard.adapters.store.db import migrate

    assert isinstance(engine, Engine)  # noqa: S101 (typed loosely to keep imports lazy)
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        engine.dispose()
        if database and database != ":memory:":
            for suffix in ("", "-wal", "-shm"):
                path = database + suffix
                if os.path.exists(path):
                    os.remove(path)
        return
    if inspect(engine).has_table("alembic_version"):
        migrate(engine, "base")


@pharmacy_app.command("user-add")
def user_add(
    username: str,
    role: Annotated[str, typer.Option(help="patient, pharmacist or admin")],
    name: Annotated[str, typer.Option(help="display name")] = "",
    patient_id: Annotated[int | None, typer.Option(help="the patient record (for a patient account)")] = None,
    database: DatabaseOption = None,
) -> None:
    """Add an account; the password is read from RXGUARD_NEW_PASSWORD or asked for (argon2id-hashed)."""
    from rxguard.bootstrap import pharmacy_service
    from rxguard.pharmacy.orders import Invalid
    from rxguard.pharmacy.records import Role
    from rxguard.pharmacy.service import Actor

    try:
        chosen = Role(role)
    except ValueError:
        raise InputError("--role", role, "must be patient, pharmacist or admin") from None
    password = os.environ.get("RXGUARD_NEW_PASSWORD") or typer.prompt("Password", hide_input=True)
    service = pharmacy_service(url=_url(database))
    try:
        user = service.create_user(Actor.system(), username, password, chosen, name or username, patient_id)
    except Invalid as exc:
        first = exc.problems[0]
        raise InputError(first.field, username, str(exc)) from None
    Console().print(f"added {user.username} ({user.role.value}), id {user.id}")


@pharmacy_app.command("sweep")
def sweep(database: DatabaseOption = None) -> None:
    """Mark dispensed orders whose supply has run out (and that have refills left) as refill due."""
    from rxguard.bootstrap import pharmacy_service

    changed = pharmacy_service(url=_url(database)).mark_refills_due()
    Console().print(f"{len(changed)} order(s) now refill due")


@pharmacy_app.command("verify-audit")
def verify_audit(database: DatabaseOption = None) -> None:
    """Check the audit log's hash chain; exit 4 when an entry does not match."""
    from rxguard.bootstrap import pharmacy_service

    broken = pharmacy_service(url=_url(database)).verify_audit()
    if broken:
        raise ConfigError(f"audit log: {broken}")
    Console().print("audit log: chain intact")
