"""The service catalogue (name, duration, price), resources, practitioners and the settings."""

from decimal import Decimal

import pytest
from django.urls import reverse

from custos.accounts.services import member_remove
from custos.core.errors import Conflict, PermissionDenied, ValidationFailed
from custos.core.tenancy import tenant_scope
from custos.scheduling.models import Appointment, Practitioner, Resource, SchedulingSettings, Service
from custos.scheduling.services.catalogue import (
    practitioner_add,
    practitioner_delete,
    practitioner_update,
    resource_create,
    resource_delete,
    scheduling_settings,
    scheduling_settings_update,
    service_create,
    service_delete,
    service_update,
    time_zone_names,
)
from custos.scheduling.tests.helpers import last_audit, make_practice
from custos.testing import web_client
from custos.web.scheduling_forms import SchedulingSettingsForm


def _errors(excinfo):
    return [e.as_dict() for e in excinfo.value.errors]


def test_a_service_has_a_name_a_duration_and_a_price(cast, as_tenant):
    actor = cast.actor(cast.alice)

    service = service_create(
        actor=actor,
        data={"name": "  Root canal ", "duration_minutes": 90, "price": "480.5", "resource_kind": "chair"},
    )

    stored = Service.objects.get(pk=service.pk)
    assert (stored.name, stored.duration_minutes, stored.price, stored.currency) == (
        "Root canal",
        90,
        Decimal("480.50"),
        "EUR",
    )
    assert (stored.resource_kind, stored.recall_months, stored.reminder_hours, stored.is_active) == (
        "chair",
        None,
        None,
        True,
    )
    entry = last_audit(cast.org_a)
    assert (entry.action, entry.object_id, entry.fields) == (
        "service.create",
        str(service.pk),
        ["currency", "duration_minutes", "is_active", "name", "price", "resource_kind"],
    )


def test_a_service_without_a_price_is_free(cast, as_tenant):
    service = service_create(actor=cast.actor(cast.alice), data={"name": "Consultation", "duration_minutes": 15})

    assert Service.objects.get(pk=service.pk).price == Decimal("0.00")


def test_bad_services_are_refused_field_by_field_and_nothing_is_stored(cast, as_tenant):
    actor = cast.actor(cast.alice)
    service_create(actor=actor, data={"name": "Check-up", "duration_minutes": 30})
    cases = [
        (
            {},
            [
                {"field": "name", "message": "This field is required."},
                {"field": "duration_minutes", "message": "This field is required."},
            ],
        ),
        (
            {"name": "CHECK-UP", "duration_minutes": 2, "price": "-1", "color": "red"},
            [
                {"field": "color", "message": "Unknown field."},
                {"field": "name", "message": "A service has this name already."},
                {"field": "duration_minutes", "message": "Enter a number from 5 to 1440."},
                {"field": "price", "message": "Enter an amount from 0 to 999,999,999,999.99."},
            ],
        ),
        (
            {"name": "X", "duration_minutes": 30, "resource_kind": "sofa", "recall_months": 0, "reminder_hours": 999},
            [
                {"field": "resource_kind", "message": "Choose one of: room, chair, equipment."},
                {"field": "recall_months", "message": "Enter a number from 1 to 120."},
                {"field": "reminder_hours", "message": "Enter a number from 1 to 336."},
            ],
        ),
    ]
    for data, expected in cases:
        with pytest.raises(ValidationFailed) as excinfo:
            service_create(actor=actor, data=data)
        assert _errors(excinfo) == expected, data
    assert list(Service.objects.values_list("name", flat=True)) == ["Check-up"]


