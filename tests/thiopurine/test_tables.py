"""Every row of CPIC's phenotype and recommendation tables, read from the reference files, against rxguard."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rxguard.therapy.thiopurine.knowledge import DRUGS, PHENOTYPES, PgxIndex
from rxguard.therapy.thiopurine.phenotype import diplotype_phenotype, phenotype_from_functions
from rxguard.therapy.thiopurine.recommendation import recommend

ROOT = Path(__file__).resolve().parents[2]
PERCENT = re.compile(r"(\d+)%\s*(?:-|to)\s*(\d+)%")
BOTH_INTERMEDIATE = {"Intermediate Metabolizer", "Possible Intermediate Metabolizer"}


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


@pytest.mark.parametrize("gene", ["TPMT", "NUDT15"])
def test_every_diplotype_row_gives_the_cpic_phenotype(index: PgxIndex, reference: Path, gene: str) -> None:
    table = rows(reference / "thiopurines" / f"{gene}_diplotype_phenotype_pharmcat.tsv")
    assert len(table) == {"TPMT": 946, "NUDT15": 45}[gene]
    wrong = []
    for row in table:
        first, second = row["diplotype"].split("/")
        for a, b in ((first, second), (second, first)):
            got = diplotype_phenotype(index, gene, a, b)  # type: ignore[arg-type]
            if got.phenotype != row["phenotype"]:
                wrong.append((row["diplotype"], row["phenotype"], got.phenotype))
    assert wrong == []


@pytest.mark.parametrize("gene", ["TPMT", "NUDT15"])
def test_the_allele_function_rule_reproduces_every_table_row(index: PgxIndex, reference: Path, gene: str) -> None:
    """CPIC's rule from allele functions (thiopurines.md 1b) agrees with the table, so derived calls are sound."""
    functions = {
        r["allele"]: r["clinical_function"]
        for r in rows(reference / "thiopurines" / f"{gene}_allele_function_pharmcat.tsv")
    }
    for row in rows(reference / "thiopurines" / f"{gene}_diplotype_phenotype_pharmcat.tsv"):
        a, b = row["diplotype"].split("/")
        assert phenotype_from_functions(functions[a], functions[b]) == row["phenotype"], row


def test_alleles_outside_the_table_are_derived_and_said_so(index: PgxIndex) -> None:
    result = diplotype_phenotype(index, "TPMT", "*3A", "*42")  # *42: unknown function (PyPGx table)
    assert result.phenotype == "Possible Intermediate Metabolizer"
    assert result.basis == "derived" and "not in CPIC's diplotype table" in result.notes[0]
    unknown = diplotype_phenotype(index, "TPMT", "*1", "*99")
    assert unknown.phenotype == "Indeterminate" and "not a defined allele" in unknown.notes[0]


def test_every_recommendation_row_is_encoded(index: PgxIndex, reference: Path) -> None:
    table = rows(reference / "thiopurines" / "cpic_thiopurine_recommendations_2024-03-25_flat.tsv")
    assert len(table) == 105
    for row in table:
        drug, tpmt, nudt15 = row["drug"], row["TPMT_phenotype"], row["NUDT15_phenotype"]
        text = row["recommendation_text"].split(" | Other Considerations | ")[0]
        for malignant in (False, True):
            advice = recommend(index, drug, tpmt, nudt15, malignant)  # type: ignore[arg-type]
            assert advice.rule.strength == row["strength"]
            assert advice.rule.annotation.endswith(row["pharmgkb_recommendation_id"])
            if "alternative non-thiopurine" in text:
                assert advice.advise_alternative is (not malignant)
                assert advice.indicator == "critical"
                if "10-fold" in text:
                    assert advice.malignant_start_percent == (10, 10)
                    assert advice.thrice_weekly is ("thrice weekly" in text)
                elif "25% of normal" in text:
                    assert advice.malignant_start_percent == (25, 25)
                else:
                    assert advice.malignant_start_absolute == "10 mg/m2/day"
                assert advice.dose_percent() == (advice.malignant_start_percent if malignant else None)
                continue
            match = PERCENT.search(text)
            if match and "reduced" in text:
                expected = (int(match.group(1)), int(match.group(2)))
                if tpmt in BOTH_INTERMEDIATE and nudt15 in BOTH_INTERMEDIATE:
                    expected = (20, 50)  # the March 2024 amendment over the 2024-03-25 rows
                    assert advice.amendment is not None
                else:
                    assert advice.amendment is None
                assert advice.dose_percent() == expected
                assert advice.indicator == "warning"
            elif "normal starting dose" in text:
                assert advice.dose_percent() == (100, 100)
                assert advice.indicator == "info"
            else:
                assert advice.dose_percent() is None and advice.indicator == "info"
                assert "erythrocyte TPMT activity" in " ".join(advice.tests)
            weeks = re.search(r"Allow (?:at least )?(\d+)(?:-(\d+))? weeks", text)
            if weeks:
                low = int(weeks.group(1))
                assert advice.steady_state_weeks == (low, int(weeks.group(2) or low))


def test_the_amendment_covers_all_sixteen_both_intermediate_rows(index: PgxIndex) -> None:
    amended = [(d, t, n) for d in DRUGS for t in PHENOTYPES for n in PHENOTYPES if (d, t, n) in index.amendments]
    assert len(amended) == 3 * 2 * 2
    advice = recommend(index, "azathioprine", "Intermediate Metabolizer", "Possible Intermediate Metabolizer")
    assert advice.example_mg_per_kg_day == (0.4, 1.5)
    assert advice.rule_id == "pgx.cpic.amendment-2024-03.tpmt-im.nudt15-im"
    assert "20-50%" in advice.summary and "30-80%" in advice.summary


def test_the_generated_knowledge_matches_the_generator(reference: Path, tmp_path: Path) -> None:
    """genes, diplotypes and recommendations are the script's output from the reference, not hand edits."""
    script = ROOT / "scripts" / "pgx_tables.py"
    code = (
        "import importlib.util, pathlib, sys; "
        f"spec = importlib.util.spec_from_file_location('t', {str(script)!r}); "
        "m = importlib.util.module_from_spec(spec); "
        "spec.loader.exec_module(m); "
        f"m.OUT = pathlib.Path({str(tmp_path)!r}); "
        f"sys.argv = ['x', '--reference', {str(reference / 'thiopurines')!r}]; "
        "sys.exit(m.main())"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    data = ROOT / "src" / "rxguard" / "knowledge" / "data" / "pgx"
    for name in ("genes.yaml", "diplotypes.yaml", "recommendations.yaml"):
        assert (tmp_path / name).read_text() == (data / name).read_text(), name
