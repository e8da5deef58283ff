"""The knowledge base's typed schema: every file, entry and field, with unknown keys rejected.

Each rule carries a stable id (never reused), a version, a status and its sources (document, year,
section) with the confidence the reference sheets gave them: primary, secondary or unverified.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Confidence = Literal["primary", "secondary", "unverified"]
Status = Literal["active", "draft", "retired"]
Jurisdiction = Literal["US", "UK"]
BOTH_JURISDICTIONS: tuple[Jurisdiction, ...] = ("US", "UK")
SeverityName = Literal["contraindicated", "major", "moderate", "minor", "none"]
LevelName = Literal["contraindicated", "avoid", "caution"]
RuleId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.\-_]*$", min_length=3, max_length=120)]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9\-]*$", min_length=1, max_length=80)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class SourceDocument(Strict):
    """A document rules cite: a label, guideline, regulator communication, data file or paper."""

    id: Slug
    title: str
    year: int | None = Field(default=None, ge=1950, le=2100)
    publisher: str | None = None
    url: str | None = None
    note: str | None = None


class Citation(Strict):
    """One rule's pointer into a document, with the confidence of what was read there."""

    source: Slug
    section: str = Field(min_length=1)
    confidence: Confidence
    note: str | None = None


class Rule(Strict):
    """Fields every rule shares."""

    id: RuleId
    version: int = Field(ge=1)
    status: Status = "active"
    replaced_by: RuleId | None = None
    confidence: Confidence
    sources: list[Citation] = Field(min_length=1)
    notes: str | None = None

    @model_validator(mode="after")
    def _retired_rules_name_their_successor(self) -> Rule:
        if self.replaced_by is not None and self.status != "retired":
            raise ValueError("replaced_by is only for retired rules")
        return self


class DrugSet(Strict):
    """A set of drugs named by ingredient and/or class; at least one member."""

    ingredients: list[Slug] = Field(default_factory=list)
    classes: list[Slug] = Field(default_factory=list)

    @model_validator(mode="after")
    def _not_empty(self) -> DrugSet:
        if not self.ingredients and not self.classes:
            raise ValueError("a drug set needs at least one ingredient or class")
        return self


# --- vocabulary -------------------------------------------------------------------------------


class DrugClass(Strict):
    id: Slug
    name: str
    synonyms: list[str] = Field(default_factory=list)
    parents: list[Slug] = Field(default_factory=list)
    description: str | None = None


class Ingredient(Strict):
    id: Slug
    name: str
    us_name: str | None = None
    rxnorm: str | None = Field(default=None, pattern=r"^\d+$")
    rxnorm_note: str | None = None
    synonyms: list[str] = Field(default_factory=list)
    classes: list[Slug] = Field(default_factory=list)
    sources: list[Citation] = Field(default_factory=list)

    @model_validator(mode="after")
    def _code_or_reason(self) -> Ingredient:
        if self.rxnorm is None and not self.rxnorm_note:
            raise ValueError("an ingredient without an RxNorm code needs rxnorm_note saying why")
        return self


class Strength(Strict):
    value: float = Field(gt=0)
    unit: Literal["mg", "ug", "g", "ug/h", "mg/mL", "IU"]


class ProductIngredient(Strict):
    ingredient: Slug
    strength: Strength | None = None


DoseForm = Literal[
    "tablet",
    "capsule",
    "patch",
    "oral-solution",
    "injection",
    "nasal-spray",
    "suppository",
    "vaccine",
    "film",
    "gel",
]


class Product(Strict):
    """A product the catalog sells or that orders name: brand, strengths, form, legal category."""

    id: Slug
    name: str
    brand: str | None = None
    generic_name: str
    ingredients: list[ProductIngredient] = Field(min_length=1)
    dose_form: DoseForm
    unit: str = Field(description="the countable unit: tablet, capsule, patch, mL")
    route: Literal[
        "oral",
        "transdermal",
        "sublingual",
        "buccal",
        "nasal",
        "intramuscular",
        "subcutaneous",
        "intravenous",
        "rectal",
        "topical",
    ]
    release: Literal["immediate", "modified", "extended", "gastro-resistant", "n/a"] = "immediate"
    rx_only: bool
    dea_schedule: Literal["II", "III", "IV", "V"] | None = None
    uk_legal_category: Literal["POM", "P", "GSL", "CD2", "CD3", "CD4", "CD5"] | None = None
    rxnorm: list[Annotated[str, Field(pattern=r"^\d+$")]] = Field(default_factory=list)
    synonyms: list[str] = Field(default_factory=list)
    markets: list[Literal["US", "UK", "IN", "EU"]] = Field(min_length=1)
    catalog: bool = False
    opioid_tolerant_only: bool = False
    long_acting: bool = False
    sources: list[Citation] = Field(min_length=1)
    notes: str | None = None


