"""Setting up appointments: services, resources, practitioners and the organisation's settings.

Changing the catalogue needs `service.add` / `service.change` / `service.delete`; the
organisation-wide settings (reminder lead time and language, what calendar feeds reveal)
need `organization.change`, since they decide what personal data leaves the system.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.audit.services import audit_record
from custos.core.actor import Actor
from custos.core.errors import Conflict, ValidationFailed
from custos.core.models import Organization
from custos.core.validation import Cleaner, time_zone_names
from custos.crm.services.records import clean_member, insert_record, reject_unknown, update_record
from custos.scheduling.models import FeedDetail, Practitioner, Resource, SchedulingSettings, Service
from custos.scheduling.services.common import delete_audited

SERVICE_FIELDS = (
    "name",
    "duration_minutes",
    "price",
    "currency",
    "resource_kind",
    "recall_months",
    "reminder_hours",
    "is_active",
)
RESOURCE_FIELDS = ("name", "kind", "is_active")
PRACTITIONER_FIELDS = ("user", "is_active")
SETTINGS_FIELDS = ("reminder_hours", "language", "time_zone", "feed_detail")
MAX_DURATION = 24 * 60
MAX_REMINDER_HOURS = 24 * 14


def _flag(cleaner: Cleaner, field: str, value: Any, *, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    cleaner.fail(field, _("Enter true or false."))
    return default


def _unique_name(
    cleaner: Cleaner, queryset: models.QuerySet[Any], name: str, record: models.Model | None, message: str
) -> None:
    if name and queryset.filter(name__iexact=name).exclude(pk=getattr(record, "pk", None)).exists():
        cleaner.fail("name", message)


# Services -----------------------------------------------------------------------------


def clean_service(data: Mapping[str, Any], *, partial: bool, record: Service | None = None) -> dict[str, Any]:
    cleaner = Cleaner()
    cleaned: dict[str, Any] = {}
    reject_unknown(cleaner, data, SERVICE_FIELDS)
    for name in SERVICE_FIELDS:
        if partial and name not in data:
            continue
        value = data.get(name)
        match name:
            case "name":
                cleaned[name] = cleaner.text(name, value, max_length=200, required=True)
                _unique_name(
                    cleaner, Service.objects.all(), cleaned[name], record, _("A service has this name already.")
                )
            case "duration_minutes":
                cleaned[name] = cleaner.integer(name, value, minimum=5, maximum=MAX_DURATION, required=True)
            case "price":
                amount = cleaner.money(name, value)
                if amount is not None:  # none given: free on creation, unchanged on update
                    cleaned[name] = amount
            case "currency":
                cleaned[name] = cleaner.currency(name, value)
            case "resource_kind":
                # Empty: no particular kind; the message lists only the kinds there are.
                cleaned[name] = cleaner.choice(name, value, Resource.Kind.values, default="")
            case "recall_months":
                cleaned[name] = cleaner.integer(name, value, minimum=1, maximum=120)
            case "reminder_hours":
                cleaned[name] = cleaner.integer(name, value, minimum=1, maximum=MAX_REMINDER_HOURS)
            case "is_active":
                cleaned[name] = _flag(cleaner, name, value, default=True)
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    return cleaned


def service_create(*, actor: Actor, data: Mapping[str, Any]) -> Service:
    """Add a service to the catalogue."""
    actor.require("service.add")
    cleaned = clean_service(data, partial=False)
    service = Service(**cleaned)
    with transaction.atomic():
        insert_record(actor, service, "service", cleaned)
    return service


def service_update(*, actor: Actor, service: Service, data: Mapping[str, Any]) -> Service:
    actor.require("service.change")
    update_record(actor, service, "service", clean_service(data, partial=True, record=service))
    return service


def service_delete(*, actor: Actor, service: Service) -> None:
    """Only a service never booked can go; one with appointments is made inactive instead."""
    actor.require("service.delete")
    if service.appointments.exists() or service.recalls.exists():
        raise Conflict(_("This service has appointments or recalls; make it inactive instead."))
    delete_audited(actor, service, "service")


# Resources ----------------------------------------------------------------------------


def clean_resource(data: Mapping[str, Any], *, partial: bool, record: Resource | None = None) -> dict[str, Any]:
    cleaner = Cleaner()
    cleaned: dict[str, Any] = {}
    reject_unknown(cleaner, data, RESOURCE_FIELDS)
    for name in RESOURCE_FIELDS:
        if partial and name not in data:
            continue
        value = data.get(name)
        match name:
            case "name":
                cleaned[name] = cleaner.text(name, value, max_length=100, required=True)
                _unique_name(
                    cleaner, Resource.objects.all(), cleaned[name], record, _("A resource has this name already.")
                )
            case "kind":
                cleaned[name] = cleaner.choice(name, value, Resource.Kind.values, default=Resource.Kind.ROOM)
            case "is_active":
                cleaned[name] = _flag(cleaner, name, value, default=True)
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    return cleaned


def resource_create(*, actor: Actor, data: Mapping[str, Any]) -> Resource:
    """Add a room, chair or piece of equipment."""
    actor.require("service.add")
    cleaned = clean_resource(data, partial=False)
    resource = Resource(**cleaned)
    with transaction.atomic():
        insert_record(actor, resource, "resource", cleaned)
    return resource


def resource_update(*, actor: Actor, resource: Resource, data: Mapping[str, Any]) -> Resource:
    actor.require("service.change")
    update_record(actor, resource, "resource", clean_resource(data, partial=True, record=resource))
    return resource


def resource_delete(*, actor: Actor, resource: Resource) -> None:
    actor.require("service.delete")
    if resource.appointments.exists():
        raise Conflict(_("This resource has appointments; make it inactive instead."))
    delete_audited(actor, resource, "resource")


# Practitioners ------------------------------------------------------------------------


def practitioner_add(*, actor: Actor, data: Mapping[str, Any]) -> Practitioner:
    """Let a member give appointments."""
    actor.require("service.add")
    cleaner = Cleaner()
    reject_unknown(cleaner, data, PRACTITIONER_FIELDS)
    user_id = clean_member(cleaner, actor, "user", data.get("user"))
    if user_id is None and not cleaner.errors:
        cleaner.fail("user", _("Choose a member of this organisation."))
    if user_id is not None and Practitioner.objects.filter(user_id=user_id).exists():
        cleaner.fail("user", _("This member gives appointments already."))
    is_active = _flag(cleaner, "is_active", data.get("is_active"), default=True)
    if cleaner.errors or user_id is None:
        raise ValidationFailed(cleaner.errors)
    practitioner = Practitioner(user_id=user_id, is_active=is_active)
    with transaction.atomic():
        insert_record(actor, practitioner, "practitioner", {"user_id": user_id, "is_active": is_active})
    return practitioner


def practitioner_update(*, actor: Actor, practitioner: Practitioner, data: Mapping[str, Any]) -> Practitioner:
    """Only whether they take new appointments changes; the member stays who they are."""
    actor.require("service.change")
    cleaner = Cleaner()
    reject_unknown(cleaner, data, ("is_active",))
    cleaned = {"is_active": _flag(cleaner, "is_active", data.get("is_active"), default=True)} if data else {}
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    update_record(actor, practitioner, "practitioner", cleaned)
    return practitioner


def practitioner_deactivate_member(*, actor: Actor, user_id: Any) -> None:
    """A member who leaves takes no new appointments (past ones stay theirs); the caller
    (removing the member) holds the permission."""
    practitioner = Practitioner.objects.filter(user_id=user_id, is_active=True).first()
    if practitioner is not None:
        update_record(actor, practitioner, "practitioner", {"is_active": False})


def practitioner_delete(*, actor: Actor, practitioner: Practitioner) -> None:
    actor.require("service.delete")
    if practitioner.appointments.exists():
        raise Conflict(_("This practitioner has appointments; make them inactive instead."))
    delete_audited(actor, practitioner, "practitioner")


# Settings -----------------------------------------------------------------------------

COUNTRY_LANGUAGES = {"DE": "de", "AT": "de", "CH": "de", "LI": "de", "PL": "pl"}


def scheduling_settings(org_id: Any) -> SchedulingSettings:
    """The organisation's settings; until changed, defaults that follow its country."""
    found = SchedulingSettings.objects.first()
    if found is not None:
        return found
    country = Organization.objects.filter(pk=org_id).values_list("country", flat=True).first() or ""
    language = COUNTRY_LANGUAGES.get(country, settings.LANGUAGE_CODE)
    return SchedulingSettings(org_id=org_id, language=language, time_zone=settings.TIME_ZONE)


