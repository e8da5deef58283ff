"""Site settings for the controlled-substance checks: MME factor set and thresholds, red-flag thresholds.

Every setting defaults to None, which keeps the knowledge base's sourced default (controlled/*.yaml); a site
overrides one with an environment variable. Bad values are configuration errors naming the variable.

| Variable | Setting | Knowledge-base default |
|---|---|---|
| RXGUARD_MME_FACTOR_SET | factor set id (cdc-2022, cdc-2016, cdc-data-file-2017) | cdc-2022 |
| RXGUARD_MME_CAUTION / RXGUARD_MME_HIGH | MME/day for an info / warning card | 50 / 90 |
| RXGUARD_NALOXONE_MME | MME/day from which naloxone is suggested | 50 |
| RXGUARD_EARLY_REFILL_SHARE | share of the previous days supply that must have passed (0-1) | 0.75 |
| RXGUARD_MPE_PRESCRIBERS / _PHARMACIES / _DAYS | multiple-provider episode | 5 / 5 / 90 |
| RXGUARD_OPIOID_NAIVE_DAYS | look-back for opioid tolerance, days | 7 |
| RXGUARD_RX_JURISDICTION | prescription rules (US, UK, or one a knowledge update adds) | the screening jurisdiction |
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from rxguard.errors import ConfigError


@dataclass(frozen=True, slots=True)
class ControlledConfig:
    """Overrides of the knowledge base's defaults for the controlled-substance checks (None: keep the default)."""

    mme_factor_set: str | None = None
    mme_caution: float | None = None
    mme_high: float | None = None
    naloxone_mme: float | None = None
    early_refill_share: float | None = None
    mpe_prescribers: int | None = None
    mpe_pharmacies: int | None = None
    mpe_days: int | None = None
    opioid_naive_days: int | None = None
    rx_jurisdiction: str | None = None

    def __post_init__(self) -> None:
        for name in ("mme_caution", "mme_high", "naloxone_mme"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigError(f"{name}: must be a positive number of MME/day (value: {value!r})")
        if self.mme_caution is not None and self.mme_high is not None and self.mme_high < self.mme_caution:
            raise ConfigError(
                f"mme_high: must be at least mme_caution (values: {self.mme_high!r} < {self.mme_caution!r})"
            )
        if self.early_refill_share is not None and not 0 < self.early_refill_share <= 1:
            raise ConfigError(f"early_refill_share: must be above 0 and at most 1 (value: {self.early_refill_share!r})")
        for name in ("mpe_prescribers", "mpe_pharmacies", "mpe_days", "opioid_naive_days"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name}: must be a whole number of at least 1 (value: {value!r})")
        if self.rx_jurisdiction is not None and not re.fullmatch(r"[A-Z]{2}(-[A-Z0-9]{1,6})?", self.rx_jurisdiction):
            raise ConfigError(f"rx_jurisdiction: must look like US, UK or US-NY (value: {self.rx_jurisdiction!r})")


_FLOATS = {
    "RXGUARD_MME_CAUTION": "mme_caution",
    "RXGUARD_MME_HIGH": "mme_high",
    "RXGUARD_NALOXONE_MME": "naloxone_mme",
    "RXGUARD_EARLY_REFILL_SHARE": "early_refill_share",
}
_INTS = {
    "RXGUARD_MPE_PRESCRIBERS": "mpe_prescribers",
    "RXGUARD_MPE_PHARMACIES": "mpe_pharmacies",
    "RXGUARD_MPE_DAYS": "mpe_days",
    "RXGUARD_OPIOID_NAIVE_DAYS": "opioid_naive_days",
}


def controlled_config_from_env(environ: Mapping[str, str] | None = None) -> ControlledConfig:
    """Read the RXGUARD_* variables above; an unreadable value is a ConfigError naming the variable."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for variable, name in _FLOATS.items():
        raw = env.get(variable)
        if raw:
            try:
                values[name] = float(raw)
            except ValueError:
                raise ConfigError(f"{variable}: must be a number (value: {raw!r})") from None
    for variable, name in _INTS.items():
        raw = env.get(variable)
        if raw:
            try:
                values[name] = int(raw)
            except ValueError:
                raise ConfigError(f"{variable}: must be a whole number (value: {raw!r})") from None
    if env.get("RXGUARD_MME_FACTOR_SET"):
        values["mme_factor_set"] = env["RXGUARD_MME_FACTOR_SET"].strip()
    if env.get("RXGUARD_RX_JURISDICTION"):
        values["rx_jurisdiction"] = env["RXGUARD_RX_JURISDICTION"].strip().upper()
    try:
        return ControlledConfig(**values)  # type: ignore[arg-type]
    except ConfigError as exc:
        raise ConfigError(f"controlled-substance settings: {exc}") from None
