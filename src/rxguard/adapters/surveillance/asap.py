"""ASAP 4.2 PDMP reporting files: read dispensing records out of them, write controlled-substance fills into them.

What is validated against what. The ASAP 4.2 standard itself is sold by ASAP and is not available here: the
segment order, the segment ids and the field positions below are the facts recorded in the reference sheet
(`opioids-paracetamol-nsaids.md` section 2.5, read from the parafill/asap ASAP 4.2A writer for Ohio OARRS):

- the file starts with TH; the data element separator is the character after "TH" (`*`); the segment
  terminator is TH09 (default `\\`); TH01 is the version and must start with "4.2"; TT01 must repeat TH02 (the
  transaction control number);
- required segments TH, IS, PHA, PAT, DSP, PRE, TP, TT; each DSP belongs to the PAT before it and the PHA
  before that, and must be followed by its PRE; CDI and AIR segments are optional;
- DSP05 date filled (CCYYMMDD), DSP08 product id (an NDC), DSP09 quantity, DSP10 days supply are required and
  checked for form; PRE02 (DEA) or PRE01 (NPI) identifies the prescriber; PHA02 (NCPDP), PHA01 (NPI) or PHA03
  (DEA) the pharmacy; PAT03 (else PAT06) the patient, else last name + first name + date of birth.

Not validated, because their meaning is UNVERIFIED in the reference: the code lists (DSP01 reporting status is
read as 00 new / 01 revise / 02 void, DSP07 product-id qualifier, PAT ID qualifiers), TP01 and TT02 segment
counts (a mismatch is reported as a file warning, not a rejection), field lengths, and every optional field.
A record that fails a check goes to the reject file with its line and reason; nothing is dropped silently.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rxguard.errors import InputError

SEPARATOR = "*"
TERMINATOR = "\\"
RECORD_FIELDS = (
    "patient_id",
    "prescriber_id",
    "pharmacy_id",
    "fill_date",
    "ndc",
    "rxnorm",
    "quantity",
    "days_supply",
    "rx_number",
    "refill_number",
)


@dataclass(slots=True)
class AsapRead:
    """Records (field -> text, as read), rejected records and file-level problems, each with its line."""

    records: list[dict[str, str]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    rejects: list[tuple[int, str, str]] = field(default_factory=list)  # records: (line, reason, segment text)
    problems: list[tuple[int, str, str]] = field(default_factory=list)  # the file's structure, not a record
    warnings: list[str] = field(default_factory=list)
    version: str = ""
    control_number: str = ""
    segments: int = 0
    voided: int = 0
    revised: int = 0
    zero_report: bool = False

    @property
    def read(self) -> int:
        return len(self.records) + len(self.rejects)


def _segments(text: str) -> Iterator[tuple[int, str]]:
    """(line, segment) pairs; the terminator comes from TH09."""
    start = text.lstrip("\ufeff \r\n\t")
    offset = len(text) - len(start)
    if not start.startswith("TH") or len(start) < 3:
        raise InputError("INPUT", start[:20], "not an ASAP file: it must start with a TH segment")
    sep = start[2]
    terminator = TERMINATOR
    parts = start.split(sep, 9)
    if len(parts) >= 10 and parts[9][:1] not in ("", sep, "\r", "\n"):
        terminator = parts[9][0]
    line = text.count("\n", 0, offset) + 1
    for raw in text[offset:].split(terminator):
        stripped = raw.strip()
        if stripped:
            lead = len(raw) - len(raw.lstrip())
            yield line + raw.count("\n", 0, lead), stripped.replace(sep, SEPARATOR) if sep != SEPARATOR else stripped
        line += raw.count("\n")


def _field(elements: list[str], index: int) -> str:
    return elements[index].strip() if index < len(elements) else ""


def _valid_date(text: str) -> bool:
    if len(text) != 8 or not text.isdigit():
        return False
    try:
        dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return False
    return True


def _number(text: str, integer: bool) -> bool:
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        return False
    return value > 0


def parse_asap(text: str) -> AsapRead:
    """Read an ASAP 4.2 file's dispensing records. Raises InputError only when it is not an ASAP file at all."""
    out = AsapRead()
    pharmacy = ""
    patient = ""
    patient_line = 0
    pending: dict[str, str] | None = None
    pending_line = 0
    pending_status = ""
    by_key: dict[tuple[str, str, str], int] = {}
    removed: set[int] = set()
    header_seen = False
    trailer_seen = False
    tp_seen = False
    block_segments = 0

    def close(reason_if_no_pre: bool) -> None:
        nonlocal pending
        if pending is None:
            return
        record, pending = pending, None
        if reason_if_no_pre and not record.get("prescriber_id"):
            out.rejects.append((pending_line, "DSP without a PRE (prescriber) segment after it", record["_text"]))
            return
        problems = _record_problems(record)
        if problems:
            out.rejects.append((pending_line, "; ".join(problems), record["_text"]))
            return
        key = (record["pharmacy_id"], record["rx_number"], record["refill_number"])
        if pending_status == "02":
            index = by_key.pop(key, None) if record["rx_number"] else None
            if index is None:
                out.rejects.append(
                    (pending_line, "void (DSP01=02) of a record not in this input: not applied", record["_text"])
                )
            else:
                removed.add(index)
                out.voided += 1
            return
        if pending_status == "01" and record["rx_number"] and key in by_key:
            removed.add(by_key[key])
            out.revised += 1
        if record["rx_number"]:
            by_key[key] = len(out.records)
        record.pop("_text", None)
        out.records.append(record)
        out.lines.append(pending_line)

    for line, segment in _segments(text):
        out.segments += 1
        elements = segment.split(SEPARATOR)
        kind = elements[0].upper()
        if trailer_seen:
            out.warnings.append(f"line {line}: segment {kind} after the TT trailer ignored")
            continue
        if kind == "TH":
            if header_seen:
                out.problems.append((line, "second TH segment in one file", segment))
                continue
            header_seen = True
            out.version = _field(elements, 1)
            out.control_number = _field(elements, 2)
            if not out.version.startswith("4.2"):
                raise InputError("TH01", out.version, "not an ASAP 4.2 file (TH01 must be 4.2, 4.2A or 4.2B)")
            continue
        if not header_seen:
            raise InputError("INPUT", segment[:20], "not an ASAP file: it must start with a TH segment")
        if kind == "IS":
            continue
        if kind == "PHA":
            close(True)
            pharmacy = _field(elements, 2) or _field(elements, 1) or _field(elements, 3)
            block_segments = 1
            tp_seen = False
            if not pharmacy:
                out.warnings.append(f"line {line}: PHA without NCPDP, NPI or DEA number")
            continue
        block_segments += 1
        if kind == "PAT":
            close(True)
            patient_line = line
            if _field(elements, 7).upper() == "REPORT" and _field(elements, 8).upper() == "ZERO":
                out.zero_report = True
                patient = ""
                continue
            patient = _field(elements, 3) or _field(elements, 6)
            if not patient:
                names = (_field(elements, 7), _field(elements, 8), _field(elements, 18))
                patient = "|".join(names) if all(names) else ""
            continue
        if kind == "DSP":
            close(True)
            if out.zero_report and not patient:
                continue
            pending_line = line
            pending_status = _field(elements, 1)
            pending = {
                "patient_id": patient,
                "prescriber_id": "",
                "pharmacy_id": pharmacy,
                "fill_date": _field(elements, 5),
                "ndc": _field(elements, 8),
                "rxnorm": "",
                "quantity": _field(elements, 9),
                "days_supply": _field(elements, 10),
                "rx_number": _field(elements, 2),
                "refill_number": _field(elements, 6),
                "_text": segment,
                "_patient_line": str(patient_line),
            }
            continue
        if kind == "PRE":
            if pending is None:
                out.problems.append((line, "PRE segment without a DSP before it", segment))
                continue
            pending["prescriber_id"] = _field(elements, 2) or _field(elements, 1)
            if not pending["prescriber_id"]:
                pending["prescriber_id"] = "-"  # present but empty: reported by the record checks
            continue
        if kind in ("CDI", "AIR"):
            continue
        if kind == "TP":
            close(True)
            tp_seen = True
            declared = _field(elements, 1)
            if declared.isdigit() and int(declared) != block_segments:
                out.warnings.append(
                    f"line {line}: TP01 says {declared} detail segments, {block_segments} counted (PHA to TP); "
                    "the counting rule is UNVERIFIED, so the records are kept"
                )
            continue
        if kind == "TT":
            close(True)
            trailer_seen = True
            if not tp_seen:
                out.problems.append((line, "no TP (pharmacy trailer) before TT", segment))
            if _field(elements, 1) != out.control_number:
                out.problems.append(
                    (line, f"TT01 {_field(elements, 1)!r} does not repeat TH02 {out.control_number!r}", segment)
                )
            declared = _field(elements, 2)
            if declared.isdigit() and int(declared) != out.segments:
                out.warnings.append(
                    f"line {line}: TT02 says {declared} segments, {out.segments} counted (TH to TT); "
                    "the counting rule is UNVERIFIED, so the records are kept"
                )
            continue
        out.problems.append((line, f"unknown segment {kind!r}", segment))
    close(True)
    if not trailer_seen:
        out.problems.append((0, "no TT (transaction trailer): the file may be truncated; its records were kept", ""))
    if removed:
        keep = [i for i in range(len(out.records)) if i not in removed]
        out.records = [out.records[i] for i in keep]
        out.lines = [out.lines[i] for i in keep]
    for record in out.records:
        record.pop("_patient_line", None)
    return out


