"""Normalising text the same way for indexing and for searching."""

from __future__ import annotations

import re
import unicodedata

_FOLD = str.maketrans({"ß": "ss", "æ": "ae", "ø": "o", "ł": "l", "đ": "d", "þ": "th"})
_SPACE = re.compile(r"\s+")
_PHONE_LIKE = re.compile(r"^[+()\d\s./-]{4,}$")


def normalise(text: str) -> str:
    """Case, accents and spacing out of the way: 'Müller ' and 'muller' compare equal."""
    folded = unicodedata.normalize("NFKD", text.casefold().translate(_FOLD))
    stripped = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return _SPACE.sub(" ", stripped).strip()


def digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def looks_like_phone(text: str) -> bool:
    return bool(_PHONE_LIKE.match(text.strip())) and len(digits(text)) >= 4
