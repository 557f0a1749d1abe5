"""Normalising text the same way for indexing and for searching."""

from __future__ import annotations

import re
import unicodedata

# Apostrophes go, however a keyboard types them (a phone's right single quotation mark, a
# desktop's ASCII one) or leaves them out: "O'Brien" typed either way and "OBrien" are one name.
_FOLD = str.maketrans(
    {"ß": "ss", "æ": "ae", "ø": "o", "ł": "l", "đ": "d", "þ": "th", **dict.fromkeys("'\u2019\u2018\u02bc`\u00b4", "")}
)
_SPACE = re.compile(r"\s+")
_PHONE_LIKE = re.compile(r"^[+()\d\s./-]{4,}$")
# What `Cleaner.text` refuses in stored text (a tab, a line break are kept), and halves of
# surrogate pairs, which no text holds and no database driver can encode.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
# What is searched for is cut to this: no stored value it could find is longer.
QUERY_LENGTH = 200


def typed(text: str) -> str:
    """Typed text to look something up by, trimmed and without the control characters no
    stored value holds (PostgreSQL refuses a NUL in any text: an error, not "no match")."""
    return _CONTROL.sub("", text).strip()


def query(text: str) -> str:
    """What was typed into a search box, cut to QUERY_LENGTH."""
    return typed(text)[:QUERY_LENGTH]


def normalise(text: str) -> str:
    """Case, accents, apostrophes and spacing out of the way: 'Müller ' and 'muller' compare
    equal, and so do "O'Brien" and "obrien"."""
    folded = unicodedata.normalize("NFKD", text.casefold().translate(_FOLD))
    stripped = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return _SPACE.sub(" ", stripped).strip()


def digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def looks_like_phone(text: str) -> bool:
    return bool(_PHONE_LIKE.match(text.strip())) and len(digits(text)) >= 4