def _record_problems(record: dict[str, str]) -> list[str]:
    problems = []
    if not record["patient_id"]:
        problems.append("no patient: PAT03/PAT06 and name + date of birth are all empty (or no PAT before the DSP)")
    if record["prescriber_id"] in ("", "-"):
        problems.append("PRE01 (NPI) and PRE02 (DEA) are both empty")
    if not record["pharmacy_id"]:
        problems.append("no pharmacy: PHA01-03 empty or no PHA before the record")
    if not _valid_date(record["fill_date"]):
        problems.append(f"DSP05 date filled {record['fill_date']!r} is not a date CCYYMMDD")
    ndc = record["ndc"].replace("-", "")
    if not (ndc.isdigit() and len(ndc) in (10, 11)):
        problems.append(f"DSP08 product id {record['ndc']!r} is not an NDC")
    if not _number(record["quantity"], integer=False):
        problems.append(f"DSP09 quantity {record['quantity']!r} is not a positive number")
    if not _number(record["days_supply"], integer=True):
        problems.append(f"DSP10 days supply {record['days_supply']!r} is not a positive whole number")
    return problems


def read_asap(path: Path) -> AsapRead:
    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        text = path.read_text(encoding="latin-1")
    except FileNotFoundError:
        raise InputError("INPUT", str(path), "no such file") from None
    return parse_asap(text)


