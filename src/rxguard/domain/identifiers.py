"""Prescriber identifiers: DEA registration numbers and NPIs, checked by format and check digit.

Pure functions, no knowledge-base lookups: which first letters a prescriber's DEA number may start with is
policy data the caller passes in (rxguard keeps it in the knowledge base with its source).

- DEA number: two letters and seven digits. The first letter is the registrant type; the second is the
  first letter of the registrant's last name (or "9" for a registrant at a business address). With the
  digits d1..d7, (d1 + d3 + d5) + 2 x (d2 + d4 + d6) must end in d7.
- NPI: ten digits starting with 1 or 2; the last is a Luhn check digit computed as if the card-issuer
  prefix 80840 stood in front of the first nine (equivalently: add 24 to the Luhn sum of the nine).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass

DEA_FORMAT = re.compile(r"^[A-Z][A-Z9]\d{7}$")
NPI_FORMAT = re.compile(r"^\d{10}$")
NPI_PREFIX = "80840"


@dataclass(frozen=True, slots=True)
class IdentifierProblem:
    """One reason an identifier is not valid: a stable code and a sentence saying what is wrong."""

    code: str  # "format", "check-digit", "registrant-type", "last-name-letter", "npi-prefix"
    message: str


@dataclass(frozen=True, slots=True)
class IdentifierCheck:
    """The outcome of checking one identifier: the normalised value, what failed and what was not checked."""

    kind: str  # "DEA" or "NPI"
    value: str
    problems: tuple[IdentifierProblem, ...] = ()
    not_checked: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        return not self.problems


def normalise(value: str) -> str:
    """Upper case without spaces or hyphens: ' ab-1234563 ' -> 'AB1234563'."""
    return re.sub(r"[\s\-]", "", value).upper()


def dea_check_digit(digits: str) -> int:
    """The DEA check digit of the first six digits: units digit of (d1+d3+d5) + 2*(d2+d4+d6)."""
    if len(digits) < 6 or not digits[:6].isdigit():
        raise ValueError(f"need six digits, got {digits!r}")
    d = [int(c) for c in digits[:6]]
    return (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10


def _initial(family_name: str) -> str | None:
    """The first letter of a family name, accents removed: 'Ólafsson' -> 'O', "O'Brien" -> 'O'."""
    plain = unicodedata.normalize("NFKD", family_name)
    for char in plain:
        if char.isascii() and char.isalpha():
            return char.upper()
    return None


def check_dea(
    number: str,
    family_name: str | None = None,
    registrant_types: Collection[str] | None = None,
) -> IdentifierCheck:
    """Format, check digit, and (when given) registrant type and the last-name letter of a DEA number."""
    value = normalise(number)
    problems: list[IdentifierProblem] = []
    not_checked: list[str] = []
    if not DEA_FORMAT.match(value):
        problems.append(
            IdentifierProblem("format", f"{value!r} is not two letters (or a letter and 9) followed by seven digits")
        )
        return IdentifierCheck("DEA", value, tuple(problems))
    digits = value[2:]
    expected = dea_check_digit(digits)
    if int(digits[6]) != expected:
        problems.append(
            IdentifierProblem("check-digit", f"check digit of {value} should be {expected}, not {digits[6]}")
        )
    if registrant_types is not None:
        if value[0] not in registrant_types:
            allowed = ", ".join(sorted(registrant_types))
            problems.append(
                IdentifierProblem(
                    "registrant-type",
                    f"{value} starts with {value[0]!r}, not a prescriber registrant type ({allowed})",
                )
            )
    else:
        not_checked.append("registrant type")
    second = value[1]
    if second == "9":
        not_checked.append("last-name letter (registered at a business address)")
    elif family_name:
        initial = _initial(family_name)
        if initial is None:
            not_checked.append("last-name letter (the name has no letter)")
        elif initial != second:
            problems.append(
                IdentifierProblem(
                    "last-name-letter",
                    f"second letter of {value} is {second!r} but the prescriber's last name {family_name!r} "
                    f"starts with {initial!r}",
                )
            )
    else:
        not_checked.append("last-name letter (the prescriber's last name is not in the request)")
    return IdentifierCheck("DEA", value, tuple(problems), tuple(not_checked))


def luhn_check_digit(payload: str) -> int:
    """The Luhn (mod 10, double-add-double) check digit to append to `payload`."""
    if not payload.isdigit():
        raise ValueError(f"digits only, got {payload!r}")
    total = 0
    for i, char in enumerate(reversed(payload)):
        d = int(char)
        if i % 2 == 0:  # the rightmost payload digit is doubled (the check digit will follow it)
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


def npi_check_digit(first_nine: str) -> int:
    """The NPI check digit: Luhn over the 80840 prefix followed by the first nine digits."""
    if len(first_nine) != 9 or not first_nine.isdigit():
        raise ValueError(f"need nine digits, got {first_nine!r}")
    return luhn_check_digit(NPI_PREFIX + first_nine)


def check_npi(number: str) -> IdentifierCheck:
    """Ten digits, starting with 1 or 2, with a valid check digit."""
    value = normalise(number)
    if not NPI_FORMAT.match(value):
        return IdentifierCheck("NPI", value, (IdentifierProblem("format", f"{value!r} is not ten digits"),))
    problems: list[IdentifierProblem] = []
    if value[0] not in "12":
        problems.append(IdentifierProblem("npi-prefix", f"{value} does not start with 1 or 2"))
    expected = npi_check_digit(value[:9])
    if int(value[9]) != expected:
        problems.append(
            IdentifierProblem("check-digit", f"check digit of {value} should be {expected}, not {value[9]}")
        )
    return IdentifierCheck("NPI", value, tuple(problems))
