"""Controlled-substance settings from the environment; bad values name the variable."""

from __future__ import annotations

import pytest

from rxguard.config import config_from_env
from rxguard.config_controlled import ControlledConfig, controlled_config_from_env
from rxguard.errors import ConfigError


def test_defaults_keep_the_knowledge_base_values() -> None:
    assert controlled_config_from_env({}) == ControlledConfig()
    assert config_from_env({}).controlled == ControlledConfig()


def test_every_setting_from_the_environment() -> None:
    env = {
        "RXGUARD_MME_FACTOR_SET": "cdc-2016",
        "RXGUARD_MME_CAUTION": "40",
        "RXGUARD_MME_HIGH": "100",
        "RXGUARD_NALOXONE_MME": "50",
        "RXGUARD_EARLY_REFILL_SHARE": "0.8",
        "RXGUARD_MPE_PRESCRIBERS": "4",
        "RXGUARD_MPE_PHARMACIES": "4",
        "RXGUARD_MPE_DAYS": "180",
        "RXGUARD_OPIOID_NAIVE_DAYS": "14",
        "RXGUARD_RX_JURISDICTION": "uk",
    }
    cfg = config_from_env(env).controlled
    assert cfg == ControlledConfig(
        mme_factor_set="cdc-2016",
        mme_caution=40,
        mme_high=100,
        naloxone_mme=50,
        early_refill_share=0.8,
        mpe_prescribers=4,
        mpe_pharmacies=4,
        mpe_days=180,
        opioid_naive_days=14,
        rx_jurisdiction="UK",
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RXGUARD_MME_CAUTION": "fifty"}, "RXGUARD_MME_CAUTION: must be a number"),
        ({"RXGUARD_MPE_DAYS": "90.5"}, "RXGUARD_MPE_DAYS: must be a whole number"),
        ({"RXGUARD_EARLY_REFILL_SHARE": "75"}, "early_refill_share"),
        ({"RXGUARD_MME_CAUTION": "90", "RXGUARD_MME_HIGH": "50"}, "mme_high: must be at least mme_caution"),
        ({"RXGUARD_MPE_PRESCRIBERS": "0"}, "mpe_prescribers"),
        ({"RXGUARD_RX_JURISDICTION": "United States"}, "rx_jurisdiction"),
    ],
)
def test_bad_values_are_configuration_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        controlled_config_from_env(env)
