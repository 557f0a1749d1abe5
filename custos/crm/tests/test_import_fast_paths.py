"""The import's shortcuts write what the ordinary paths write: records built by position, the
search entries of a batch, a contact's language left empty."""

import io

import pytest

from custos.core.tenancy import tenant_scope
from custos.crm.imports import _new, import_start, import_upload
from custos.crm.models import Company, Contact, ImportJob
from custos.crm.search import reindex_all
from custos.crm.services.people import clean_contact, company_create, contact_create
from custos.privacy.models import Subject
from custos.search.models import SearchEntry
from custos.testing import run_tasks

FILE = (
    "Vorname;Nachname;E-Mail;Telefon;Firma;Zuständig;Tags;E-Mail 2;Telefon 2\n"
    "Jürgen;Müller;juergen@example.org;030 12345678;Nordwind GmbH;sam@acme.example;vip, Messe;j@home.example;\n"
    'Zofia;Nowak;zofia@example.org;+48 22 628 31 00;DE129273398;;;;"0170 1111111; 0171 2222222"\n'
    "Eva;Kurz;;;kurz labor;;vip;;\n"
    "Stored;Person;STORED@example.org;;;;;stored@home.example;0172 3333333\n"
)


def _texts():
    """The search text on each contact's and company's row."""
    return {pk: text for model in (Contact, Company) for pk, text in model.objects.values_list("pk", "search_text")}


def _contact_entries():
    entries = SearchEntry.objects.filter(object_type="contact")
    return sorted(entries.values_list("object_id", "field", "value", "owner_id", "subject"))


@pytest.mark.parametrize("duplicates", ["update", "create"])
def test_the_search_entries_an_import_writes_are_those_a_rebuild_gives(cast, duplicates):
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        company_create(actor=actor, data={"name": "Kurz Labor", "vat_id": "DE129273398"})
        contact_create(actor=actor, data={"last_name": "Person", "email": "stored@example.org", "phone": "030 7654321"})
        job = import_upload(actor=actor, object_type="contact", file_name="k.csv", stream=io.BytesIO(FILE.encode()))
        import_start(actor=actor, job=job, mapping=job.mapping | {"Zuständig": "owner"}, duplicates=duplicates)
    run_tasks()
    with tenant_scope(cast.org_a):
        job = ImportJob.objects.get(pk=job.pk)
        assert (job.created_count, job.rejected_count) == ((3, 0) if duplicates == "update" else (4, 0))
        written = _contact_entries()
        assert {"vip", "messe", "nordwind gmbh", "kurz labor", "j@home.example", "491701111111"} <= {
            value for _id, _field, value, _owner, _subject in written
        }
        texts = _texts()
        assert all(texts.values())  # every row imported or updated carries its search text
        SearchEntry.objects.all().delete()
        Contact.objects.update(search_text=None)
        Company.objects.update(search_text=None)
        reindex_all()
        assert _contact_entries() == written
        assert _texts() == texts


def test_a_record_built_by_position_is_the_one_keywords_build(cast):
    with tenant_scope(cast.org_a):
        subject = Subject()
        values = {"subject_id": subject.pk, "first_name": "Ada", "email": "ada@example.org", "tags": ["x"]}
        by_keyword, by_position = Contact(**values), _new(Contact, values)
        fresh = {"id", "created_at", "updated_at"}  # a new id and the moment of building, each time
        for field in Contact._meta.concrete_fields:
            if field.attname not in fresh:
                assert getattr(by_position, field.attname) == getattr(by_keyword, field.attname), field.name
        assert by_position.pk and by_position.pk != by_keyword.pk and by_position._state.adding
        assert by_position.custom_fields == {} and by_position.custom_fields is not by_keyword.custom_fields
        assert _new(Subject, {}).reference.startswith("S-")
        with pytest.raises(TypeError, match="no field company"):
            _new(Contact, {"company": None})  # the relation's name, not a column: refused as keywords would


@pytest.mark.parametrize(
    ("given", "stored", "errors"),
    [(None, "", []), ("", "", []), ("de", "de", []), ("xx", "", ["language"]), (0, "", [])],
)
def test_a_contacts_language_is_empty_unless_one_of_the_ui_languages_is_given(cast, given, stored, errors):
    with tenant_scope(cast.org_a):
        data = {"last_name": "Lind"} | ({} if given is None else {"language": given})
        cleaned, cleaner = clean_contact(cast.actor(cast.alice), data, partial=False, country="DE")
    assert cleaned["language"] == stored
    assert [error.field for error in cleaner.errors] == errors
