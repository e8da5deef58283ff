"""Several worker processes: used JWT ids live in the SQLite file the workers share, and `serve --workers N`
refuses to start more than one worker without it."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from rxguard.adapters.cds_hooks.auth import SqliteReplayGuard, TrustedIssuer, Unauthorized
from rxguard.adapters.http.settings import DEV_NO_AUTH_VALUE, DEV_NO_AUTH_VARIABLE, ServiceSettings
from rxguard.bootstrap import service_app
from rxguard.cli import app as cli_app
from rxguard.errors import ConfigError, ExitCode
from tests.service.conftest import ISSUER, SERVICE_URL, Api, SigningKey, token
from tests.service.test_serve import ROOT, free_port

DISCOVERY = SERVICE_URL + "/cds-services"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "shared.sqlite3"


def test_a_jti_used_through_one_store_is_refused_by_another_store_on_the_same_file(db: Path) -> None:
    worker_a, worker_b = SqliteReplayGuard(db), SqliteReplayGuard(db)
    try:
        assert worker_a.first_use(ISSUER, "jti-1", exp=1_000.0, now=100.0)
        assert not worker_b.first_use(ISSUER, "jti-1", exp=1_000.0, now=101.0)
        assert not worker_a.first_use(ISSUER, "jti-1", exp=1_000.0, now=102.0)
        # the same jti from another issuer is another token
        assert worker_b.first_use("https://other-ehr.example", "jti-1", exp=1_000.0, now=103.0)
        assert worker_b.first_use(ISSUER, "jti-2", exp=1_000.0, now=104.0)
    finally:
        worker_a.close()
        worker_b.close()


def test_the_store_accepts_a_jti_again_after_it_expired_and_purges_expired_rows(db: Path) -> None:
    store = SqliteReplayGuard(db, purge_every_s=3_600.0)
    try:
        assert store.first_use(ISSUER, "old", exp=200.0, now=100.0)
        assert store.first_use(ISSUER, "young", exp=900.0, now=100.0)
        assert not store.first_use(ISSUER, "old", exp=200.0, now=199.0)  # still alive at 199
        assert store.first_use(ISSUER, "old", exp=500.0, now=201.0)  # expired at 200: a new use, remembered again
        assert not store.first_use(ISSUER, "old", exp=500.0, now=202.0)
        assert store.purge(now=600.0) == 1  # "old" (expires 500) goes, "young" (expires 900) stays
        with sqlite3.connect(db) as other:
            rows = other.execute("SELECT iss, jti, expires FROM jwt_replay").fetchall()
        assert rows == [(ISSUER, "young", 900.0)]
        assert not store.first_use(ISSUER, "young", exp=900.0, now=601.0)
    finally:
        store.close()


def test_expired_rows_are_purged_during_use_at_most_once_per_interval(db: Path) -> None:
    store = SqliteReplayGuard(db, purge_every_s=60.0)
    try:
        assert store.first_use(ISSUER, "a", exp=110.0, now=100.0)  # first call purges (nothing yet)
        assert store.first_use(ISSUER, "b", exp=1_000.0, now=150.0)  # within 60 s: no purge; "a" still there
        with sqlite3.connect(db) as other:
            assert other.execute("SELECT count(*) FROM jwt_replay").fetchone() == (2,)
        assert store.first_use(ISSUER, "c", exp=1_000.0, now=161.0)  # 61 s later: "a" (expired at 110) purged
        with sqlite3.connect(db) as other:
            assert sorted(r[0] for r in other.execute("SELECT jti FROM jwt_replay")) == ["b", "c"]
    finally:
        store.close()


def test_the_store_uses_wal_so_readers_do_not_block_the_workers(db: Path) -> None:
    store = SqliteReplayGuard(db)
    try:
        with sqlite3.connect(db) as other:
            assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        store.close()


def test_a_store_that_cannot_answer_refuses_the_token(db: Path) -> None:
    store = SqliteReplayGuard(db)
    try:
        with sqlite3.connect(db) as other:
            other.execute("DROP TABLE jwt_replay")
        with pytest.raises(Unauthorized, match=r"replay store .* unavailable .*no such table: jwt_replay"):
            store.first_use(ISSUER, "jti-1", exp=1_000.0, now=100.0)
    finally:
        store.close()
    with pytest.raises(Unauthorized, match="ProgrammingError"):  # closed: refused, not accepted
        store.first_use(ISSUER, "jti-2", exp=1_000.0, now=100.0)


def test_a_writer_that_holds_the_lock_too_long_makes_the_store_refuse_not_accept(db: Path) -> None:
    store = SqliteReplayGuard(db, busy_timeout_s=0.05)
    other = sqlite3.connect(db, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(Unauthorized, match="database is locked"):
            store.first_use(ISSUER, "jti-1", exp=1_000.0, now=100.0)
        other.execute("ROLLBACK")
        assert store.first_use(ISSUER, "jti-1", exp=1_000.0, now=100.0)
    finally:
        other.close()
        store.close()


def test_a_worker_waits_for_another_workers_write_and_then_sees_it(db: Path) -> None:
    store = SqliteReplayGuard(db, busy_timeout_s=10.0)
    other = sqlite3.connect(db, isolation_level=None)
    answers: list[bool] = []
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO jwt_replay VALUES (?, ?, ?)", (ISSUER, "jti-1", 1_000.0))
        waiting = threading.Thread(target=lambda: answers.append(store.first_use(ISSUER, "jti-1", 1_000.0, 100.0)))
        waiting.start()
        other.execute("COMMIT")
        waiting.join(timeout=30)
        assert answers == [False]  # waited for the lock instead of failing, and saw the other worker's use
    finally:
        other.close()
        store.close()


def _shared_app(db: Path, ec_key: SigningKey, monkeypatch: pytest.MonkeyPatch) -> Api:
    """The app as `rxguard serve` builds it in each worker (bootstrap), with the EHR's JWK Set given inline."""
    monkeypatch.setenv("RXGUARD_PHARMACY", "off")
    settings = ServiceSettings(
        service_url=SERVICE_URL,
        trusted_issuers=(TrustedIssuer(ISSUER, jwks={"keys": [ec_key.jwk()]}),),
        feedback_db=str(db),
    )
    return Api(service_app(settings), None, [datetime.now(UTC)])