class Price(Strict):
    product: Slug
    unit_price: float = Field(gt=0)
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


class PriceList(Strict):
    id: Slug
    status: Literal["real", "demo"]
    description: str
    sources: list[Citation] = Field(default_factory=list)
    prices: list[Price]

    @model_validator(mode="after")
    def _real_prices_cite(self) -> PriceList:
        if self.status == "real" and not self.sources:
            raise ValueError("a real price list needs its source")
        return self


class ConditionConcept(Strict):
    """A disease or state that rules refer to, with the codes and words that identify it."""

    id: Slug
    name: str
    snomed: list[Annotated[str, Field(pattern=r"^\d+$")]] = Field(default_factory=list)
    icd10: list[str] = Field(default_factory=list)
    synonyms: list[str] = Field(default_factory=list)
    inferred_from: list[LabPredicate] = Field(default_factory=list)
    parents: list[Slug] = Field(default_factory=list)


class LabPredicate(Strict):
    """A lab-value condition, for inferring a disease (eGFR < 30) or choosing a dose band."""

    measure: Slug
    op: Literal["<", "<=", ">", ">="]
    value: float
    unit: str


class LabMeasure(Strict):
    """A measurement the checks read: its LOINC codes and its canonical unit."""

    id: Slug
    name: str
    loinc: list[Annotated[str, Field(pattern=r"^\d+-\d$")]] = Field(default_factory=list)
    unit: str
    accepted_units: dict[str, float] = Field(default_factory=dict, description="unit -> factor to canonical")
    max_age_days: int | None = Field(default=None, ge=1)


# --- rules ------------------------------------------------------------------------------------


class Population(Strict):
    """Who a dose limit applies to; every stated bound must hold (bounds inclusive-exclusive)."""

    min_age_years: float | None = None
    max_age_years: float | None = None
    min_weight_kg: float | None = None
    max_weight_kg: float | None = None
    renal: LabRange | None = None
    hepatic_impairment: Literal["mild", "moderate", "severe"] | None = None
    conditions: list[Slug] = Field(default_factory=list, description="indication or state, any of")
    description: str


class LabRange(Strict):
    measure: Slug
    min: float | None = None
    max: float | None = None
    unit: str


class DoseLimit(Rule):
    """Maximum (and where sourced, minimum) doses of one ingredient for one route and population."""

    ingredient: Slug
    routes: list[str] = Field(min_length=1)
    jurisdictions: list[Jurisdiction] = Field(min_length=1)
    population: Population
    release: list[Literal["immediate", "modified", "extended", "gastro-resistant"]] = Field(default_factory=list)
    max_single_dose_mg: float | None = Field(default=None, gt=0)
    max_daily_dose_mg: float | None = Field(default=None, gt=0)
    max_daily_mg_per_kg: float | None = Field(default=None, gt=0)
    min_daily_mg_per_kg: float | None = Field(default=None, gt=0)
    max_weekly_dose_mg: float | None = Field(default=None, gt=0)
    weekly_dosing_only: bool = False
    counts_all_products: bool = True
    soft_maximum: bool = Field(default=False, description="'no added benefit' wording: warn, never critical")
    no_fixed_maximum: str | None = Field(default=None, description="why the sources give no maximum")
    not_sourced: str | None = Field(
        default=None,
        description="no dose source in the knowledge base yet: screening says the dose was not checked",
    )
    usual_dose: str
    frequency: str | None = None

    @model_validator(mode="after")
    def _says_something(self) -> DoseLimit:
        limits = (
            self.max_single_dose_mg,
            self.max_daily_dose_mg,
            self.max_daily_mg_per_kg,
            self.max_weekly_dose_mg,
        )
        if all(v is None for v in limits) and not (
            self.no_fixed_maximum or self.weekly_dosing_only or self.not_sourced
        ):
            raise ValueError(
                "a dose limit needs a maximum, weekly_dosing_only, no_fixed_maximum or not_sourced with a reason"
            )
        return self


class DailyDoseCondition(Strict):
    """The interaction applies only when an ingredient's daily dose is in this range (mg/day)."""

    ingredient: Slug
    min_daily_dose_mg: float | None = Field(default=None, gt=0)
    max_daily_dose_mg: float | None = Field(default=None, gt=0)
    description: str


class Interaction(Rule):
    """A drug-drug (or drug-class) interaction with severity, mechanism and what to do."""

    a: DrugSet
    b: DrugSet
    when: list[DailyDoseCondition] = Field(
        default_factory=list, description="all must hold; an unknown dose counts as holding (fail closed)"
    )
    severity: SeverityName
    severity_basis: str
    mechanism: str
    effect: str
    management: str
    patient_advice: str | None = None


