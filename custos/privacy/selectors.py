"""Reads of the privacy engine, each with its permission check; missing and forbidden alike 404."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone

from custos.core.actor import Actor
from custos.core.errors import PermissionDenied
from custos.core.lookup import get_or_not_found
from custos.privacy.models import ConsentEvent, PrivacyRequest, Purpose, Subject
from custos.privacy.registry import records_of


def subject_list(actor: Actor) -> models.QuerySet[Subject]:
    actor.require("subject.view")
    return Subject.objects.order_by("pk")


def access_subject(actor: Actor, subject_id: Any, permission: str = "subject.view") -> Subject:
    actor.require(permission)
    return get_or_not_found(Subject.objects.all(), pk=subject_id)


def subject_record_counts(subject: Subject) -> dict[str, int]:
    """Record counts per model label (those holding any): the indexed walk from the subject."""
    counts = {r.declaration.model._meta.label: r.queryset.count() for r in records_of(subject)}
    return {label: count for label, count in counts.items() if count}


def _require_any(actor: Actor, *permissions: str) -> None:
    if not any(actor.can(p) for p in permissions):
        raise PermissionDenied(permissions[0])


def purpose_list(actor: Actor, *, active_only: bool = False) -> models.QuerySet[Purpose]:
    """Whoever records consent sees the purposes it is given for."""
    _require_any(actor, "purpose.view", "consent.view", "consent.add")
    purposes = Purpose.objects.order_by("key")
    return purposes.filter(is_active=True) if active_only else purposes


def access_purpose(actor: Actor, purpose_id: Any, *, write: bool = False) -> Purpose:
    if write:
        actor.require("purpose.change")
    else:
        _require_any(actor, "purpose.view", "consent.view", "consent.add")
    return get_or_not_found(Purpose.objects.all(), pk=purpose_id)


def purpose_by_reference(actor: Actor, reference: Any) -> Purpose:
    """A purpose named by id or by key."""
    _require_any(actor, "purpose.view", "consent.view", "consent.add")
    found = Purpose.objects.filter(key=reference).first() if isinstance(reference, str) else None
    return found or get_or_not_found(Purpose.objects.all(), pk=reference)


def consent_list(actor: Actor) -> models.QuerySet[ConsentEvent]:
    actor.require("consent.view")
    return ConsentEvent.objects.select_related("purpose").order_by("pk")


def request_list(
    actor: Actor, *, status: str = "", kind: str = "", overdue: bool = False
) -> models.QuerySet[PrivacyRequest]:
    actor.require("privacy_request.view")
    requests = PrivacyRequest.objects.all()
    if status:
        requests = requests.filter(status=status)
    if kind:
        requests = requests.filter(kind=kind)
    if overdue:
        requests = open_requests(requests).filter(due_at__lt=timezone.now())
    return requests.order_by("pk")


def open_requests(requests: models.QuerySet[PrivacyRequest]) -> models.QuerySet[PrivacyRequest]:
    return requests.exclude(status__in=[PrivacyRequest.Status.COMPLETED, PrivacyRequest.Status.REJECTED])


def access_request(actor: Actor, request_id: Any) -> PrivacyRequest:
    actor.require("privacy_request.view")
    return get_or_not_found(PrivacyRequest.objects.all(), pk=request_id)