def clean_settings(data: Mapping[str, Any], *, current_zone: str = "") -> dict[str, Any]:
    """`current_zone`: the stored zone, kept even if it is no longer one to choose."""
    cleaner = Cleaner()
    cleaned: dict[str, Any] = {}
    reject_unknown(cleaner, data, SETTINGS_FIELDS)
    for name in SETTINGS_FIELDS:
        if name not in data:
            continue
        value = data[name]
        match name:
            case "reminder_hours":
                hours = cleaner.integer(name, value, minimum=1, maximum=MAX_REMINDER_HOURS, required=True)
                if hours is not None:
                    cleaned[name] = hours
            case "language":
                cleaned[name] = cleaner.choice(name, value, [code for code, _name in settings.LANGUAGES])
            case "time_zone":
                zone = cleaner.text(name, value, max_length=64, required=True)
                if zone and zone not in time_zone_names() and zone != current_zone:
                    cleaner.fail(name, _("Choose a time zone such as Europe/Berlin."))
                cleaned[name] = zone
            case "feed_detail":
                cleaned[name] = cleaner.choice(name, value, FeedDetail.values)
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    return cleaned


def scheduling_settings_update(*, actor: Actor, data: Mapping[str, Any]) -> SchedulingSettings:
    """Change the organisation's appointment settings; the audit entry names the fields."""
    actor.require("organization.change")
    cleaned = clean_settings(data, current_zone=scheduling_settings(actor.org_id).time_zone)
    with transaction.atomic():
        current = scheduling_settings(actor.org_id)
        changed = [name for name, value in cleaned.items() if getattr(current, name) != value]
        if not changed and not current._state.adding:
            return current
        for name in changed:
            setattr(current, name, cleaned[name])
        current.updated_at = timezone.now()
        current.save()
        audit_record(
            actor=actor,
            action="scheduling_settings.update",
            object_type="scheduling_settings",
            object_id=current.pk,
            fields=changed,
        )
    return current
