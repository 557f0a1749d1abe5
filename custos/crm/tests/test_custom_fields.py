"""Custom fields: declared by the organisation, checked by kind, special ones kept apart."""

import csv
import io

import pytest
from django.db import connection

from custos.audit.models import AuditEntry
from custos.core.errors import PermissionDenied, ValidationFailed
from custos.crm.duplicates import contact_merge
from custos.crm.exports import export_records
from custos.crm.models import Contact, Lead
from custos.crm.services.custom_fields import (
    custom_field_create,
    custom_field_delete,
    custom_field_update,
    read_special,
)
from custos.crm.services.leads import lead_convert, lead_create
from custos.crm.services.people import company_create, contact_create, contact_update
from custos.testing import run_tasks

DIAGNOSIS = "Type 2 diabetes"


def _field(actor, object_type, key, kind, category="none", **more):
    data = {"object_type": object_type, "key": key, "label": key.title(), "kind": kind, "category": category}
    return custom_field_create(actor=actor, data=data | more)


@pytest.fixture
def fields(cast, as_tenant):
    admin = cast.actor(cast.olive)
    return {
        "size": _field(admin, "contact", "shoe_size", "number"),
        "member": _field(admin, "contact", "member", "yes_no"),
        "since": _field(admin, "contact", "since", "date"),
        "budget": _field(admin, "contact", "budget", "money", "financial"),
        "plan": _field(admin, "contact", "plan", "choice", options=["Basic", "Plus"]),
        "topics": _field(admin, "contact", "topics", "multi_choice", options=["Implants", "Hygiene", "Braces"]),
        "diagnosis": _field(admin, "contact", "diagnosis", "text", "special"),
    }


def test_values_are_checked_by_kind_and_stored_in_their_own_form(cast, fields):
    contact = contact_create(
        actor=cast.actor(cast.alice),
        data={
            "last_name": "Lind",
            "custom_fields": {
                "shoe_size": "38,5",
                "member": True,
                "since": "01.02.2024",
                "budget": "1250.5",
                "plan": "Plus",
                "topics": ["Braces", "Implants"],
            },
        },
    )
    assert Contact.objects.get(pk=contact.pk).custom_fields == {
        "shoe_size": 38.5,
        "member": True,
        "since": "2024-02-01",
        "budget": "1250.50",
        "plan": "Plus",
        "topics": ["Implants", "Braces"],
    }


def test_every_wrong_value_is_named_and_nothing_is_written(cast, fields):
    before = Contact.objects.count()
    with pytest.raises(ValidationFailed) as refused:
        contact_create(
            actor=cast.actor(cast.alice),
            data={
                "last_name": "Lind",
                "custom_fields": {
                    "shoe_size": "large",
                    "member": "yes",
                    "since": "31.02.2024",
                    "plan": "Gold",
                    "topics": ["Implants", "Whitening"],
                    "favourite_colour": "red",
                },
            },
        )
    assert sorted(e.field for e in refused.value.errors) == [
        "custom_fields.favourite_colour",
        "custom_fields.member",
        "custom_fields.plan",
        "custom_fields.shoe_size",
        "custom_fields.since",
        "custom_fields.topics",
    ]
    assert Contact.objects.count() == before


def test_a_change_sets_and_clears_the_keys_given_and_keeps_the_others(cast, fields):
    actor = cast.actor(cast.alice)
    contact = contact_create(
        actor=actor, data={"last_name": "Lind", "custom_fields": {"shoe_size": 38, "plan": "Basic"}}
    )
    contact_update(actor=actor, contact=contact, data={"custom_fields": {"plan": None, "member": False}})
    assert Contact.objects.get(pk=contact.pk).custom_fields == {"shoe_size": 38, "member": False}


def test_special_category_values_are_encrypted_apart_and_read_only_through_a_logged_reveal(cast, fields):
    actor = cast.actor(cast.alice)
    contact = contact_create(
        actor=actor, data={"last_name": "Nowak", "custom_fields": {"diagnosis": DIAGNOSIS, "shoe_size": 41}}
    )
    stored = Contact.objects.get(pk=contact.pk)
    assert stored.custom_fields == {"shoe_size": 41}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT custom_special, custom_fields FROM crm_contact WHERE id = %s",
            [contact.pk.hex if connection.vendor == "sqlite" else contact.pk],
        )
        raw = " ".join(str(value) for value in cursor.fetchone())
    assert DIAGNOSIS not in raw and "diagnosis" not in raw

    revealed = read_special(actor=actor, record=stored, object_type="contact", builtin=("health_notes",))
    assert revealed == {"health_notes": "", "custom_fields": {"diagnosis": DIAGNOSIS}}
    entry = AuditEntry.objects.filter(action="contact.read_special").get()
    assert entry.fields == ["custom_fields.diagnosis"] and DIAGNOSIS not in str(entry.extra)

    sales = cast.actor(cast.sam)
    with pytest.raises(PermissionDenied):
        contact_create(actor=sales, data={"last_name": "Kim", "custom_fields": {"diagnosis": "Asthma"}})
    with pytest.raises(PermissionDenied):
        read_special(actor=sales, record=stored, object_type="contact")


