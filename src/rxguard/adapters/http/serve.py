"""`rxguard serve`: print where to point a browser or a CDS Hooks client, then run uvicorn until interrupted."""

from __future__ import annotations

import gc
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from rxguard.adapters.http.settings import DEV_NO_AUTH_VALUE, DEV_NO_AUTH_VARIABLE, ServiceSettings, settings_from_env
from rxguard.errors import InputError

if TYPE_CHECKING:
    from fastapi import FastAPI


def _screen_demo(out: Console, folder: Path) -> None:
    from rxguard.adapters.fhir.request import parse_request
    from rxguard.adapters.terminal import print_result
    from rxguard.bootstrap import screener

    files = sorted(folder.glob("*.json"))
    if not files:
        raise InputError("--demo", str(folder), "no *.json demo requests found")
    engine = screener()
    for path in files:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError("--demo", str(path), f"cannot be read: {exc.__class__.__name__}") from None
        print_result(out, engine.screen(parse_request(data)), path.name)
    out.print(f"\nScreened {len(files)} demo request(s) from {folder}/ with knowledge base {engine.kb.version}.")


def banner(out: Console, settings: ServiceSettings) -> None:
    base = settings.base_url
    out.rule("rxguard service")
    if settings.auth_disabled_for_development:
        out.print(
            f"[bold white on red] AUTHENTICATION IS OFF ({DEV_NO_AUTH_VARIABLE}={DEV_NO_AUTH_VALUE}). "
            "DEVELOPMENT ONLY: anyone who can reach this port can call it; never use it with real patients. [/]",
            highlight=False,
        )
    elif not settings.trusted_issuers:
        out.print(
            "[bold yellow]No trusted JWT issuers are configured (RXGUARD_TRUSTED_ISSUERS): every CDS Hooks and "
            "API call will be refused with 401.[/]",
            highlight=False,
        )
    else:
        names = ", ".join(i.iss for i in settings.trusted_issuers)
        out.print(f"JWT authentication on; trusted issuers: {names}; aud must be the URL called under {base}")
    lines = [
        ("Browser (home page)", f"{base}/"),
        ("CDS Hooks discovery", f"{base}/cds-services"),
        ("  order-select", f"{base}/cds-services/rxguard-order-select"),
        ("  order-sign", f"{base}/cds-services/rxguard-order-sign"),
        ("  medication-verify", f"{base}/cds-services/rxguard-medication-verify"),
        ("REST API docs (OpenAPI)", f"{base}/docs   ({base}/openapi.json)"),
    ]
    if settings.demo_dir:
        lines.insert(1, ("Demo requests, screened", f"{base}/demo"))
    if os.environ.get("RXGUARD_PHARMACY", "on").strip().lower() not in ("off", "0", "no"):
        lines.insert(1, ("Pharmacy (catalog, sign-in)", f"{base}/pharmacy/"))
    for label, url in lines:
        out.print(f"{label:<26} {url}", highlight=False, soft_wrap=True)
    memory = f"SQLite file {settings.feedback_db}" if settings.feedback_db else "in memory (lost on restart)"
    out.print(f"Feedback, alert suppression and used JWT ids: {memory}.", highlight=False)
    out.print(f"{settings.workers} worker process(es). Press Ctrl+C to stop.", highlight=False)


def settle_heap() -> None:
    """Move the loaded knowledge base out of the garbage collector's way: without this, every full collection
    walks hundreds of thousands of long-lived objects and shows up as latency spikes."""
    gc.collect()
    gc.freeze()


# The command line's overrides, handed to worker processes (which build their app from the environment).
WORKER_OVERRIDES_VARIABLE = "_RXGUARD_SERVE_OVERRIDES"


def worker_app() -> FastAPI:
    """The app factory each uvicorn worker process calls: settings from the environment and the overrides."""
    from rxguard.bootstrap import service_app

    overrides = json.loads(os.environ.get(WORKER_OVERRIDES_VARIABLE) or "{}")
    app = service_app(settings_from_env(None, **overrides))
    settle_heap()
    return app


def run(host: str | None, port: int | None, demo_dir: Path | None, out: Console, workers: int | None = None) -> None:
    """Serve in this process, or with `workers` > 1 (checked against the shared store by the settings) in that
    many uvicorn worker processes that each build the app and share the SQLite file RXGUARD_FEEDBACK_DB."""
    import uvicorn

    from rxguard.bootstrap import prepare_worker_stores, service_app

    overrides = {"host": host, "port": port, "demo_dir": str(demo_dir) if demo_dir else None, "workers": workers}
    settings = settings_from_env(None, **overrides)
    if demo_dir is not None:
        _screen_demo(out, demo_dir)
    if settings.workers > 1:
        prepare_worker_stores(settings)
        os.environ[WORKER_OVERRIDES_VARIABLE] = json.dumps({k: v for k, v in overrides.items() if v is not None})
        banner(out, settings)
        out.file.flush()
        sys.stdout.flush()
        uvicorn.run(
            f"{__name__}:worker_app",
            factory=True,
            workers=settings.workers,
            host=settings.host,
            port=settings.port,
            log_level="info",
            server_header=False,
        )
        return
    app = service_app(settings)
    settle_heap()
    banner(out, settings)
    out.file.flush()
    sys.stdout.flush()
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", server_header=False)
