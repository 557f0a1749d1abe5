"""What every CRM read shares: record scopes and searching what the actor may see."""

from __future__ import annotations

import re

from django.db import models

from custos.core.actor import Actor, RecordScope
from custos.crm.search import visible_search_fields
from custos.search.services import matching_ids

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def scoped[M: models.Model](actor: Actor, queryset: models.QuerySet[M]) -> models.QuerySet[M]:
    """Narrow owned records to what the actor's record scope lets them see."""
    if actor.record_scope == RecordScope.ALL:
        return queryset
    if actor.record_scope == RecordScope.TEAM:
        return queryset.filter(owner_id__in=actor.team_member_ids)
    return queryset.filter(owner_id=actor.user_id)


def search[M: models.Model](
    actor: Actor, model_key: str, queryset: models.QuerySet[M], q: str, fields: tuple[str, ...] | None = None
) -> models.QuerySet[M]:
    """Records whose visible fields contain q, through the search index; a role cannot find
    a record by a field it may not see."""
    q = _CONTROL.sub("", q).strip()[:200]
    if not q:
        return queryset
    visible = visible_search_fields(actor, model_key, fields)
    if not visible:
        return queryset.none()
    return queryset.filter(pk__in=matching_ids(actor, model_key, q, visible))