# --- writing -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AsapRecord:
    patient_id: str
    prescriber_id: str
    pharmacy_id: str
    fill_date: dt.date
    ndc: str
    quantity: float
    days_supply: int
    rx_number: str = ""
    refill_number: int = 0


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _segment(kind: str, values: Iterable[str]) -> str:
    text = SEPARATOR.join([kind, *values]).rstrip(SEPARATOR)
    return text + TERMINATOR + "\n"


def write_asap(
    records: Iterable[AsapRecord], out: Path, *, source_id: str, source_name: str, control_number: str, now: dt.datetime
) -> int:
    """Write `records` (controlled-substance fills) as one ASAP 4.2 transaction; returns the records written.

    Pharmacy blocks (PHA ... TP) follow the order of first appearance. Fields rxguard does not hold (names,
    addresses, date written, the code-list qualifiers) are left empty; a PDMP will ask for more than this.
    """
    by_pharmacy: dict[str, list[AsapRecord]] = {}
    for record in records:
        by_pharmacy.setdefault(record.pharmacy_id, []).append(record)
    count = 0
    segments = 0
    with out.open("w", encoding="utf-8", newline="\n") as handle:
        th = ["4.2", control_number, "01", "", now.strftime("%Y%m%d"), now.strftime("%H%M%S"), "P", "", TERMINATOR]
        handle.write(SEPARATOR.join(["TH", *th]) + TERMINATOR + "\n")
        handle.write(_segment("IS", [source_id, source_name]))
        segments += 2
        for pharmacy, fills in by_pharmacy.items():
            block = 0
            handle.write(_segment("PHA", ["", pharmacy]))
            block += 1
            for r in fills:
                handle.write(_segment("PAT", ["", "", r.patient_id]))
                dsp = [
                    "00",
                    r.rx_number,
                    "",
                    "",
                    r.fill_date.strftime("%Y%m%d"),
                    str(r.refill_number),
                    "01",
                    r.ndc,
                    _num(r.quantity),
                    str(r.days_supply),
                ]
                handle.write(_segment("DSP", dsp))
                prescriber = ["", r.prescriber_id] if not r.prescriber_id.isdigit() else [r.prescriber_id]
                handle.write(_segment("PRE", prescriber))
                block += 3
                count += 1
            block += 1
            handle.write(_segment("TP", [str(block)]))
            segments += block
        segments += 1
        handle.write(_segment("TT", [control_number, str(segments)]))
    return count
