"""DEA registration numbers and NPIs: the worked examples of the reference sheet (section 3), valid and invalid."""

from __future__ import annotations

import pytest

from rxguard.domain.identifiers import check_dea, check_npi, dea_check_digit, luhn_check_digit, npi_check_digit

PRESCRIBERS = {"A", "B", "F", "G", "M"}


@pytest.mark.parametrize(
    ("number", "check_digit"),
    [
        # (5+3+7) + 2(8+6+2) = 15 + 32 = 47 -> 7 (takerx example)
        ("AP5836727", 7),
        # 15 + 2 x 12 = 39 -> 9
        ("AJ5184279", 9),
        # 9 + 2 x 12 = 33 -> 3
        ("AB1234563", 3),
    ],
)
def test_valid_dea_numbers_from_the_worked_examples(number: str, check_digit: int) -> None:
    assert dea_check_digit(number[2:]) == check_digit
    result = check_dea(number)
    assert result.valid, result.problems


def test_a_wrong_check_digit_is_named() -> None:
    # 13 + 2 x 14 = 41 -> 1, not 3
    result = check_dea("AB4523763")
    assert not result.valid
    assert [p.code for p in result.problems] == ["check-digit"]
    assert "should be 1" in result.problems[0].message


@pytest.mark.parametrize("number", ["A1234563", "AB123456", "AB12345678", "1B1234563", "AB12345X3", ""])
def test_malformed_dea_numbers(number: str) -> None:
    result = check_dea(number)
    assert [p.code for p in result.problems] == ["format"]


def test_spaces_hyphens_and_case_are_ignored() -> None:
    assert check_dea(" ab-123 4563 ").valid
    assert check_dea(" ab-123 4563 ").value == "AB1234563"


def test_the_second_letter_is_the_last_name_initial() -> None:
    assert check_dea("AB1234563", family_name="Brown").valid
    assert check_dea("AB1234563", family_name="Ólafsson-Brown").problems[0].code == "last-name-letter"
    wrong = check_dea("AB1234563", family_name="Smith")
    assert [p.code for p in wrong.problems] == ["last-name-letter"]
    unknown = check_dea("AB1234563")
    assert unknown.valid and any("last-name" in n for n in unknown.not_checked)


def test_a_business_address_registrant_has_9_as_second_letter() -> None:
    # 9 + 2 x 12 = 33 -> 3 with digits 1234563
    result = check_dea("A91234563", family_name="Smith")
    assert result.valid
    assert any("business address" in n for n in result.not_checked)


def test_registrant_type_letters_for_prescribers() -> None:
    assert check_dea("MB1234563", registrant_types=PRESCRIBERS).valid
    # P and R are manufacturers, distributors and others: not a prescriber
    result = check_dea("PB1234563", registrant_types=PRESCRIBERS)
    assert [p.code for p in result.problems] == ["registrant-type"]


def test_npi_check_digit_with_the_80840_prefix() -> None:
    # CMS example: 123456789 -> 3
    assert npi_check_digit("123456789") == 3
    assert luhn_check_digit("80840123456789") == 3
    assert check_npi("1234567893").valid
    assert check_npi("1558598797").valid


@pytest.mark.parametrize(
    ("number", "codes"),
    [
        ("1234567890", ["check-digit"]),
        ("1558598798", ["check-digit"]),
        ("123456789", ["format"]),
        ("12345678901", ["format"]),
        ("12345678a3", ["format"]),
        ("3234567893", ["npi-prefix", "check-digit"]),
    ],
)
def test_invalid_npis(number: str, codes: list[str]) -> None:
    assert [p.code for p in check_npi(number).problems] == codes


def test_the_24_shortcut_agrees_with_the_prefix() -> None:
    # Without the prefix, adding 24 to the Luhn sum of the nine digits gives the same check digit.
    for nine in ("123456789", "155859879", "100000000", "299999999"):
        total = 24
        for i, char in enumerate(reversed(nine)):
            d = int(char) * (2 if i % 2 == 0 else 1)
            total += d - 9 if d > 9 else d
        assert npi_check_digit(nine) == (10 - total % 10) % 10
