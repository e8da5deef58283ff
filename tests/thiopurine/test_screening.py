"""PGX, TN, DL and SR cards on thiopurine orders, and silence on every other order."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests import builders as b
from tests.conftest import codes, only

IMURAN = "Imuran 50 mg tablet"
LOINC = "http://loinc.org"


def genotype(gene: str, diplotype: str, days_ago: int = 400) -> dict[str, Any]:
    """The HL7 genomics-reporting shape the shared case builder uses (LOINC 84413-4 + gene 48018-6)."""
    hgnc = {"TPMT": "HGNC:12014", "NUDT15": "HGNC:23063"}[gene]
    return {
        "resourceType": "Observation",
        "id": f"geno-{gene}",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "84413-4"}], "text": f"{gene} genotype"},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": (b.TODAY - timedelta(days=days_ago)).isoformat(),
        "valueCodeableConcept": {"text": f"{gene} {diplotype}"},
        "component": [
            {
                "code": {"coding": [{"system": LOINC, "code": "48018-6"}]},
                "valueCodeableConcept": {
                    "coding": [{"system": "http://www.genenames.org/geneId", "code": hgnc, "display": gene}]
                },
            }
        ],
    }


def phenotype(text: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": "pheno-tpmt",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "79713-4"}], "text": "TPMT phenotype"},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": (b.TODAY - timedelta(days=30)).isoformat(),
        "valueCodeableConcept": {"text": text},
    }


def screen_imuran(
    screen: Any, *observations: dict[str, Any], tablets: float = 1, condition: str = "crohn's disease", **kw: Any
) -> Any:
    return screen(
        b.request(
            b.order(IMURAN, tablets, per_day=1),
            observations=[b.weight(70), *observations],
            conditions=[b.condition(condition)],
            **kw,
        )
    )


def test_intermediate_tpmt(screen: Any) -> None:
    card = only(screen_imuran(screen, genotype("TPMT", "*1/*3A"), genotype("NUDT15", "*1/*1")), "PGX")
    assert card.indicator.label == "warning"
    assert card.facts["phenotype"] == {"TPMT": "Intermediate Metabolizer", "NUDT15": "Normal Metabolizer"}
    assert card.facts["start_dose_percent"] == [30, 80]
    assert card.facts["recommended_mg_per_kg_day"] == [0.6, 2.4]  # CPIC's own example for 2-3 mg/kg/day
    assert card.facts["recommended_daily_dose_mg"] == [50, 150]  # 42-168 mg in whole 25/50 mg Imuran tablets
    assert card.facts["tablet_strengths_mg"] == [25, 50]
    assert card.facts["steady_state_weeks"] == [2, 4]
    assert card.rule_id == "pgx.cpic.azathioprine.tpmt-im.nudt15-nm"
    assert len(card.summary) < 140


def test_both_intermediate_uses_the_march_2024_amendment(screen: Any) -> None:
    card = only(screen_imuran(screen, genotype("TPMT", "*1/*3A"), genotype("NUDT15", "*1/*3")), "PGX")
    assert card.facts["start_dose_percent"] == [20, 50]
    assert card.facts["amendment"] == "pgx.cpic.amendment-2024-03.tpmt-im.nudt15-im"
    assert card.facts["recommended_daily_dose_mg"] == [50, 100]  # 28-105 mg
    assert any(s.document.startswith("CPIC Guideline for Thiopurines") for s in card.sources)


def test_poor_metabolizer_non_malignant_is_critical(screen: Any) -> None:
    card = only(screen_imuran(screen, genotype("TPMT", "*3A/*3A"), genotype("NUDT15", "*1/*1")), "PGX")
    assert card.indicator.label == "critical"
    assert card.facts["start_dose_percent"] is None and "non-thiopurine" in card.summary


def test_poor_metabolizer_with_malignancy_gets_the_reduced_dose(screen: Any) -> None:
    result = screen(
        b.request(
            b.order("mercaptopurine 50 mg oral tablet", 1, per_day=1),
            observations=[b.weight(70), genotype("TPMT", "*3A/*3A"), genotype("NUDT15", "*1/*1")],
            conditions=[b.condition("acute lymphoblastic leukemia", "91857003")],
        )
    )
    card = only(result, "PGX")
    assert card.facts["malignant"] is True and card.facts["start_dose_percent"] == [10, 10]
    assert card.facts["dose_frequency"] == "three times a week"
    assert card.indicator.label == "critical"  # 50 mg/day is far above 10% of 1.5 mg/kg/day


def test_normal_is_info(screen: Any) -> None:
    card = only(screen_imuran(screen, genotype("TPMT", "*1/*1"), genotype("NUDT15", "*1/*1")), "PGX")
    assert card.indicator.label == "info" and card.facts["start_dose_percent"] == [100, 100]
    assert "TN" not in codes(screen_imuran(screen, genotype("TPMT", "*1/*1"), genotype("NUDT15", "*1/*1")))


def test_indeterminate_is_info_with_the_test_cpic_suggests(screen: Any) -> None:
    card = only(screen_imuran(screen, genotype("TPMT", "*1/*5"), genotype("NUDT15", "*1/*1")), "PGX")
    assert card.indicator.label == "info"
    assert card.facts["phenotype"]["TPMT"] == "Indeterminate"
    assert "erythrocyte TPMT activity" in card.detail


def test_a_phenotype_result_is_enough(screen: Any) -> None:
    result = screen_imuran(screen, phenotype("Intermediate metaboliser"), genotype("NUDT15", "*1/*1"))
    assert only(result, "PGX").facts["phenotype"]["TPMT"] == "Intermediate Metabolizer"


def test_no_result_needs_a_test(screen: Any) -> None:
    result = screen_imuran(screen)
    card = only(result, "TN")
    assert card.indicator.label == "warning" and card.facts["missing_tests"] == ["TPMT", "NUDT15"]
    assert "PGX" not in codes(result)


def test_only_nudt15_missing_is_info_and_tpmt_still_doses(screen: Any) -> None:
    result = screen_imuran(screen, genotype("TPMT", "*1/*3A"))
    assert only(result, "TN").indicator.label == "info"
    assert only(result, "PGX").facts["phenotype"]["NUDT15"] == "No Result"


@pytest.mark.parametrize("drug", ["Panadol 500 mg tablets", "allopurinol 100 mg oral tablet"])
def test_other_orders_get_no_thiopurine_cards(screen: Any, drug: str) -> None:
    result = screen(
        b.request(
            b.order(drug, 1, per_day=1),
            meds=[b.med(IMURAN, 1, per_day=1, days=28, refills=11, authored=b.TODAY - timedelta(days=300))],
            observations=[b.weight(70), b.lab("6690-2", 2.0, "10*3/uL", days_ago=3)],
        )
    )
    assert not {"PGX", "TN", "DL", "SR"} & set(codes(result))


def test_low_white_count_is_a_dl_warning(screen: Any) -> None:
    result = screen_imuran(
        screen, genotype("TPMT", "*1/*1"), genotype("NUDT15", "*1/*1"), b.lab("6690-2", 3.0, "10*3/uL", days_ago=6)
    )
    card = only(result, "DL")
    assert card.indicator.label == "warning" and card.facts["value"] == 3.0 and card.facts["action"] == "withhold"


def test_several_results_make_one_card_with_the_worst_first(screen: Any) -> None:
    result = screen_imuran(
        screen,
        genotype("TPMT", "*1/*1"),
        genotype("NUDT15", "*1/*1"),
        b.lab("751-8", 0.8, "10*3/uL", days_ago=2),
        b.lab("777-3", 120, "10*3/uL", days_ago=2),
    )
    card = only(result, "DL")
    assert card.indicator.label == "critical" and card.facts["measure"] == "neutrophils"
    assert "Platelet count below 140" in card.detail


def test_a_steady_fall_is_a_dl_card_that_explains_the_rule(screen: Any) -> None:
    labs = [b.lab("6690-2", v, "10*3/uL", days_ago=d) for v, d in ((7.0, 40), (6.0, 20), (5.0, 2))]
    card = only(screen_imuran(screen, genotype("TPMT", "*1/*1"), genotype("NUDT15", "*1/*1"), *labs), "DL")
    assert card.rule_id == "thiopurine.trend.wbc-falling"
    assert "does not define 'rapid'" in card.detail


def test_an_overdue_blood_test_is_tn(screen: Any) -> None:
    current = b.med(IMURAN, 1, per_day=1, days=28, refills=11, authored=b.TODAY - timedelta(days=200))
    result = screen(
        b.request(
            b.order(IMURAN, 1, per_day=1),
            meds=[current],
            observations=[
                b.weight(70),
                genotype("TPMT", "*1/*1"),
                genotype("NUDT15", "*1/*1"),
                b.lab("6690-2", 6.0, "10*3/uL", days_ago=150),
            ],
            conditions=[b.condition("rheumatoid arthritis", "69896004")],
        )
    )
    card = only(result, "TN")
    assert card.facts["schedule"] == "rheumatology" and card.facts["days_overdue"] > 0


def test_steroids_long_after_starting_azathioprine_for_ra_is_sr_info(screen: Any) -> None:
    current = b.med(IMURAN, 1, per_day=1, days=28, refills=11, authored=b.TODAY - timedelta(days=90))
    steroid = b.med("prednisolone 5 mg tablet", 1, per_day=1, days=28, refills=5, authored=b.TODAY - timedelta(days=90))
    result = screen(
        b.request(
            b.order(IMURAN, 1, per_day=1),
            meds=[current, steroid],
            observations=[
                b.weight(70),
                genotype("TPMT", "*1/*1"),
                genotype("NUDT15", "*1/*1"),
                b.lab("6690-2", 6.0, "10*3/uL", days_ago=5),
            ],
            conditions=[b.condition("rheumatoid arthritis", "69896004")],
        )
    )
    card = only(result, "SR")
    assert card.indicator.label == "info" and card.facts["weeks_on_thiopurine"] >= 8