def test_definitions_are_checked(cast, as_tenant):
    admin = cast.actor(cast.olive)
    with pytest.raises(ValidationFailed) as refused:
        custom_field_create(
            actor=admin,
            data={
                "object_type": "company",
                "key": "Health Score",
                "label": "",
                "kind": "choice",
                "category": "special",
            },
        )
    assert sorted(e.field for e in refused.value.errors) == ["category", "key", "label", "options"]
    _field(admin, "lead", "vans", "number")
    with pytest.raises(ValidationFailed) as refused:
        _field(admin, "lead", "vans", "text")
    assert [e.field for e in refused.value.errors] == ["key"]
    plan = _field(admin, "lead", "plan", "choice", options=["A", "B"])
    with pytest.raises(ValidationFailed) as refused:
        custom_field_update(actor=admin, field=plan, data={"kind": "text", "options": ["A", "a"]})
    assert sorted(e.field for e in refused.value.errors) == ["kind", "options"]
    with pytest.raises(PermissionDenied):
        _field(cast.actor(cast.sam), "lead", "fleet", "number")


def test_deleting_a_field_removes_its_values_everywhere(cast, fields):
    actor = cast.actor(cast.alice)
    contact = contact_create(
        actor=actor, data={"last_name": "Lind", "custom_fields": {"shoe_size": 38, "diagnosis": DIAGNOSIS}}
    )
    custom_field_delete(actor=cast.actor(cast.olive), field=fields["diagnosis"])
    custom_field_delete(actor=cast.actor(cast.olive), field=fields["size"])
    run_tasks()
    stored = Contact.objects.get(pk=contact.pk)
    assert (stored.custom_fields, stored.custom_special) == ({}, "")


def test_a_converted_lead_carries_the_values_its_contact_has_fields_for(cast, fields):
    admin = cast.actor(cast.olive)
    _field(admin, "lead", "shoe_size", "number")
    _field(admin, "lead", "diagnosis", "text", "special")
    _field(admin, "lead", "fleet", "number")
    lead = lead_create(
        actor=admin,
        data={
            "last_name": "Lind",
            "city": "Berlin",
            "custom_fields": {"shoe_size": 40, "diagnosis": DIAGNOSIS, "fleet": 12},
        },
    )
    contact = lead_convert(actor=admin, lead=Lead.objects.get(pk=lead.pk), create_deal=False).contact
    stored = Contact.objects.get(pk=contact.pk)
    assert (stored.custom_fields, stored.city) == ({"shoe_size": 40}, "Berlin")
    assert read_special(actor=admin, record=stored, object_type="contact")["custom_fields"] == {"diagnosis": DIAGNOSIS}


def test_a_merge_keeps_the_values_of_both(cast, fields):
    actor = cast.actor(cast.olive)
    keep = contact_create(actor=actor, data={"last_name": "Lind", "custom_fields": {"shoe_size": 38}})
    other = contact_create(
        actor=actor, data={"last_name": "Lind", "custom_fields": {"shoe_size": 39, "plan": "Plus", "diagnosis": "X"}}
    )
    merged = contact_merge(actor=actor, keep=keep, other=other)
    stored = Contact.objects.get(pk=merged.pk)
    assert stored.custom_fields == {"shoe_size": 38, "plan": "Plus"}
    assert read_special(actor=actor, record=stored, object_type="contact")["custom_fields"] == {"diagnosis": "X"}


def test_companies_have_custom_fields_too(cast, as_tenant):
    admin = cast.actor(cast.olive)
    _field(admin, "company", "employees", "number")
    company = company_create(actor=admin, data={"name": "Nordwind", "custom_fields": {"employees": 250}})
    assert company.custom_fields == {"employees": 250}


def test_a_list_export_has_a_column_per_field_but_never_a_special_one(cast, fields):
    actor = cast.actor(cast.alice)
    contact_create(
        actor=actor,
        data={
            "last_name": "Lind",
            "custom_fields": {"member": True, "topics": ["Implants", "Braces"], "diagnosis": DIAGNOSIS},
        },
    )
    export = export_records(actor, "contact", Contact.objects.all(), file_format="csv")
    header, row = list(csv.reader(io.StringIO(b"".join(export.chunks).decode().removeprefix("\ufeff"))))
    shown = dict(zip(header, row, strict=True))
    assert (shown["Member"], shown["Topics"], shown["Plan"]) == ("Yes", "Implants, Braces", "")
    assert "Diagnosis" not in header and DIAGNOSIS not in row


def test_a_deleted_fields_values_go_at_once_and_never_read_as_a_new_field_of_its_key(cast, fields):
    """Found by the bug hunt: a key defined again (another kind) before the background removal
    ran kept the old values under the new kind, and the removal then left them for good."""
    actor, admin = cast.actor(cast.alice), cast.actor(cast.olive)
    contact = contact_create(actor=actor, data={"last_name": "Lind", "custom_fields": {"since": "2024-02-01"}})

    custom_field_delete(actor=admin, field=fields["since"])
    removed = Contact.objects.get(pk=contact.pk).custom_fields
    _field(admin, "contact", "since", "number")

    assert removed == {}
    assert Contact.objects.get(pk=contact.pk).custom_fields == {}


