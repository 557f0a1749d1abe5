"""Moments as people write them: a day alone is its midnight where a day is meant."""

from custos.core.validation import Cleaner


def test_a_day_alone_is_its_midnight_unless_a_time_is_required():
    cleaner = Cleaner()

    day = cleaner.moment("due_at", "2030-01-07")
    start = cleaner.moment("starts_at", "2030-01-07", time_required=True)
    timed = cleaner.moment("starts_at", "2030-01-07T09:30:00+01:00", time_required=True)

    assert (day.year, day.month, day.day, day.hour, day.minute) == (2030, 1, 7, 0, 0)
    assert start is None and [e.field for e in cleaner.errors] == ["starts_at"]
    assert timed is not None and timed.hour == 9