def test_two_apps_on_one_feedback_db_refuse_a_token_the_other_accepted(
    db: Path, ec_key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker_a = _shared_app(db, ec_key, monkeypatch)
    worker_b = _shared_app(db, ec_key, monkeypatch)
    once = token(ec_key, DISCOVERY, headers={"jku": None})
    assert worker_a.get("/cds-services", bearer=once).status_code == 200
    refused = worker_b.get("/cds-services", bearer=once)
    assert refused.status_code == 401 and refused.content == b""
    assert worker_a.get("/cds-services", bearer=once).status_code == 401
    assert worker_b.get("/cds-services", bearer=token(ec_key, DISCOVERY, headers={"jku": None})).status_code == 200
    with sqlite3.connect(db) as other:
        assert other.execute("SELECT count(*) FROM jwt_replay WHERE iss = ?", (ISSUER,)).fetchone() == (2,)


def test_without_a_feedback_db_each_app_remembers_only_its_own_tokens(
    ec_key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Why more than one worker needs the shared store: in-memory stores do not see each other's tokens."""
    monkeypatch.setenv("RXGUARD_PHARMACY", "off")
    settings = ServiceSettings(
        service_url=SERVICE_URL, trusted_issuers=(TrustedIssuer(ISSUER, jwks={"keys": [ec_key.jwk()]}),)
    )
    worker_a, worker_b = Api(service_app(settings), None, []), Api(service_app(settings), None, [])
    once = token(ec_key, DISCOVERY, headers={"jku": None})
    assert worker_a.get("/cds-services", bearer=once).status_code == 200
    assert worker_b.get("/cds-services", bearer=once).status_code == 200
    assert worker_a.get("/cds-services", bearer=once).status_code == 401


def test_the_service_answers_401_when_the_shared_store_is_unusable(
    db: Path, ec_key: SigningKey, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    api = _shared_app(db, ec_key, monkeypatch)
    with sqlite3.connect(db) as other:
        other.execute("DROP TABLE jwt_replay")
    fresh = token(ec_key, DISCOVERY, headers={"jku": None})
    refused = api.get("/cds-services", bearer=fresh)
    assert refused.status_code == 401 and refused.content == b""
    assert "replay store" in caplog.text and "unavailable" in caplog.text
    assert fresh not in caplog.text


def test_an_unopenable_feedback_db_is_a_configuration_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RXGUARD_PHARMACY", "off")
    folder = tmp_path / "not-a-file"
    folder.mkdir()
    with pytest.raises(ConfigError, match="RXGUARD_FEEDBACK_DB: cannot open the SQLite file"):
        service_app(ServiceSettings(auth_disabled_for_development=True, feedback_db=str(folder)))


# --- rxguard serve --workers ---


def _no_server(*args: object, **kwargs: object) -> None:
    raise AssertionError("a server was started")


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        (["serve", "--workers", "2"], {}, "--workers"),
        (["serve"], {"RXGUARD_WORKERS": "2"}, "RXGUARD_WORKERS"),
    ],
)
def test_serve_with_two_workers_and_no_shared_store_stops_with_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, args: list[str], env: dict[str, str], named: str
) -> None:
    monkeypatch.setattr(uvicorn, "run", _no_server)
    monkeypatch.delenv("RXGUARD_FEEDBACK_DB", raising=False)
    monkeypatch.delenv("RXGUARD_WORKERS", raising=False)
    result = CliRunner().invoke(cli_app, args, env=env)
    assert isinstance(result.exception, ConfigError), result.output
    assert result.exception.exit_code == ExitCode.CONFIG == 4
    message = str(result.exception)
    assert message.startswith(f"{named}: more than one worker needs a shared JWT replay store")
    assert "RXGUARD_FEEDBACK_DB" in message and message.endswith("(value: 2)")