def test_special_values_of_many_records_go_in_the_background_and_their_key_waits(cast, fields, monkeypatch):
    """Decrypting every record holding special-category values is left to a task past a few
    records; until it ran, the key cannot hold special-category data again."""
    from custos.crm.services import custom_fields

    monkeypatch.setattr(custom_fields, "INLINE_REMOVAL", 0)
    actor, admin = cast.actor(cast.alice), cast.actor(cast.olive)
    contact = contact_create(actor=actor, data={"last_name": "Lind", "custom_fields": {"diagnosis": DIAGNOSIS}})

    custom_field_delete(actor=admin, field=fields["diagnosis"])
    with pytest.raises(ValidationFailed) as refused:
        _field(admin, "contact", "diagnosis", "date", "special")
    plain = _field(admin, "contact", "diagnosis", "text")  # its values are kept elsewhere
    run_tasks()

    assert [(e.field, e.message) for e in refused.value.errors] == [
        (
            "key",
            "The values of a deleted field with this key are still being removed. "
            "Try again in a few minutes, or choose another key.",
        )
    ]
    assert Contact.objects.get(pk=contact.pk).custom_special == ""
    custom_field_delete(actor=admin, field=plain)
    assert _field(admin, "contact", "diagnosis", "date", "special").kind == "date"


def test_plain_values_of_many_records_go_in_the_background_in_batches(cast, fields, monkeypatch):
    """One statement over a million rows would hold the database for the whole request."""
    from custos.crm.services import custom_fields

    monkeypatch.setattr(custom_fields, "INLINE_REMOVAL", 2)
    actor, admin = cast.actor(cast.alice), cast.actor(cast.olive)
    people = [
        contact_create(
            actor=actor, data={"last_name": f"L{n}", "custom_fields": {"shoe_size": 40 + n, "plan": "Basic"}}
        )
        for n in range(5)
    ]

    custom_field_delete(actor=admin, field=fields["size"])
    with pytest.raises(ValidationFailed):
        _field(admin, "contact", "shoe_size", "text")  # its old values would read as the new field's
    assert custom_fields.remove_values("contact", "shoe_size", special=False, batch_size=2) == 5

    assert [c.custom_fields for c in Contact.objects.filter(pk__in=[p.pk for p in people])] == [{"plan": "Basic"}] * 5
    assert _field(admin, "contact", "shoe_size", "text").kind == "text"


def test_a_removal_whose_task_was_lost_is_finished_by_the_hourly_job(cast, fields, monkeypatch):
    """The key waits on the list of removals under way, not on decrypting every record; a
    removal whose task never ran (a worker stopped) is run again."""
    from datetime import timedelta

    from custos.core.periodic import JOBS
    from custos.crm.models import CustomValueRemoval
    from custos.crm.services import custom_fields

    monkeypatch.setattr(custom_fields, "INLINE_REMOVAL", 0)
    actor, admin = cast.actor(cast.alice), cast.actor(cast.olive)
    contact = contact_create(actor=actor, data={"last_name": "Lind", "custom_fields": {"diagnosis": DIAGNOSIS}})

    custom_field_delete(actor=admin, field=fields["diagnosis"])  # its task is never run here
    assert list(CustomValueRemoval.objects.values_list("key", "special")) == [("diagnosis", True)]
    assert custom_fields.finish_removals() == 0  # too recent: its task may be on its way

    assert custom_fields.finish_removals(older_than=timedelta(0)) == 1
    assert Contact.objects.get(pk=contact.pk).custom_special == ""
    assert not CustomValueRemoval.objects.exists()
    assert _field(admin, "contact", "diagnosis", "date", "special").kind == "date"
    assert [j.every for j in JOBS if j.name == "crm.finish_value_removals"] == [timedelta(hours=1)]


def test_an_option_no_longer_offered_may_stay_but_not_be_chosen_anew(cast, fields):
    actor = cast.actor(cast.alice)
    contact = contact_create(
        actor=actor, data={"last_name": "Lind", "custom_fields": {"plan": "Plus", "topics": ["Braces", "Hygiene"]}}
    )
    custom_field_update(actor=cast.actor(cast.olive), field=fields["plan"], data={"options": ["Basic", "Gold"]})
    custom_field_update(actor=cast.actor(cast.olive), field=fields["topics"], data={"options": ["Implants", "Hygiene"]})
    contact = Contact.objects.get(pk=contact.pk)

    contact_update(
        actor=actor, contact=contact, data={"custom_fields": {"plan": "Plus", "topics": ["Implants", "Braces"]}}
    )
    with pytest.raises(ValidationFailed) as refused:
        contact_create(actor=actor, data={"last_name": "Kim", "custom_fields": {"plan": "Plus", "topics": ["Braces"]}})

    assert Contact.objects.get(pk=contact.pk).custom_fields == {"plan": "Plus", "topics": ["Implants", "Braces"]}
    assert sorted(e.field for e in refused.value.errors) == ["custom_fields.plan", "custom_fields.topics"]
