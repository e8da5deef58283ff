"""`rxguard serve` end to end on loopback: it prints the demo screening and the URLs, then serves until stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from rxguard.adapters.http.settings import DEV_NO_AUTH_VALUE, DEV_NO_AUTH_VARIABLE

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_serve_demo_prints_the_screening_and_urls_then_answers(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, DEV_NO_AUTH_VARIABLE: DEV_NO_AUTH_VALUE, "COLUMNS": "200"}
    out = (tmp_path / "stdout.txt").open("w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "rxguard.cli", "serve", "--demo", "examples", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                discovery = httpx.get(f"{base}/cds-services", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, (tmp_path / "stdout.txt").read_text()
                assert time.monotonic() < deadline, "the service did not start within 60 s"
                time.sleep(0.2)
        assert discovery.status_code == 200
        assert "authentication disabled" in discovery.headers["x-rxguard-warning"]
        assert httpx.get(f"{base}/demo", timeout=10).status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    text = (tmp_path / "stdout.txt").read_text()
    count = len(list((ROOT / "examples").glob("*.json")))
    assert f"Screened {count} demo request(s) from examples/" in text
    assert "AUTHENTICATION IS OFF" in text
    for path in ("/cds-services/rxguard-order-sign", "/docs", "/demo"):
        assert f"{base}{path}" in text
    assert text.index(f"Screened {count} demo request(s)") < text.index(f"{base}/cds-services")


def test_serve_refuses_a_vague_development_setting() -> None:
    env = {**os.environ, DEV_NO_AUTH_VARIABLE: "true"}
    run = subprocess.run(
        [sys.executable, "-m", "rxguard.cli", "serve", "--port", str(free_port())],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 4
    assert DEV_NO_AUTH_VARIABLE in run.stderr and "Traceback" not in run.stderr
