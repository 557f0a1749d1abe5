from __future__ import annotations

from typing import Any

from django.db import models

from custos.core.actor import Actor
from custos.core.lookup import get_or_not_found
from custos.privacy.models import Subject
from custos.privacy.registry import records_of


def subject_list(actor: Actor) -> models.QuerySet[Subject]:
    actor.require("subject.view")
    return Subject.objects.order_by("pk")


def access_subject(actor: Actor, subject_id: Any) -> Subject:
    actor.require("subject.view")
    return get_or_not_found(Subject.objects.all(), pk=subject_id)


def subject_record_counts(subject: Subject) -> dict[str, int]:
    """Record counts per model label (those holding any): the indexed walk from the subject."""
    counts = {r.declaration.model._meta.label: r.queryset.count() for r in records_of(subject)}
    return {label: count for label, count in counts.items() if count}