def test_changing_a_service_keeps_what_is_not_given(cast, as_tenant):
    actor = cast.actor(cast.alice)
    service = service_create(actor=actor, data={"name": "Check-up", "duration_minutes": 30, "price": "60"})

    service_update(actor=actor, service=service, data={"duration_minutes": 40, "is_active": False})

    stored = Service.objects.get(pk=service.pk)
    assert (stored.name, stored.duration_minutes, stored.price, stored.is_active) == (
        "Check-up",
        40,
        Decimal("60.00"),
        False,
    )
    assert (last_audit(cast.org_a).action, last_audit(cast.org_a).fields) == (
        "service.update",
        ["duration_minutes", "is_active"],
    )
    # Its own name is not a clash with itself.
    service_update(actor=actor, service=service, data={"name": "check-up"})
    assert Service.objects.get(pk=service.pk).name == "check-up"


def test_only_members_allowed_to_set_up_appointments_change_the_catalogue(cast, as_tenant):
    for user in (cast.sam, cast.bob):
        with pytest.raises(PermissionDenied):
            service_create(actor=cast.actor(user), data={"name": "Check-up", "duration_minutes": 30})
        with pytest.raises(PermissionDenied):
            resource_create(actor=cast.actor(user), data={"name": "Room 1"})
        with pytest.raises(PermissionDenied):
            practitioner_add(actor=cast.actor(user), data={"user": str(user.pk)})
    assert not Service.objects.exists()
    assert not Resource.objects.exists()
    assert not Practitioner.objects.exists()


def test_a_booked_service_resource_or_practitioner_cannot_be_deleted_but_can_be_made_inactive(cast, as_tenant):
    practice = make_practice(cast)
    practice.book(resource=str(practice.chair.pk))
    actor = practice.actor

    with pytest.raises(Conflict, match="make it inactive instead"):
        service_delete(actor=actor, service=practice.check_up)
    with pytest.raises(Conflict, match="make it inactive instead"):
        resource_delete(actor=actor, resource=practice.chair)
    with pytest.raises(Conflict, match="make them inactive instead"):
        practitioner_delete(actor=actor, practitioner=practice.dr_olive)
    practitioner_update(actor=actor, practitioner=practice.dr_olive, data={"is_active": False})

    assert Practitioner.objects.get(pk=practice.dr_olive.pk).is_active is False
    service_delete(actor=actor, service=practice.cleaning)
    resource_delete(actor=actor, resource=practice.room)
    practitioner_delete(actor=actor, practitioner=practice.dr_alice)
    assert set(Service.objects.values_list("name", flat=True)) == {"Check-up"}
    assert set(Resource.objects.values_list("name", flat=True)) == {"Chair 1"}
    assert last_audit(cast.org_a).action == "practitioner.delete"


def test_resources_are_rooms_chairs_or_equipment_with_unique_names(cast, as_tenant):
    actor = cast.actor(cast.alice)
    room = resource_create(actor=actor, data={"name": "Room 1"})

    assert Resource.objects.get(pk=room.pk).kind == "room"
    with pytest.raises(ValidationFailed) as excinfo:
        resource_create(actor=actor, data={"name": "room 1", "kind": "bed"})
    assert _errors(excinfo) == [
        {"field": "name", "message": "A resource has this name already."},
        {"field": "kind", "message": "Choose one of: room, chair, equipment."},
    ]


def test_a_practitioner_is_a_member_of_this_organisation_once(cast, as_tenant):
    actor = cast.actor(cast.alice)
    practitioner_add(actor=actor, data={"user": str(cast.sam.pk)})

    for data, message in [
        ({"user": str(cast.sam.pk)}, "This member gives appointments already."),
        ({"user": str(cast.mallory.pk)}, "Choose a member of this organisation."),
        ({}, "Choose a member of this organisation."),
    ]:
        with pytest.raises(ValidationFailed) as excinfo:
            practitioner_add(actor=actor, data=data)
        assert _errors(excinfo) == [{"field": "user", "message": message}], data
    assert Practitioner.objects.count() == 1


