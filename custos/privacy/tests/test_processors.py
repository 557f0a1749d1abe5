"""The processors register: who processes data for the organisation, where, and under which safeguard."""

from __future__ import annotations

import datetime as dt

import pytest

from custos.audit.models import AuditEntry
from custos.core.errors import PermissionDenied, ValidationFailed
from custos.core.tenancy import tenant_scope
from custos.privacy.models import Processor, Purpose
from custos.privacy.services.processors import processor_create, processor_delete, processor_update

HOSTING = {"name": "Hetzner", "service": "Server hosting", "location": "de", "safeguard": "none_needed"}


def _state():
    return (
        list(Processor.objects.order_by("pk").values()),
        list(Processor.purposes.through.objects.order_by("pk").values()),
        AuditEntry.objects.count(),
    )


def _fields(error):
    return {e.field for e in error.value.errors}


def test_a_processor_is_added_changed_and_removed_with_audit(cast, as_tenant):
    actor = cast.actor(cast.alice)
    purpose = Purpose.objects.create(key="newsletter", legal_basis="consent")
    processor = processor_create(
        actor=actor, data=HOSTING | {"dpa_signed_on": "01.03.2025", "purposes": [str(purpose.pk)]}
    )
    assert (processor.location, processor.dpa_signed_on, processor.is_active) == ("DE", dt.date(2025, 3, 1), True)
    assert list(processor.purposes.all()) == [purpose]

    processor = processor_update(
        actor=actor, processor=processor, data={"location": "US", "safeguard": "scc", "purposes": []}
    )
    assert (processor.location, processor.safeguard, list(processor.purposes.all())) == ("US", "scc", [])
    assert processor_update(actor=actor, processor=processor, data={"name": "Hetzner"}) == processor  # no change
    processor_id = str(processor.pk)
    processor_delete(actor=actor, processor=processor)
    assert not Processor.objects.exists()
    entries = list(AuditEntry.objects.filter(object_type="processor").order_by("seq"))
    assert [(e.action, e.object_id, e.fields) for e in entries] == [
        ("processor.create", processor_id, []),
        ("processor.update", processor_id, ["location", "purposes", "safeguard"]),
        ("processor.delete", processor_id, []),
    ]


def test_outside_the_eea_a_safeguard_is_required(cast, as_tenant):
    actor = cast.actor(cast.alice)
    before = _state()
    with pytest.raises(ValidationFailed) as error:
        processor_create(actor=actor, data=HOSTING | {"location": "US"})
    assert _fields(error) == {"safeguard"}
    assert "EU/EEA" in error.value.errors[0].message
    assert _state() == before
    for country in ("NO", "IS", "LI", "FR"):  # the EEA needs none
        assert processor_create(actor=actor, data=HOSTING | {"location": country}).location == country
    assert processor_create(actor=actor, data=HOSTING | {"location": "CH", "safeguard": "adequacy"}).location == "CH"


def test_bad_input_names_every_field_and_changes_nothing(cast, as_tenant):
    actor = cast.actor(cast.alice)
    before = _state()
    with pytest.raises(ValidationFailed) as error:
        processor_create(
            actor=actor,
            data={
                "name": "",
                "service": "x" * 301,
                "location": "Germany",
                "safeguard": "trust_me",
                "dpa_signed_on": "yesterday",
                "purposes": ["not-an-id"],
                "is_active": "yes",
                "website": "https://example.org",
            },
        )
    assert _fields(error) == {
        "name",
        "service",
        "location",
        "safeguard",
        "dpa_signed_on",
        "purposes",
        "is_active",
        "website",
    }
    with pytest.raises(ValidationFailed) as error:
        processor_create(actor=actor, data=HOSTING | {"location": "XX"})
    assert {e.field: e.message for e in error.value.errors} == {"location": "Use a two-letter country code such as DE."}
    with pytest.raises(ValidationFailed) as error:
        processor_create(actor=actor, data={k: v for k, v in HOSTING.items() if k != "location"})
    assert _fields(error) == {"location"}
    assert _state() == before


def test_purposes_of_another_organisation_are_refused(cast):
    with tenant_scope(cast.org_b):
        foreign = Purpose.objects.create(key="foreign", legal_basis="consent")
    with tenant_scope(cast.org_a):
        before = _state()
        with pytest.raises(ValidationFailed) as error:
            processor_create(actor=cast.actor(cast.alice), data=HOSTING | {"purposes": [str(foreign.pk)]})
        assert _fields(error) == {"purposes"}
        assert _state() == before


def test_roles_without_the_right_change_nothing(cast, as_tenant):
    processor = processor_create(actor=cast.actor(cast.alice), data=HOSTING)
    before = _state()
    for user in (cast.bob, cast.sam):
        actor = cast.actor(user)
        with pytest.raises(PermissionDenied):
            processor_create(actor=actor, data=HOSTING)
        with pytest.raises(PermissionDenied):
            processor_update(actor=actor, processor=processor, data={"name": "Changed"})
        with pytest.raises(PermissionDenied):
            processor_delete(actor=actor, processor=processor)
    assert _state() == before