def test_serve_rejects_a_worker_count_below_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(uvicorn, "run", _no_server)
    assert CliRunner().invoke(cli_app, ["serve", "--workers", "0"]).exit_code == 2  # click usage error
    result = CliRunner().invoke(cli_app, ["serve"], env={"RXGUARD_WORKERS": "two"})
    assert isinstance(result.exception, ConfigError)
    assert str(result.exception) == "RXGUARD_WORKERS: must be a whole number (value: 'two')"


def test_serve_workers_without_a_shared_store_exits_4_with_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("RXGUARD_FEEDBACK_DB", "RXGUARD_WORKERS")}
    run = subprocess.run(
        [sys.executable, "-m", "rxguard.cli", "serve", "--workers", "2", "--port", str(free_port())],
        cwd=ROOT,
        env={**env, "COLUMNS": "300"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 4
    assert "--workers: more than one worker needs a shared JWT replay store" in run.stderr
    assert "(value: 2)" in run.stderr and "Traceback" not in run.stderr


def test_serve_with_two_workers_shares_used_jwt_ids_between_them(tmp_path: Path, ec_key: SigningKey) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **{k: v for k, v in os.environ.items() if k != DEV_NO_AUTH_VARIABLE},
        "RXGUARD_FEEDBACK_DB": str(tmp_path / "shared.sqlite3"),
        "RXGUARD_DATABASE_URL": f"sqlite:///{tmp_path / 'pharmacy.sqlite3'}",
        "RXGUARD_TRUSTED_ISSUERS": json.dumps({ISSUER: {"jwks": {"keys": [ec_key.jwk()]}}}),
        "COLUMNS": "200",
    }
    log = tmp_path / "stdout.txt"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rxguard.cli", "serve", "--workers", "2", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while log.read_text().count("Application startup complete") < 2:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "two workers did not start within 60 s:\n" + log.read_text()
            time.sleep(0.2)
        health = httpx.get(f"{base}/health", timeout=5)
        assert health.status_code == 200
        once = token(ec_key, f"{base}/cds-services", headers={"jku": None}, jti=str(uuid.uuid4()))
        headers = {"Authorization": f"Bearer {once}"}
        answers = []
        for _ in range(6):  # a fresh connection each time, so either worker may take it
            with httpx.Client(timeout=5) as client:
                answers.append(client.get(f"{base}/cds-services", headers=headers).status_code)
        assert answers == [200, 401, 401, 401, 401, 401]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    text = log.read_text()
    assert "2 worker process(es)" in text and DEV_NO_AUTH_VALUE not in text
    assert len({line for line in text.splitlines() if "Started server process" in line}) == 2
    with sqlite3.connect(tmp_path / "shared.sqlite3") as other:
        assert other.execute("SELECT count(*) FROM jwt_replay").fetchone() == (1,)
