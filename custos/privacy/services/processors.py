"""The processors register (Art. 28): who processes personal data for the organisation, where,
under which agreement, and how a transfer out of the EU/EEA is safeguarded (Art. 44 to 49)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from django.db import models, transaction
from django.utils.translation import gettext as _

from custos.audit.services import audit_record
from custos.core.actor import Actor
from custos.core.errors import ValidationFailed
from custos.core.lookup import get_or_not_found
from custos.core.validation import Cleaner
from custos.privacy.models import Processor, Purpose

PROCESSOR_FIELDS = ("name", "service", "location", "safeguard", "dpa_signed_on", "purposes", "is_active")
NEW_PROCESSOR: dict[str, Any] = {
    "name": "",
    "service": "",
    "location": "",
    "safeguard": "",
    "dpa_signed_on": None,
    "purposes": [],
    "is_active": True,
}
# The EU member states and the other EEA states (Iceland, Liechtenstein, Norway): no transfer
# safeguard is needed for a processor there.
EEA_COUNTRIES = frozenset(
    {
        *("AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU"),
        *("IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"),
        *("IS", "LI", "NO"),
    }
)


def is_outside_eea(country: str) -> bool:
    return bool(country) and country not in EEA_COUNTRIES


# Reads -----------------------------------------------------------------------------------


def processor_list(actor: Actor, *, active_only: bool = False) -> models.QuerySet[Processor]:
    actor.require("processor.view")
    processors = Processor.objects.prefetch_related("purposes").order_by("pk")
    return processors.filter(is_active=True) if active_only else processors


def access_processor(actor: Actor, processor_id: Any, *, write: bool = False) -> Processor:
    """A processor of the actor's organisation; NotFound for missing and foreign alike."""
    actor.require("processor.change" if write else "processor.view")
    return get_or_not_found(Processor.objects.prefetch_related("purposes"), pk=processor_id)


# Changes ---------------------------------------------------------------------------------


def _clean_purposes(cleaner: Cleaner, value: Any) -> list[Purpose]:
    if value is None:
        return []
    if not isinstance(value, list | tuple) or not all(isinstance(item, str | uuid.UUID) for item in value):
        cleaner.fail("purposes", _("Enter a list of purpose ids."))
        return []
    wanted: list[uuid.UUID] = []
    for item in value:
        try:
            wanted.append(item if isinstance(item, uuid.UUID) else uuid.UUID(item))
        except ValueError:
            cleaner.fail("purposes", _("“%(id)s” is not a purpose id.") % {"id": str(item)[:40]})
            return []
    found = {p.pk: p for p in Purpose.objects.filter(pk__in=wanted)}
    if len(found) != len(set(wanted)):
        cleaner.fail("purposes", _("Choose purposes of this organisation."))
        return []
    return [found[pk] for pk in dict.fromkeys(wanted)]


def _clean_processor(data: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    """The processor after the change, checked as a whole; raises with every problem at once."""
    cleaner = Cleaner()
    for name in data:
        if name not in PROCESSOR_FIELDS:
            cleaner.fail(name, _("Unknown field."))
    merged = dict(current) | dict(data)
    location = cleaner.country("location", merged["location"])
    if merged["location"] in (None, ""):
        cleaner.fail("location", _("This field is required."))
    safeguard = cleaner.choice("safeguard", merged["safeguard"], Processor.Safeguard.values)
    if is_outside_eea(location) and safeguard == Processor.Safeguard.NONE_NEEDED:
        cleaner.fail(
            "safeguard",
            _("A processor outside the EU/EEA needs a transfer safeguard: an adequacy decision, clauses or rules."),
        )
    is_active = merged["is_active"]
    if not isinstance(is_active, bool):
        cleaner.fail("is_active", _("Use true or false."))
        is_active = True
    cleaned = {
        "name": cleaner.text("name", merged["name"], max_length=200, required=True),
        "service": cleaner.text("service", merged["service"], max_length=300, required=True),
        "location": location,
        "safeguard": safeguard,
        "dpa_signed_on": cleaner.date("dpa_signed_on", merged["dpa_signed_on"]),
        "purposes": _clean_purposes(cleaner, merged["purposes"]),
        "is_active": is_active,
    }
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    return cleaned


def _current(processor: Processor) -> dict[str, Any]:
    values = {name: getattr(processor, name) for name in PROCESSOR_FIELDS if name != "purposes"}
    return values | {"purposes": [p.pk for p in processor.purposes.all()]}


def processor_create(*, actor: Actor, data: Mapping[str, Any]) -> Processor:
    actor.require("processor.add")
    cleaned = _clean_processor(data, NEW_PROCESSOR)
    purposes = cleaned.pop("purposes")
    with transaction.atomic():
        processor = Processor.objects.create(**cleaned)
        processor.purposes.set(purposes)
        audit_record(actor=actor, action="processor.create", object_type="processor", object_id=processor.pk)
    return processor


def processor_update(*, actor: Actor, processor: Processor, data: Mapping[str, Any]) -> Processor:
    actor.require("processor.change")
    current = _current(processor)
    cleaned = _clean_processor(data, current)
    purposes = cleaned.pop("purposes")
    changed = sorted(name for name, value in cleaned.items() if getattr(processor, name) != value)
    purposes_changed = {p.pk for p in purposes} != set(current["purposes"])
    if not changed and not purposes_changed:
        return processor
    with transaction.atomic():
        for name in changed:
            setattr(processor, name, cleaned[name])
        if changed:
            processor.save(update_fields=changed)
        if purposes_changed:
            processor.purposes.set(purposes)
        audit_record(
            actor=actor,
            action="processor.update",
            object_type="processor",
            object_id=processor.pk,
            fields=[*changed, *(["purposes"] if purposes_changed else [])],
        )
    return Processor.objects.prefetch_related("purposes").get(pk=processor.pk)


def processor_delete(*, actor: Actor, processor: Processor) -> None:
    """Remove a processor from the register (one that stopped working for the organisation
    can stay, inactive, as a record)."""
    actor.require("processor.delete")
    with transaction.atomic():
        audit_record(actor=actor, action="processor.delete", object_type="processor", object_id=processor.pk)
        processor.delete()
