"""Screening configuration: jurisdiction, currency, and the thresholds a site may tune."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Literal

from rxguard.config_controlled import ControlledConfig, controlled_config_from_env
from rxguard.errors import ConfigError

Jurisdiction = Literal["US", "UK"]
JURISDICTIONS: tuple[Jurisdiction, ...] = ("US", "UK")


@dataclass(frozen=True, slots=True)
class ScreeningConfig:
    """Settings that change what screening reports. Defaults are the documented ones."""

    jurisdiction: Jurisdiction = "US"
    currency: str = "USD"
    fhir_validation: Literal["orders", "all"] = "orders"
    # Controlled-substance thresholds (MME, early refill, multiple providers); None keeps the KB default.
    controlled: ControlledConfig = field(default_factory=ControlledConfig)

    def with_jurisdiction(self, value: str) -> ScreeningConfig:
        upper = value.strip().upper()
        if upper not in JURISDICTIONS:
            raise ConfigError(f"jurisdiction: must be one of {', '.join(JURISDICTIONS)} (value: {value!r})")
        return replace(self, jurisdiction=upper)


def config_from_env(environ: dict[str, str] | None = None) -> ScreeningConfig:
    """RXGUARD_JURISDICTION, RXGUARD_CURRENCY and RXGUARD_FHIR_VALIDATION override the defaults."""
    env = os.environ if environ is None else environ
    config = ScreeningConfig(controlled=controlled_config_from_env(env))
    if env.get("RXGUARD_JURISDICTION"):
        config = config.with_jurisdiction(env["RXGUARD_JURISDICTION"])
    currency = env.get("RXGUARD_CURRENCY")
    if currency:
        if len(currency) != 3 or not currency.isalpha():
            raise ConfigError(f"RXGUARD_CURRENCY: must be a 3-letter ISO 4217 code (value: {currency!r})")
        config = replace(config, currency=currency.upper())
    validation = env.get("RXGUARD_FHIR_VALIDATION")
    if validation:
        if validation not in ("orders", "all"):
            raise ConfigError(f"RXGUARD_FHIR_VALIDATION: must be 'orders' or 'all' (value: {validation!r})")
        config = replace(config, fhir_validation=validation)  # type: ignore[arg-type]
    return config