def test_settings_start_from_the_organisations_country_and_change_with_the_right(cast):
    with tenant_scope(cast.org_a):
        defaults = scheduling_settings(cast.org_a.pk)
        assert (defaults.reminder_hours, defaults.language, defaults.feed_detail) == (24, "de", "service")
        assert not SchedulingSettings.objects.exists()
        with pytest.raises(PermissionDenied):
            scheduling_settings_update(actor=cast.actor(cast.sam), data={"feed_detail": "service_initials"})

        changed = scheduling_settings_update(
            actor=cast.actor(cast.alice), data={"reminder_hours": 48, "language": "en", "time_zone": "Europe/Vienna"}
        )

        assert SchedulingSettings.objects.get().pk == changed.pk
        assert scheduling_settings(cast.org_a.pk).reminder_hours == 48
        entry = last_audit(cast.org_a)
        assert (entry.action, entry.fields) == (
            "scheduling_settings.update",
            ["language", "reminder_hours", "time_zone"],
        )
        with pytest.raises(ValidationFailed) as excinfo:
            scheduling_settings_update(
                actor=cast.actor(cast.alice),
                data={"reminder_hours": 0, "language": "xx", "time_zone": "Mars/Olympus", "feed_detail": "all"},
            )
        assert [e["field"] for e in _errors(excinfo)] == ["reminder_hours", "language", "time_zone", "feed_detail"]
        assert _errors(excinfo)[2]["message"] == "Choose a time zone such as Europe/Berlin."
    with tenant_scope(cast.org_b):
        assert scheduling_settings(cast.org_b.pk).language == "pl"
        assert scheduling_settings(cast.org_b.pk).reminder_hours == 24


def test_a_member_who_leaves_takes_no_new_appointments(cast):
    with tenant_scope(cast.org_a):
        practice = make_practice(cast)
        kept = practice.book(practitioner=str(practice.dr_alice.pk))

        member_remove(actor=practice.actor, membership=cast.membership(cast.alice))
        entry = last_audit(cast.org_a)
        with pytest.raises(ValidationFailed) as excinfo:
            practice.book(practitioner=str(practice.dr_alice.pk), starts_at="2030-01-08T09:00:00+01:00")

        assert Practitioner.objects.get(pk=practice.dr_alice.pk).is_active is False
        assert Appointment.objects.get(pk=kept.pk).practitioner_id == practice.dr_alice.pk
        assert (entry.action, entry.object_id, entry.fields) == (
            "practitioner.update",
            str(practice.dr_alice.pk),
            ["is_active"],
        )
    assert _errors(excinfo) == [{"field": "practitioner", "message": "Choose an active practitioner."}]


def test_the_settings_take_the_same_time_zones_on_every_face(cast):
    """UTC and the zones named by a place; not the aliases and fixed offsets (Etc/GMT+1 is
    an hour behind UTC). A zone stored before stays until another is chosen."""
    settings_page = reverse("web:scheduling-settings")
    form = {"reminder_hours": "24", "language": "de", "feed_detail": "service"}
    client = web_client(cast.olive)
    with tenant_scope(cast.org_a):
        actor = cast.actor(cast.alice)
        scheduling_settings_update(actor=actor, data={"time_zone": "UTC"})
        for refused in ("Etc/GMT+1", "EST", "Mars/Olympus"):
            with pytest.raises(ValidationFailed):
                scheduling_settings_update(actor=actor, data={"time_zone": refused})

    offered = {value for value, _label in SchedulingSettingsForm().fields["time_zone"].choices}
    saved = client.post(settings_page, form | {"time_zone": "UTC"})
    with tenant_scope(cast.org_a):
        SchedulingSettings.objects.update(time_zone="GB")  # taken before the zones were narrowed
    kept = client.post(settings_page, form | {"time_zone": "GB", "reminder_hours": "48"})

    assert offered == set(time_zone_names()) and {"UTC", "Europe/Berlin"} <= offered
    assert (saved.status_code, kept.status_code) == (302, 302)
    with tenant_scope(cast.org_a):
        assert (scheduling_settings(cast.org_a.pk).time_zone, scheduling_settings(cast.org_a.pk).reminder_hours) == (
            "GB",
            48,
        )
