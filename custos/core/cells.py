"""Spreadsheet cells that stay text: every CSV and XLSX Custos writes goes through here."""

from __future__ import annotations

# A cell starting with one of these is a formula to Excel and LibreOffice (=HYPERLINK(...)).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """Text that a spreadsheet would take for a formula, made plain text."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def restored(text: str) -> str:
    """A cell as it was before `neutralise`: a file Custos exported, imported again."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) else text
