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


def encode_cursor(last: models.Model, order: tuple[str, ...] = ("pk",)) -> str:
    """The cursor after `last`: its values of the ordering's fields, and the ordering itself,
    so that a cursor of one sort order is refused by another."""
    values = [str(getattr(last, name.lstrip("-"))) for name in order]
    return signing.dumps({"after": values, "order": ",".join(order)}, salt=_SALT, compress=False)


def decode_cursor(cursor: str, order: tuple[str, ...] = ("pk",)) -> list[str]:
    try:
        data = signing.loads(cursor, salt=_SALT)
        values = data["after"]
        if data["order"] != ",".join(order) or len(values) != len(order):
            raise ValueError
        uuid.UUID(values[-1])
        return [str(value) for value in values]
    except (signing.BadSignature, KeyError, ValueError, TypeError, AttributeError):
        raise ValidationFailed.single(
            "cursor", _("This cursor is not valid; start again from the first page.")
        ) from None


def _after(order: tuple[str, ...], values: list[str]) -> models.Q:
    """Rows after the given values in this order: (a > x) or (a = x and b > y) or …"""
    after = models.Q()
    for position, name in enumerate(order):
        field = name.lstrip("-")
        step = models.Q(**{f"{field}__{'lt' if name.startswith('-') else 'gt'}": values[position]})
        for earlier, value in zip(order[:position], values, strict=False):
            step &= models.Q(**{earlier.lstrip("-"): value})
        after |= step
    return after


def check_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed.single("limit", _("Choose a limit from 1 to %(max)d.") % {"max": MAX_LIMIT})
    return limit


def paginate[M: models.Model](
    queryset: models.QuerySet[M], *, cursor: str | None, limit: int | None, order: tuple[str, ...] = ("pk",)
) -> tuple[list[M], str | None]:
    """One page of a queryset, and the cursor of the next page (or None).

    `order` lists non-null fields, "-" for descending, ending with "pk" or "-pk" so that
    every row has its own place; the page after a cursor starts right after its last row,
    however many rows were added or removed before it.
    """
    size = check_limit(limit)
    if cursor:
        queryset = queryset.filter(_after(order, decode_cursor(cursor, order)))
    rows = list(queryset.order_by(*order)[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return rows, encode_cursor(rows[-1], order) if more and rows else None
