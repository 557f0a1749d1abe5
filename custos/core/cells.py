"""Spreadsheet cells that stay text: every CSV and XLSX Custos writes goes through here."""

from __future__ import annotations

# A cell starting with one of these is a formula to Excel and LibreOffice (=HYPERLINK(...)).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """Text that a spreadsheet would take for a formula, made plain text."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_cell(text: str) -> str:
    """A spreadsheet set to split at semicolons (German, Polish) opens a comma-separated file
    split there too: no part after a semicolon may start a formula either ("b;=4+4")."""
    return ";".join(neutralise(part) for part in text.split(";"))


def restored(text: str) -> str:
    """A cell as it was before `csv_cell`: a file Custos exported, imported again."""
    return ";".join(_restored_part(part) for part in text.split(";"))


def _restored_part(text: str) -> str:
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) else text
