"""The command line: output formats, exit codes, clear errors without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests import builders as b

ROOT = Path(__file__).resolve().parents[1]


def rxguard(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rxguard.cli", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
        cwd=ROOT,
        check=False,
    )


def write(tmp_path: Path, data: object, name: str = "req.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def test_cds_hooks_output_is_exactly_a_response(tmp_path: Path) -> None:
    req = b.request(b.order("Xylotrexin 40 mg tablet"))
    run = rxguard("screen", write(tmp_path, req), "--format", "cds-hooks")
    assert run.returncode == 0, run.stderr
    response = json.loads(run.stdout)
    assert set(response) == {"cards"}
    card = response["cards"][0]
    assert set(card) >= {"uuid", "summary", "indicator", "detail", "source", "extension"}
    assert len(card["summary"]) < 140
    assert card["source"]["topic"]["code"] == "MS"
    assert set(card["extension"]["rxguard"]) >= {"rule_id", "kb_version", "sources", "facts"}


def test_cards_cite_their_sources_and_are_sorted_by_severity(tmp_path: Path) -> None:
    req = b.request(
        b.order("co-codamol 30/500 tablets", 2, per_day=4),
        meds=[b.med("Panadol 500 mg tablets", 2, per_day=4), b.med("lorazepam 1 mg tablet")],
        observations=[b.weight(70)],
        age=70,
    )
    cards = json.loads(rxguard("screen", write(tmp_path, req), "-f", "cds-hooks").stdout)["cards"]
    order = {"critical": 0, "warning": 1, "info": 2}
    assert [order[c["indicator"]] for c in cards] == sorted(order[c["indicator"]] for c in cards)
    hd = next(c for c in cards if c["source"]["topic"]["code"] == "HD")
    assert all(set(s) == {"document", "year", "section", "confidence"} for s in hd["extension"]["rxguard"]["sources"])


def test_text_output_names_the_alert_and_what_to_do(tmp_path: Path) -> None:
    req = b.request(
        b.order("Imuran 50 mg tablet", 1, per_day=2),
        meds=[b.med("allopurinol 100 mg tablet")],
        observations=[b.weight(70)],
    )
    run = rxguard("screen", write(tmp_path, req))
    assert run.returncode == 0
    assert "DD" in run.stdout and "What to do" in run.stdout and "allopurinol" in run.stdout


def test_the_same_request_gives_the_same_cards(tmp_path: Path) -> None:
    path = write(tmp_path, b.request(b.order("Voltarol 50mg tab", 1, per_day=2), observations=b.pregnant(25)))
    first, second = (rxguard("screen", path, "-f", "cds-hooks").stdout for _ in range(2))
    assert first == second


def test_bad_input_exits_2_with_a_message_and_no_traceback(tmp_path: Path) -> None:
    for args, stdin, needle in (
        (["screen", str(tmp_path / "missing.json")], None, "no such file"),
        (["screen", "-"], "{not json", "not valid JSON"),
        (["screen", "-"], '{"resourceType": "Patient"}', "resourceType"),
        (["screen", "-", "--as-of", "yesterday"], json.dumps(b.request(b.order("Panadol 500 mg tablets"))), "--as-of"),
    ):
        run = rxguard(*args, stdin=stdin)
        assert run.returncode == 2, (args, run.stderr)
        assert needle in run.stderr
        assert "Traceback" not in run.stderr


def test_unknown_jurisdiction_is_a_configuration_error(tmp_path: Path) -> None:
    run = rxguard("screen", write(tmp_path, b.request(b.order("Panadol 500 mg tablets"))), "--jurisdiction", "FR")
    assert run.returncode == 4 and "jurisdiction" in run.stderr and "'FR'" in run.stderr


def test_kb_check_and_show(tmp_path: Path) -> None:
    check = rxguard("kb", "check")
    assert check.returncode == 0 and "is valid" in check.stdout
    show = rxguard("kb", "show", "Voltarol", "--format", "json")
    info = json.loads(show.stdout)
    diclofenac = info["ingredients"][0]
    assert diclofenac["id"] == "diclofenac"
    assert any(d["max_daily_dose_mg"] == 150 and "UK" in d["jurisdictions"] for d in diclofenac["dose_limits"])
    assert all(d["sources"] for d in diclofenac["dose_limits"])
    text = rxguard("kb", "show", "imuran")
    assert text.returncode == 0 and "1.20 USD" in text.stdout
    missing = rxguard("kb", "show", "unobtainium")
    assert missing.returncode == 5 and "unobtainium" in missing.stderr


def test_demo_screens_the_shipped_examples() -> None:
    run = rxguard("demo")
    assert run.returncode == 0, run.stderr
    assert "Screened" in run.stdout and "demo request" in run.stdout
