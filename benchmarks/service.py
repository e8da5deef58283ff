"""Service speed: CDS Hooks order-sign with a full prefetch of 10 active medicines, over loopback HTTP.

The service runs in its own process (uvicorn, one worker unless --workers, JWT verification ON with an
out-of-band JWK Set, alert memory in memory); this process is the load generator. Every request carries a
freshly signed ES384 JWT (signed before the clock starts) and a different patient id. Two bounded runs:
  1. open loop at a fixed rate (default 200 requests/s for 10 s): latency is measured from each request's
     scheduled start, so queueing delay counts (no coordinated omission);
  2. closed loop, a few concurrent clients for a few seconds: the most the service sustains.
Prints p50, p90, p99 and max latency and the throughput. Target: p99 <= 20 ms at 200 requests/s.
Run:  .venv/bin/python benchmarks/service.py [--rate 200] [--seconds 10] [--port 0] [--workers 1]
(--workers N: N worker processes sharing used JWT ids in a SQLite file, as `rxguard serve --workers N`.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import jwt  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from jwt.algorithms import ECAlgorithm  # noqa: E402
from tests import builders as b  # noqa: E402

ISSUER = "https://ehr.bench.example"
KID = "bench-es384"
PATH = "/cds-services/rxguard-order-sign"
PROFILE = [
    ("allopurinol 100 mg tablet", 1, 1),
    ("lisinopril 10 mg tablet", 1, 1),
    ("furosemide 40 mg tablet", 1, 1),
    ("sertraline 50 mg tablet", 1, 1),
    ("Panadol 500 mg tablets", 2, 3),
    ("prednisolone 5 mg tablet", 1, 1),
    ("warfarin 5 mg tablet", 1, 1),
    ("gabapentin 300 mg capsule", 1, 3),
    ("mesalazine 800 mg tablet", 1, 2),
    ("aspirin 81 mg tablet", 1, 1),
]


def order_sign(patient: str) -> bytes:
    meds = [b.med(name, dose, per_day=per_day, quantity=90, days=30) for name, dose, per_day in PROFILE]
    body = b.request(
        b.order("Imuran 50 mg tablet", 1, per_day=2, quantity=56, days=28, ident="draft-imuran"),
        meds=meds,
        age=67,
        observations=[b.weight(72), b.lab("98979-8", 52, "mL/min/{1.73_m2}"), b.lab("6690-2", 6.1, "10*3/uL")],
        conditions=[b.condition("rheumatoid arthritis", "69896004")],
        allergies=[b.allergy("penicillin")],
    )
    body["context"]["patientId"] = patient
    body["prefetch"]["patient"]["id"] = patient
    body["hookInstance"] = str(uuid.uuid4())
    return json.dumps(body).encode()


def serve(port: int, jwks: str, workers: int) -> None:
    """The server process: the real application, authentication on, default settings otherwise.

    With workers > 1, as `rxguard serve --workers N` runs it: N uvicorn worker processes building the app from
    the environment, sharing used JWT ids (and the alert memory) in a SQLite file (RXGUARD_FEEDBACK_DB).
    """
    import tempfile

    import uvicorn

    from rxguard.adapters.http import serve as service
    from rxguard.adapters.http.settings import settings_from_env
    from rxguard.bootstrap import prepare_worker_stores, service_app

    issuers = json.dumps({ISSUER: {"jwks": json.loads(jwks)}})
    if workers > 1:
        os.environ["RXGUARD_TRUSTED_ISSUERS"] = issuers
        os.environ["RXGUARD_FEEDBACK_DB"] = str(Path(tempfile.mkdtemp(prefix="rxguard-bench-")) / "feedback.db")
        overrides = {"host": "127.0.0.1", "port": port, "workers": workers}
        prepare_worker_stores(settings_from_env(None, **overrides))
        os.environ[service.WORKER_OVERRIDES_VARIABLE] = json.dumps(overrides)
        uvicorn.run(
            f"{service.__name__}:worker_app",
            factory=True,
            workers=workers,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
        )
        return
    settings = settings_from_env({"RXGUARD_TRUSTED_ISSUERS": issuers}, host="127.0.0.1", port=port)
    app = service_app(settings)
    service.settle_heap()  # as `rxguard serve` does
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def tokens(key: Any, base: str, n: int) -> list[str]:
    now = int(time.time())
    return [
        jwt.encode(
            {"iss": ISSUER, "aud": base + PATH, "iat": now, "exp": now + 600, "jti": str(uuid.uuid4())},
            key,
            algorithm="ES384",
            headers={"kid": KID, "typ": "JWT"},
        )
        for _ in range(n)
    ]


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children (worker processes), from Linux /proc: the
    service's own cost, told apart from the machine's load."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            parents[int(entry.name)] = int(fields[1])
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent and child not in tree]
        tree.update(children)
        frontier.extend(children)
    total = 0.0
    for member in tree:
        fields = _stat(member)
        if fields is None:
            if member == pid:
                return float("nan")
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1)))]


def report(label: str, latencies: list[float], elapsed: float, errors: int) -> None:
    ms = [v * 1000 for v in latencies]
    print(
        f"{label:<34} n={len(ms):<5} p50 {statistics.median(ms):6.2f} ms  p90 {percentile(ms, 0.90):6.2f} ms  "
        f"p99 {percentile(ms, 0.99):6.2f} ms  max {max(ms):7.2f} ms  {len(ms) / elapsed:7.1f} req/s  errors {errors}"
    )


async def open_loop(base: str, bodies: list[bytes], auth: list[str], rate: float) -> tuple[list[float], float, int]:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=5.0) as client:

        async def one(i: int, scheduled: float) -> None:
            nonlocal errors
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            headers = {"Authorization": f"Bearer {auth[i]}", "Content-Type": "application/json"}
            response = await client.post(PATH, content=bodies[i], headers=headers)
            done = time.perf_counter()
            if response.status_code != 200 or not response.json()["cards"]:
                errors += 1
            latencies.append(done - scheduled)

        start = time.perf_counter() + 0.05
        await asyncio.gather(*(one(i, start + i / rate) for i in range(len(bodies))))
        elapsed = time.perf_counter() - start
    return latencies, elapsed, errors


async def closed_loop(
    base: str, bodies: list[bytes], auth: list[str], clients: int, seconds: float
) -> tuple[list[float], float, int]:
    latencies: list[float] = []
    errors = 0
    counter = iter(range(len(bodies)))
    async with httpx.AsyncClient(base_url=base, timeout=5.0) as client:
        stop = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < stop:
                i = next(counter, None)
                if i is None:
                    return
                headers = {"Authorization": f"Bearer {auth[i]}", "Content-Type": "application/json"}
                began = time.perf_counter()
                response = await client.post(PATH, content=bodies[i], headers=headers)
                latencies.append(time.perf_counter() - began)
                if response.status_code != 200:
                    errors += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - start
    return latencies, elapsed, errors


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1, help="service worker processes (as serve --workers)")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--jwks", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve), args.jwks, args.workers)
        return

    key = ec.generate_private_key(ec.SECP384R1())
    jwk = {**ECAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": KID, "alg": "ES384", "use": "sig"}
    port = args.port or free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(  # noqa: S603 (this script, with arguments it made)
        [
            sys.executable,
            __file__,
            "--serve",
            str(port),
            "--jwks",
            json.dumps({"keys": [jwk]}),
            "--workers",
            str(args.workers),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base + "/health", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the service did not start") from None
                time.sleep(0.2)
        n_open = int(args.rate * args.seconds)
        n_closed = int(args.seconds * 600)
        warm = 300
        total = warm + n_open + n_closed
        print(f"preparing {total} requests and signed tokens ...", flush=True)
        bodies = [order_sign(f"patient-{i % 1000}") for i in range(total)]
        auth = tokens(key, base, total)
        sample = json.loads(bodies[0])
        meds = len(sample["prefetch"]["medications"]["entry"])
        print(
            f"rxguard service benchmark: order-sign, 1 draft order + {meds} active medicines, full prefetch "
            f"({len(bodies[0])} bytes), JWT ES384 verified on every call, {args.workers} worker(s), loopback, "
            f"{os.cpu_count()} cpu(s), "
            f"Python {sys.version.split()[0]}"
        )
        lat, elapsed, errors = asyncio.run(open_loop(base, bodies[:warm], auth[:warm], min(args.rate, 100)))
        report("warm-up", lat, elapsed, errors)
        cpu_before = cpu_seconds(server.pid)
        lat, elapsed, errors = asyncio.run(
            open_loop(base, bodies[warm : warm + n_open], auth[warm : warm + n_open], args.rate)
        )
        cpu = cpu_seconds(server.pid) - cpu_before
        report(f"open loop at {args.rate:g} req/s", lat, elapsed, errors)
        print(
            f"service CPU per request {cpu / n_open * 1000:.2f} ms (one core could serve about "
            f"{n_open / cpu if cpu else float('nan'):.0f} req/s); load average now {os.getloadavg()[0]:.2f}"
        )
        p99 = percentile([v * 1000 for v in lat], 0.99)
        print(f"target p99 <= 20 ms at 200 req/s: {'met' if p99 <= 20 and errors == 0 else 'NOT met'} ({p99:.2f} ms)")
        cpu_before = cpu_seconds(server.pid)
        lat, elapsed, errors = asyncio.run(
            closed_loop(base, bodies[warm + n_open :], auth[warm + n_open :], args.clients, min(args.seconds, 5))
        )
        cpu = cpu_seconds(server.pid) - cpu_before
        report(f"closed loop, {args.clients} clients", lat, elapsed, errors)
        print(f"service CPU per request {cpu / max(len(lat), 1) * 1000:.2f} ms")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
