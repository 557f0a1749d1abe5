"""`manage.py check` refuses a model whose personal data is not declared."""

from django.core.management import call_command
from django.db import models
from django.test.utils import isolate_apps

from custos.core.checks import check_personal_data_declarations, declaration_errors
from custos.core.fields import EncryptedTextField
from custos.core.personal_data import CONTACT, IDENTITY, SPECIAL, Category
from custos.privacy.registry import declaration_of, declarations, personal_fields, records_of


def _errors_for(model):
    return declaration_errors([model])


def test_the_project_passes_its_own_check():
    call_command("check", verbosity=0)
    assert check_personal_data_declarations() == []


@isolate_apps("custos.crm")
def test_an_undeclared_field_is_an_error_naming_model_and_field():
    class Visit(models.Model):
        name = models.CharField(max_length=10)
        birthday = models.DateField()

        class Meta:
            app_label = "crm"

        class Privacy:
            subject = None
            fields = {"name": IDENTITY}
            not_personal = ("id",)

    errors = _errors_for(Visit)
    assert [(e.id, e.msg) for e in errors] == [
        ("custos.E002", "crm.Visit.birthday does not declare its personal-data category")
    ]


@isolate_apps("custos.crm")
def test_a_model_without_a_declaration_is_an_error():
    class Note(models.Model):
        text = models.TextField()

        class Meta:
            app_label = "crm"

    assert [e.id for e in _errors_for(Note)] == ["custos.E001"]


@isolate_apps("custos.crm")
def test_special_category_data_must_be_encrypted():
    class Chart(models.Model):
        diagnosis = models.TextField()
        allergies = EncryptedTextField()

        class Meta:
            app_label = "crm"

        class Privacy:
            subject = None
            fields = {"diagnosis": SPECIAL, "allergies": SPECIAL}
            not_personal = ("id",)

    errors = _errors_for(Chart)
    assert [(e.id, e.msg) for e in errors] == [
        ("custos.E004", "crm.Chart.diagnosis holds special-category data but is not encrypted")
    ]


@isolate_apps("custos.crm")
def test_declaring_a_field_that_does_not_exist_or_twice_is_an_error():
    class Card(models.Model):
        email = models.EmailField()

        class Meta:
            app_label = "crm"

        class Privacy:
            subject = None
            fields = {"email": CONTACT, "phone": CONTACT}
            not_personal = ("id", "email")

    messages = sorted(e.msg for e in _errors_for(Card))
    assert messages == [
        "crm.Card.Privacy names 'phone', which is not a field",
        "crm.Card.email is declared both personal and not personal",
    ]


@isolate_apps("custos.crm")
def test_a_subject_path_must_end_at_the_subject_and_erasure_must_be_said():
    class Ticket(models.Model):
        title = models.CharField(max_length=10)

        class Meta:
            app_label = "crm"

        class Privacy:
            subject = "title"
            fields = {"title": IDENTITY}
            not_personal = ("id",)

    assert sorted(e.id for e in _errors_for(Ticket)) == ["custos.E006", "custos.E007"]


def test_the_check_runs_as_part_of_manage_py_check():
    from django.core import checks

    assert check_personal_data_declarations in checks.registry.registry.get_checks()


def test_the_registry_knows_the_contacts_personal_fields_and_path():
    from custos.crm.models import Contact

    declaration = declaration_of(Contact)
    assert declaration.subject == "subject"
    assert personal_fields(Contact)["health_notes"] == Category.SPECIAL
    assert personal_fields(Contact)["email"] == Category.CONTACT
    assert "owner" not in personal_fields(Contact)
    assert Contact in {d.model for d in declarations()}


def test_every_record_of_a_subject_is_found_through_the_registry(cast):
    from custos.core.tenancy import tenant_scope
    from custos.crm.services.people import contact_create

    actor = cast.actor(cast.olive)
    with tenant_scope(cast.org_a):
        first = contact_create(actor=actor, data={"first_name": "Ada", "email": "ada@example.com"})
        second = contact_create(actor=actor, data={"last_name": "Lovelace", "email": "ADA@example.com"})
        other = contact_create(actor=actor, data={"first_name": "Grace", "email": "grace@example.com"})
        assert first.subject_id == second.subject_id != other.subject_id
        found = {
            r.declaration.model._meta.label: set(r.queryset.values_list("pk", flat=True))
            for r in records_of(first.subject)
        }
        assert found["crm.Contact"] == {first.pk, second.pk}


@isolate_apps("custos.crm")
def test_a_detail_must_be_a_not_personal_field():
    class Booking(models.Model):
        name = models.CharField(max_length=10)
        starts_at = models.DateTimeField()

        class Meta:
            app_label = "crm"

        class Privacy:
            subject = None
            details = ("starts_at", "name", "room")
            fields = {"name": IDENTITY}
            not_personal = ("id", "starts_at")

    assert [(e.id, e.msg) for e in _errors_for(Booking)] == [
        ("custos.E003", "crm.Booking.Privacy.details names 'name', which is not a not-personal field"),
        ("custos.E003", "crm.Booking.Privacy.details names 'room', which is not a not-personal field"),
    ]
