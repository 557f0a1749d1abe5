"""The shared checks as people write: a day alone is its midnight where a day is meant, years
between 1900 and 2999, and a required text must show something."""

from custos.core.validation import Cleaner


def test_a_day_alone_is_its_midnight_unless_a_time_is_required():
    cleaner = Cleaner()

    day = cleaner.moment("due_at", "2030-01-07")
    start = cleaner.moment("starts_at", "2030-01-07", time_required=True)
    timed = cleaner.moment("starts_at", "2030-01-07T09:30:00+01:00", time_required=True)

    assert (day.year, day.month, day.day, day.hour, day.minute) == (2030, 1, 7, 0, 0)
    assert start is None and [e.field for e in cleaner.errors] == ["starts_at"]
    assert timed is not None and timed.hour == 9


def test_a_day_is_between_the_years_1900_and_2999():
    import datetime as dt

    cleaner = Cleaner()

    assert cleaner.date("expected_close", "0001-01-01") is None
    assert cleaner.date("expected_close", dt.date(9999, 12, 31)) is None
    assert cleaner.date("expected_close", "13.07.2031") == dt.date(2031, 7, 13)
    assert [e.field for e in cleaner.errors] == ["expected_close", "expected_close"]


def test_a_required_text_of_invisible_characters_only_is_missing():
    cleaner = Cleaner()

    assert cleaner.text("name", "\u200b\u200d ", max_length=100, required=True) == "\u200b\u200d"
    assert cleaner.text("title", "Praxis\u200dNord", max_length=100, required=True) == "Praxis\u200dNord"
    assert [(e.field, e.message) for e in cleaner.errors] == [("name", "This field is required.")]


def test_a_currency_is_one_some_country_pays_with_today():
    cleaner = Cleaner()

    taken = [cleaner.currency("currency", code) for code in ("EUR", "pln", " CHF ", "JPY", "")]
    for code in ("DEM", "XAU", "XTS", "XXX", "EURO", 978):
        cleaner.currency("currency", code)

    assert taken == ["EUR", "PLN", "CHF", "JPY", "EUR"]
    assert [e.message for e in cleaner.errors] == ["Use a three-letter currency code such as EUR."] * 6
