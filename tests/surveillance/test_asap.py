"""ASAP 4.2: reading, malformed files (each rejected with its line and reason), writing and reading back."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from rxguard.adapters.surveillance.asap import AsapRecord, parse_asap, read_asap, write_asap
from rxguard.errors import InputError

GOOD = "\n".join(
    [
        "TH*4.2*0001*01**20250301*120000*P**\\\\",
        "IS*SRC1*Example Pharmacy Group\\",
        "PHA*1234567893*0123456*AB1234563*Main Street Pharmacy\\",
        "PAT***PT-1****Doe*Jane\\",
        "DSP*00*RX1*20250225*0*20250301*0*01*00406052301*120*30\\",
        "PRE*1558598797*AP5836727\\",
        "PAT***PT-2\\",
        "DSP*00*RX2*20250226*0*20250302*0*01*00406052301*60*15\\",
        "PRE**AJ5184279\\",
        "TP*8\\",
        "TT*0001*11\\",
        "",
    ]
)


def test_reads_records_with_lines() -> None:
    read = parse_asap(GOOD)
    assert read.version == "4.2"
    assert read.control_number == "0001"
    assert [r["patient_id"] for r in read.records] == ["PT-1", "PT-2"]
    assert read.lines == [5, 8]
    first = read.records[0]
    assert first["prescriber_id"] == "AP5836727"  # PRE02 (DEA) before PRE01 (NPI)
    assert first["pharmacy_id"] == "0123456"  # PHA02 (NCPDP)
    assert (first["fill_date"], first["ndc"], first["quantity"], first["days_supply"]) == (
        "20250301",
        "00406052301",
        "120",
        "30",
    )
    assert read.rejects == [] and read.problems == [] and read.warnings == []


def test_segment_terminator_comes_from_th09() -> None:
    text = GOOD.replace("\\\\", "~~").replace("\\", "~")
    read = parse_asap(text)
    assert len(read.records) == 2


def test_not_an_asap_file() -> None:
    with pytest.raises(InputError, match="must start with a TH segment"):
        parse_asap("patient_id,fill_date\n1,2025-01-01\n")


def test_wrong_version() -> None:
    with pytest.raises(InputError, match=r"ASAP 4\.2"):
        parse_asap(GOOD.replace("TH*4.2*", "TH*4.1*"))


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        ("20250301*0*01*00406052301*120*30", "20250231*0*01*00406052301*120*30", "DSP05 date filled '20250231'"),
        ("01*00406052301*120*30", "01*0040605*120*30", "DSP08 product id '0040605' is not an NDC"),
        ("00406052301*120*30", "00406052301*0*30", "DSP09 quantity '0' is not a positive number"),
        ("00406052301*120*30", "00406052301*120*thirty", "DSP10 days supply 'thirty'"),
        ("PRE*1558598797*AP5836727", "PRE**", "PRE01 (NPI) and PRE02 (DEA) are both empty"),
        ("PAT***PT-1****Doe*Jane", "PAT", "no patient"),
    ],
)
def test_bad_record_is_rejected_with_line_and_reason(old: str, new: str, reason: str) -> None:
    read = parse_asap(GOOD.replace(old, new, 1))
    assert len(read.records) == 1
    assert len(read.rejects) == 1
    line, why, _text = read.rejects[0]
    assert line == 5
    assert reason in why


def test_dsp_without_pre_is_rejected() -> None:
    text = GOOD.replace("PRE*1558598797*AP5836727\\\n", "")
    read = parse_asap(text)
    assert [r[1] for r in read.rejects] == ["DSP without a PRE (prescriber) segment after it"]
    assert read.rejects[0][0] == 5


def test_truncated_file_and_control_number_are_file_problems() -> None:
    truncated = parse_asap(GOOD.split("TP*")[0])
    assert len(truncated.records) == 2
    assert any("no TT" in reason for _, reason, _ in truncated.problems)
    mismatch = parse_asap(GOOD.replace("TT*0001", "TT*0002"))
    assert any("does not repeat TH02" in reason for _, reason, _ in mismatch.problems)


def test_unknown_segment_is_reported() -> None:
    read = parse_asap(GOOD.replace("TP*8\\", "XYZ*1\\\nTP*9\\"))
    assert any("unknown segment 'XYZ'" in reason for _, reason, _ in read.problems)


def test_void_and_revise() -> None:
    void = GOOD.replace(
        "TP*8\\", "PAT***PT-1\\\nDSP*02*RX1*20250225*0*20250301*0*01*00406052301*120*30\\\nPRE**AP5836727\\\nTP*10\\"
    )
    read = parse_asap(void)
    assert [r["rx_number"] for r in read.records] == ["RX2"]
    assert read.voided == 1
    revise = void.replace("DSP*02*RX1", "DSP*01*RX1").replace(
        "*120*30\\\nPRE**AP5836727\\\nTP", "*90*30\\\nPRE**AP5836727\\\nTP"
    )
    read = parse_asap(revise)
    assert [(r["rx_number"], r["quantity"]) for r in read.records] == [("RX2", "60"), ("RX1", "90")]
    assert read.revised == 1


def test_zero_report_has_no_records() -> None:
    zero = (
        "TH*4.2*9*01**20250301*120000*P**\\\\\nIS*SRC\\\nPHA**0123456\\\nPAT*******REPORT*ZERO\\\n"
        "DSP*00****20250301\\\nTP*4\\\nTT*9*6\\\n"
    )
    read = parse_asap(zero)
    assert read.zero_report
    assert read.records == [] and read.rejects == []


def test_write_then_read_back(tmp_path: Path) -> None:
    records = [
        AsapRecord("PT-1", "AP5836727", "0123456", dt.date(2025, 3, 1), "00406052301", 120, 30, "RX1", 0),
        AsapRecord("PT-2", "1558598797", "0123456", dt.date(2025, 3, 2), "00406052301", 7.5, 15, "RX2", 1),
        AsapRecord("PT-1", "AP5836727", "7654321", dt.date(2025, 3, 3), "00406052301", 30, 30, "RX3", 0),
    ]
    path = tmp_path / "out.asap"
    written = write_asap(
        records, path, source_id="SRC", source_name="Test", control_number="42", now=dt.datetime(2025, 3, 4, 5, 6, 7)
    )
    assert written == 3
    read = read_asap(path)
    assert read.warnings == [] and read.problems == [] and read.rejects == []
    assert read.control_number == "42"
    got = {
        (
            r["patient_id"],
            r["prescriber_id"],
            r["pharmacy_id"],
            r["fill_date"],
            r["quantity"],
            r["days_supply"],
            r["rx_number"],
        )
        for r in read.records
    }
    assert got == {
        ("PT-1", "AP5836727", "0123456", "20250301", "120", "30", "RX1"),
        ("PT-2", "1558598797", "0123456", "20250302", "7.5", "15", "RX2"),
        ("PT-1", "AP5836727", "7654321", "20250303", "30", "30", "RX3"),
    }
