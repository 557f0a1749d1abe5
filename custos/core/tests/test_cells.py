"""Cells Custos writes stay text in a spreadsheet, and read back as they were."""

import pytest

from custos.core.cells import csv_cell, restored


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("Ada", "Ada"),
        ("=HYPERLINK(1)", "'=HYPERLINK(1)"),
        ("b;=4+4", "b;'=4+4"),
        ("a@example.org; -5", "a@example.org; -5"),  # a space first: no formula
        ("+49 30 1;-2", "'+49 30 1;'-2"),
    ],
)
def test_no_part_a_spreadsheet_splits_off_starts_a_formula_and_each_reads_back(text, written):
    assert csv_cell(text) == written
    assert restored(written) == text
