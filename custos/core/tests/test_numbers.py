"""Numbers as people type them into forms and spreadsheets, in every language Custos speaks."""

from decimal import Decimal

import pytest

from custos.core.validation import AmbiguousNumber, Cleaner, read_number


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("12", Decimal("12")),
        ("3,5", Decimal("3.5")),
        ("1.250,50", Decimal("1250.50")),
        ("1,250.50", Decimal("1250.50")),
        ("1 250,50", Decimal("1250.50")),
        ("1.000.000", Decimal("1000000")),
        (",5", Decimal("0.5")),
        ("0.500", Decimal("0.5")),
        ("-2,75", Decimal("-2.75")),
    ],
)
def test_a_number_reads_as_it_was_meant(text, number):
    assert read_number(text) == number


@pytest.mark.parametrize("text", ["1.500", "1,500", "-12.345"])
def test_a_thousand_and_a_fraction_written_alike_is_asked_about(text):
    with pytest.raises(AmbiguousNumber):
        read_number(text)


@pytest.mark.parametrize("text", ["abc", "1.2.3", "1,25,0", "1.250.5", "1.5e3", "", "1,2,3.4,5"])
def test_what_is_not_a_number_is_refused(text):
    with pytest.raises(ValueError):
        read_number(text)


def test_an_amount_in_german_is_taken_and_an_ambiguous_one_named():
    cleaner = Cleaner()

    assert cleaner.money("amount", "1.250,50") == Decimal("1250.50")
    assert cleaner.money("price", "1.500") is None
    assert [(e.field, e.message) for e in cleaner.errors] == [
        ("price", "Write this number without a thousands separator (such as 1500), or with one or two decimals.")
    ]
