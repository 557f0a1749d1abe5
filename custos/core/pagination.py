"""Keyset pagination with opaque cursors: stable under inserts, cheap at any depth."""

from __future__ import annotations

import uuid
from typing import TypeVar

from django.core import signing
from django.db import models
from django.utils.translation import gettext as _

from custos.core.errors import ValidationFailed

M = TypeVar("M", bound=models.Model)
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
_SALT = "custos.api.cursor"


def encode_cursor(last_id: uuid.UUID) -> str:
    return signing.dumps({"after": str(last_id)}, salt=_SALT, compress=False)


def decode_cursor(cursor: str) -> uuid.UUID:
    try:
        data = signing.loads(cursor, salt=_SALT)
        return uuid.UUID(data["after"])
    except (signing.BadSignature, KeyError, ValueError, TypeError):
        raise ValidationFailed.single(
            "cursor", _("This cursor is not valid; start again from the first page.")
        ) from None


def check_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed.single("limit", _("Choose a limit from 1 to %(max)d.") % {"max": MAX_LIMIT})
    return limit


def paginate[M: models.Model](
    queryset: models.QuerySet[M], *, cursor: str | None, limit: int | None
) -> tuple[list[M], str | None]:
    """One page of a queryset ordered by id, and the cursor of the next page (or None)."""
    size = check_limit(limit)
    if cursor:
        queryset = queryset.filter(pk__gt=decode_cursor(cursor))
    rows = list(queryset.order_by("pk")[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return rows, encode_cursor(rows[-1].pk) if more and rows else None
