"""TPMT + NUDT15 phenotypes -> CPIC's thiopurine recommendation, with published amendments applied.

The generated CPIC row for the drug and phenotype pair is the base; an active amendment (the March 2024
TPMT IM + NUDT15 IM change) replaces its starting-dose range and says so. Malignant versus non-malignant
indication changes the poor-metabolizer advice. Answers are remembered per input, so a lookup is a dict hit.
"""

from __future__ import annotations

from dataclasses import dataclass

from rxguard.knowledge.schema import Citation
from rxguard.therapy.thiopurine.knowledge import (
    Amendment,
    Drug,
    IndicatorName,
    NormalDose,
    PgxIndex,
    Phenotype,
    Recommendation,
)
from rxguard.therapy.thiopurine.phenotype import IM, IND, NM, NONE, PIM, PM, GeneResult, interpret

TEST_ADVICE = {
    "erythrocyte-tpmt-activity": "erythrocyte TPMT activity (unreliable after a recent red-cell transfusion and "
    "falsely low at leukaemia diagnosis)",
    "monitor-closely": "close monitoring for toxicity while a status is unknown",
}


@dataclass(frozen=True, slots=True)
class Advice:
    """What CPIC recommends for one drug, phenotype pair and indication, ready to show or dose."""

    drug: Drug
    tpmt: Phenotype
    nudt15: Phenotype
    malignant: bool
    rule: Recommendation
    amendment: Amendment | None
    normal_dose: NormalDose
    indicator: IndicatorName
    start_dose_percent: tuple[int, int] | None
    malignant_start_percent: tuple[int, int] | None
    malignant_start_absolute: str | None
    thrice_weekly: bool
    advise_alternative: bool
    example_mg_per_kg_day: tuple[float, float] | None
    steady_state_weeks: tuple[int, int] | None
    tests: tuple[str, ...]
    summary: str

    @property
    def phenotypes(self) -> dict[str, str]:
        return {"TPMT": self.tpmt, "NUDT15": self.nudt15}

    @property
    def rule_id(self) -> str:
        return self.amendment.id if self.amendment is not None else self.rule.id

    @property
    def guideline_version(self) -> str:
        if self.amendment is None:
            return self.rule.guideline_version
        return f"{self.rule.guideline_version}; amended {self.amendment.effective}"

    def citations(self) -> list[Citation]:
        found = list(self.rule.sources)
        if self.amendment is not None:
            found = list(self.amendment.sources) + found
        return found

    def dose_percent(self) -> tuple[int, int] | None:
        """The percentage of the normal starting dose to start at, for this indication."""
        if self.start_dose_percent is not None:
            return self.start_dose_percent
        if self.malignant and self.malignant_start_percent is not None:
            return self.malignant_start_percent
        return None


def _indicator(tpmt: Phenotype, nudt15: Phenotype) -> IndicatorName:
    both = (tpmt, nudt15)
    if PM in both:
        return "critical"
    if IM in both or PIM in both:
        return "warning"
    return "info"


def recommend(index: PgxIndex, drug: Drug, tpmt: Phenotype, nudt15: Phenotype, malignant: bool = False) -> Advice:
    """CPIC's advice for a drug and TPMT x NUDT15 phenotype pair (amendments applied)."""
    key = ("advice", drug, tpmt, nudt15, malignant)
    cached = index.cache.get(str(key))
    if isinstance(cached, Advice):
        return cached
    rule = index.recommendations[(drug, tpmt, nudt15)]
    amendment = index.amendments.get((drug, tpmt, nudt15))
    percent = rule.start_dose_percent
    example = rule.example_mg_per_kg_day
    parts = [rule.summary]
    if amendment is not None:
        percent = amendment.start_dose_percent
        example = amendment.example_mg_per_kg_day.get(drug)
        parts = [
            amendment.summary,
            f"(Replaces the {rule.start_dose_percent[0]}-{rule.start_dose_percent[1]}% of the "
            f"{rule.guideline_version} row.)"
            if rule.start_dose_percent
            else "",
        ]
    malignant_dose = rule.malignant
    poor = rule.action == "poor"
    if poor and not malignant:
        percent = None
    indicator = _indicator(tpmt, nudt15)
    tests = tuple(TEST_ADVICE[t] for t in rule.test_advice)
    advice = Advice(
        drug=drug,
        tpmt=tpmt,
        nudt15=nudt15,
        malignant=malignant,
        rule=rule,
        amendment=amendment,
        normal_dose=index.normal_doses[drug],
        indicator=indicator,
        start_dose_percent=percent if not poor else None,
        malignant_start_percent=malignant_dose.percent if malignant_dose else None,
        malignant_start_absolute=malignant_dose.absolute if malignant_dose else None,
        thrice_weekly=bool(malignant_dose and malignant_dose.thrice_weekly),
        advise_alternative=poor and not malignant,
        example_mg_per_kg_day=example if not poor else None,
        steady_state_weeks=rule.steady_state_weeks,
        tests=tests,
        summary=" ".join(p for p in parts if p),
    )
    index.cache[str(key)] = advice
    return advice


def phenotype_or_none(result: GeneResult | None) -> Phenotype:
    return result.phenotype if result is not None else NONE


def lookup(index: PgxIndex, drug: Drug, tpmt: str | None, nudt15: str | None, malignant: bool = False) -> Advice:
    """Genotype (or phenotype) text -> advice: 'azathioprine', '*1/*3A', '*1/*1'. Remembered per input."""
    key = f"lookup|{drug}|{tpmt}|{nudt15}|{malignant}"
    cached = index.cache.get(key)
    if isinstance(cached, Advice):
        return cached
    t = interpret(index, "TPMT", tpmt).phenotype if tpmt else NONE
    n = interpret(index, "NUDT15", nudt15).phenotype if nudt15 else NONE
    advice = recommend(index, drug, t, n, malignant)
    index.cache[key] = advice
    return advice


def needs_test(tpmt: Phenotype, nudt15: Phenotype) -> bool:
    return tpmt in (IND, NONE) or nudt15 in (IND, NONE)


__all__ = ["IM", "IND", "NM", "NONE", "PIM", "PM", "Advice", "lookup", "needs_test", "recommend"]
