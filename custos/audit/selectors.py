from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta

from django.db import models
from django.utils import timezone

from custos.audit.models import AuditEntry
from custos.core.actor import Actor


def audit_list(
    actor: Actor,
    *,
    action: str = "",
    user_id: uuid.UUID | None = None,
    object_type: str = "",
    object_id: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
) -> models.QuerySet[AuditEntry]:
    """Entries of the actor's organisation, newest first, filtered."""
    actor.require("audit.view")
    queryset = AuditEntry.objects.all()
    if action:
        queryset = queryset.filter(action__startswith=action)
    if user_id:
        queryset = queryset.filter(actor_user_id=user_id)
    if object_type:
        queryset = queryset.filter(object_type=object_type)
    if object_id:
        queryset = queryset.filter(object_id=object_id)
    zone = timezone.get_current_timezone()
    if date_from:
        queryset = queryset.filter(at__gte=datetime.combine(date_from, time.min, tzinfo=zone))
    if date_to and date_to < date.max:
        queryset = queryset.filter(at__lt=datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=zone))
    return queryset.order_by("-seq")