class DuplicationClass(Rule):
    """A therapeutic class where two different members together are a hazard (TD)."""

    name: str
    members: DrugSet
    severity: SeverityName
    hazard: str
    management: str
    exceptions: str | None = None


class DrugDisease(Rule):
    drugs: DrugSet
    condition: Slug
    level: LevelName
    min_age_years: float | None = Field(default=None, description="only for patients at least this old (Beers)")
    max_age_years: float | None = Field(default=None, description="only for patients younger than this")
    jurisdictions: list[Jurisdiction] = Field(default_factory=lambda: list(BOTH_JURISDICTIONS))
    routes: list[str] = Field(default_factory=list)
    text: str
    management: str


class PregnancyRule(Rule):
    drugs: DrugSet
    applies_to: Literal["pregnancy", "breastfeeding"]
    from_week: float | None = Field(default=None, ge=0, le=45)
    to_week: float | None = Field(default=None, ge=0, le=45)
    level: LevelName
    jurisdictions: list[Jurisdiction] = Field(default_factory=lambda: list(BOTH_JURISDICTIONS))
    text: str
    management: str


class AgeRule(Rule):
    drugs: DrugSet
    min_age_years: float | None = None
    max_age_years: float | None = None
    level: LevelName
    criterion: str
    text: str
    management: str
    quality_of_evidence: str | None = None
    strength: str | None = None


class AllergyGroup(Rule):
    """Drugs where an allergy to one member is a reason for care with the others."""

    name: str
    members: DrugSet
    synonyms: list[str] = Field(default_factory=list)
    text: str


class CockcroftGault(Strict):
    """Creatinine clearance = (age_offset - age) x weight / (divisor x serum creatinine mg/dL), x female_factor."""

    age_offset: float
    creatinine_divisor: float
    female_factor: float
    confidence: Confidence
    sources: list[Citation] = Field(min_length=1)


class KbManifest(Strict):
    kb_version: str = Field(pattern=r"^\d{4}\.\d{2}\.\d+$")
    released: str
    description: str
    default_jurisdiction: Jurisdiction = "US"
    default_currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"
    non_drug_allergens: list[str] = Field(default_factory=list)
    cockcroft_gault: CockcroftGault
    changelog: list[str] = Field(default_factory=list)


# --- files ------------------------------------------------------------------------------------


class SourcesFile(Strict):
    sources: list[SourceDocument] = Field(default_factory=list)


class ClassesFile(Strict):
    classes: list[DrugClass] = Field(default_factory=list)


class IngredientsFile(Strict):
    ingredients: list[Ingredient] = Field(default_factory=list)


class ProductsFile(Strict):
    products: list[Product] = Field(default_factory=list)


class PricesFile(Strict):
    price_lists: list[PriceList] = Field(default_factory=list)


class ConditionsFile(Strict):
    conditions: list[ConditionConcept] = Field(default_factory=list)
    measures: list[LabMeasure] = Field(default_factory=list)


class DoseLimitsFile(Strict):
    dose_limits: list[DoseLimit] = Field(default_factory=list)


class InteractionsFile(Strict):
    interactions: list[Interaction] = Field(default_factory=list)


class DuplicationFile(Strict):
    duplication_classes: list[DuplicationClass] = Field(default_factory=list)


class DrugDiseaseFile(Strict):
    drug_disease: list[DrugDisease] = Field(default_factory=list)


class PregnancyFile(Strict):
    pregnancy: list[PregnancyRule] = Field(default_factory=list)


class AgeFile(Strict):
    age: list[AgeRule] = Field(default_factory=list)


class AllergyFile(Strict):
    allergy_groups: list[AllergyGroup] = Field(default_factory=list)


FILES: dict[str, type[Strict]] = {
    "kb.yaml": KbManifest,
    "sources.yaml": SourcesFile,
    "classes.yaml": ClassesFile,
    "ingredients.yaml": IngredientsFile,
    "products.yaml": ProductsFile,
    "prices.yaml": PricesFile,
    "conditions.yaml": ConditionsFile,
    "dose_limits.yaml": DoseLimitsFile,
    "interactions.yaml": InteractionsFile,
    "duplication.yaml": DuplicationFile,
    "drug_disease.yaml": DrugDiseaseFile,
    "pregnancy.yaml": PregnancyFile,
    "age.yaml": AgeFile,
    "allergy.yaml": AllergyFile,
}


ConditionConcept.model_rebuild()
Population.model_rebuild()
