"""Fetching one object for a face: missing, malformed and forbidden ids look alike."""

from __future__ import annotations

from typing import Any, TypeVar

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import models

from custos.core.errors import NotFound

M = TypeVar("M", bound=models.Model)


def get_or_not_found[M: models.Model](queryset: models.QuerySet[M], **lookup: Any) -> M:
    try:
        return queryset.get(**lookup)
    except (ObjectDoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound() from None
