"""Serviceable-address normalisation: the same address written two ways is one address."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from cutover_addresses.domain.model import normalise, search_key
from cutover_addresses.entrypoints.schemas import AddressCreate


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("12 Main Street", None, "Springfield"), ("12  main st.", None, "SPRINGFIELD")),
        (("1 North Avenue", "Apartment 4", "Ely"), ("1 N. Ave", "apt 4", "ely")),
        (("5 Oak Road", None, "Bath"), ("5, Oak Rd", "", " Bath ")),
    ],
)
def test_case_spacing_punctuation_and_abbreviations_fold(first: tuple, second: tuple) -> None:
    assert normalise(*first) == normalise(*second)


def test_different_parts_stay_apart() -> None:
    assert normalise("12 Main St", None, "Springfield") != normalise("12", "Main St", "Springfield")
    assert normalise("12 Main St", None, "Springfield") != normalise(
        "13 Main St", None, "Springfield"
    )


def test_a_search_matches_inside_the_normalised_form() -> None:
    assert search_key("Main Street") in normalise("12 main st", None, "Springfield")


def base(**fields: object) -> dict:
    return {
        "line1": "1 A St",
        "city": "B",
        "subdivision": "C",
        "zip": "1",
        "country": "US",
        **fields,
    }


@pytest.mark.parametrize(
    "fields",
    [
        {"country": "XX"},
        {"country": "USA"},
        {"latitude": 91},
        {"longitude": -181},
        {"latitude": float("nan")},
        {"latitude": False},
        {"longitude": "45.5"},
        {"line1": ""},
        {"extra": 1},
    ],
)
def test_invalid_addresses_are_refused(fields: dict) -> None:
    with pytest.raises(ValidationError):
        AddressCreate.model_validate(base(**fields))


def test_a_whole_number_is_a_coordinate() -> None:
    assert AddressCreate.model_validate(base(latitude=45, longitude=-7)).latitude == 45


def test_country_codes_are_upper_cased() -> None:
    assert AddressCreate.model_validate(base(country="gb")).country == "GB"
