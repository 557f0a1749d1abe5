"""Importing contacts: messy files in, clear reports out, nothing half-written, undo."""

import io
from pathlib import Path

import pytest
from django.db import transaction
from openpyxl import Workbook

from custos.accounts.models import Role
from custos.api.tests.helpers import define_fields, hide
from custos.audit.models import AuditEntry
from custos.core.errors import Conflict, ValidationFailed
from custos.core.tenancy import tenant_scope
from custos.crm import imports
from custos.crm.imports import import_preview, import_start, import_undo, import_upload
from custos.crm.models import Company, Contact, ImportJob, ImportJournalEntry, ImportRejectedRow
from custos.crm.rehearsal import rehearsal_path
from custos.crm.selectors.search import global_search
from custos.crm.services.people import company_create, contact_create
from custos.testing import run_tasks

MAPPING = {"Vorname": "first_name", "Nachname": "last_name", "E-Mail": "email", "Telefon": "phone", "Firma": "company"}


def _csv(text: str, encoding: str = "utf-8-sig") -> io.BytesIO:
    return io.BytesIO(text.encode(encoding))


def _upload(cast, data, name="kontakte.csv", user=None):
    with tenant_scope(cast.org_a):
        return import_upload(actor=cast.actor(user or cast.alice), object_type="contact", file_name=name, stream=data)


def _run(cast, job, mapping=None, duplicates="skip", dry_run=False, user=None):
    actor = cast.actor(user or cast.alice)
    with tenant_scope(cast.org_a):
        import_start(actor=actor, job=job, mapping=mapping or job.mapping, duplicates=duplicates, dry_run=dry_run)
    run_tasks()
    with tenant_scope(cast.org_a):
        return ImportJob.objects.get(pk=job.pk)


def _rejected(cast, job):
    with tenant_scope(cast.org_a):
        rows = ImportRejectedRow.objects.filter(job=job).order_by("row", "pk")
        return [{"row": r.row, "field": r.field, "message": r.message} for r in rows]


def _report(job) -> str:
    return b"".join(imports.rejected_report(job)).decode("utf-8-sig")


def _people(cast):
    with tenant_scope(cast.org_a):
        return sorted(Contact.objects.values_list("first_name", "last_name", "email", "phone"))


MESSY = (
    "Vorname;Nachname;E-Mail;Telefon;Firma\n"
    "Jürgen;Müller;juergen@example.org;030 12345678;Nordwind GmbH\n"
    "Anna;Schmidt;not-an-email;040 12345678;\n"
    "<b>Eva</b>;Kurz;eva@example.org;12;\n"
    ";;;;\n"
    "Jürgen;Müller;JUERGEN@example.org;030 12345678;Nordwind GmbH\n"
    "Zofia;Nowak;zofia@example.org;+48 22 628 31 00;DE129273398\n"
)


def test_a_messy_csv_imports_the_good_rows_and_reports_every_rejected_one(cast):
    with tenant_scope(cast.org_a):
        company_create(actor=cast.actor(cast.alice), data={"name": "Kurz Labor", "vat_id": "DE129273398"})
    job = _upload(cast, _csv(MESSY))
    assert (job.encoding, job.delimiter, job.total_rows, job.mapping) == ("utf-8-sig", ";", 5, MAPPING)

    job = _run(cast, job)

    assert job.status == "completed"
    assert (job.created_count, job.skipped_count, job.rejected_count) == (2, 1, 2)
    assert _rejected(cast, job) == [
        {"row": 3, "field": "email", "message": "Enter a valid email address."},
        {"row": 4, "field": "phone", "message": "Enter a valid phone number, e.g. +49 30 1234567."},
    ]
    assert _people(cast) == [
        ("Jürgen", "Müller", "juergen@example.org", "+493012345678"),
        ("Zofia", "Nowak", "zofia@example.org", "+48226283100"),
    ]
    with tenant_scope(cast.org_a):
        assert Contact.objects.get(first_name="Jürgen").company.name == "Nordwind GmbH"  # created on the way
        assert Contact.objects.get(first_name="Zofia").company.name == "Kurz Labor"  # found by VAT ID
        # The company made on the way is found in the search box, as one made by hand.
        found = global_search(cast.actor(cast.alice), "Nordwind", types=["company"])
        assert [result.label for result in found] == ["Nordwind GmbH"]
    report = _report(job)
    assert report.splitlines()[1] == "3,Email,Enter a valid email address."
    assert not Path(job.file_path).exists()  # everyone's rows: gone once read


@pytest.mark.parametrize(
    ("encoding", "delimiter"), [("utf-16", ","), ("cp1252", ";"), ("utf-8", "\t"), ("utf-8-sig", ",")]
)
def test_encodings_and_delimiters_are_recognised(cast, encoding, delimiter):
    text = delimiter.join(MAPPING) + "\n" + delimiter.join(["Jürgen", "Müller", "j@example.org", "", ""]) + "\n"
    job = _run(cast, _upload(cast, _csv(text, encoding)))
    assert job.created_count == 1
    assert _people(cast) == [("Jürgen", "Müller", "j@example.org", "")]


@pytest.mark.parametrize(
    ("first", "last", "city"),
    [("Łukasz", "Włodarczyk", "Łódź"), ("Zoë", "Dubois-Müller", "Düsseldorf"), ("Jörg", "Weiß", "Köln")],
)
def test_a_file_saved_by_excel_on_windows_reads_in_its_own_code_page(cast, first, last, city):
    """Polish Windows saves a CSV in cp1250, German and French Windows in cp1252."""
    encoding = "cp1250" if first == "Łukasz" else "cp1252"
    text = f"Vorname;Nachname;Stadt\n{first};{last};{city}\n"
    mapping = {"Vorname": "first_name", "Nachname": "last_name", "Stadt": "city"}

    job = _run(cast, _upload(cast, _csv(text, encoding)), mapping=mapping)

    assert job.created_count == 1
    with tenant_scope(cast.org_a):
        assert Contact.objects.values_list("first_name", "last_name", "city").get() == (first, last, city)


def test_an_xlsx_file_imports_too(cast):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(list(MAPPING))
    sheet.append(["Ada", "Lovelace", "ada@example.org", "030 12345678", None])
    sheet.append([None, "Evil", "evil@example.org", None, None])
    hostile = sheet.cell(row=3, column=1, value='=HYPERLINK("x")')
    hostile.data_type = "s"  # a name that begins with "=", as text: it is kept as given
    data = io.BytesIO()
    workbook.save(data)
    data.seek(0)
    job = _run(cast, _upload(cast, data, name="kontakte.xlsx"))
    assert (job.file_format, job.created_count) == ("xlsx", 2)
    assert ('=HYPERLINK("x")', "Evil", "evil@example.org", "") in _people(cast)  # stored as given


def test_owners_are_found_by_email_and_an_unknown_one_rejects_the_row(cast):
    text = "Name,Mail,Owner\nLind,lind@example.org,sam@acme.example\nHolm,holm@example.org,stranger@example.org\n"
    job = _upload(cast, _csv(text))
    job = _run(cast, job, mapping={"Name": "last_name", "Mail": "email", "Owner": "owner"})
    assert (job.created_count, job.rejected_count) == (1, 1)
    assert _rejected(cast, job)[0]["field"] == "owner"
    with tenant_scope(cast.org_a):
        assert Contact.objects.get(last_name="Lind").owner_id == cast.sam.pk


def test_duplicates_are_skipped_updated_or_created_as_chosen(cast):
    with tenant_scope(cast.org_a):
        contact_create(
            actor=cast.actor(cast.alice), data={"first_name": "Old", "last_name": "Name", "email": "dup@example.org"}
        )
    text = "Vorname,Nachname,E-Mail\nNew,Name,dup@example.org\n"
    skipped = _run(cast, _upload(cast, _csv(text)), duplicates="skip")
    assert (skipped.created_count, skipped.skipped_count) == (0, 1)
    updated = _run(cast, _upload(cast, _csv(text)), duplicates="update")
    assert updated.updated_count == 1
    assert _people(cast) == [("New", "Name", "dup@example.org", "")]
    created = _run(cast, _upload(cast, _csv(text)), duplicates="create")
    assert created.created_count == 1
    with tenant_scope(cast.org_a):
        copies = Contact.objects.filter(email="dup@example.org")
        assert copies.count() == 2 and len({c.subject_id for c in copies}) == 1  # still one person


def test_importing_the_same_file_again_adds_nothing(cast):
    _run(cast, _upload(cast, _csv(MESSY)))
    before = _people(cast)
    again = _run(cast, _upload(cast, _csv(MESSY)))
    assert again.created_count == 0
    assert _people(cast) == before


PATIENTS = (
    "Vorname;Nachname;Telefon;Firma\n"
    "Anna;Schmidt;030 1234567;\n"
    "Jan;Schmidt;030 1234567;\n"  # the same landline: another person
    "Eva;Kurz;;Nordwind GmbH\n"
    "Otto;Lang;;\n"
)


def test_a_file_without_emails_imported_again_adds_nothing(cast):
    """Without an email a row is the person with its phone and name, or with its name at its
    company, or (with its name only) a contact holding nothing more either."""
    first = _run(cast, _upload(cast, _csv(PATIENTS)))
    assert (first.created_count, first.skipped_count) == (4, 0)
    before = _people(cast)
    again = _run(cast, _upload(cast, _csv(PATIENTS + "ANNA;SCHMIDT;+49 30 1234567;\n")))
    assert (again.created_count, again.skipped_count) == (0, 5)
    assert _people(cast) == before


PATIENTS_WITH_EMAILS = (
    "Vorname;Nachname;E-Mail;Telefon;Firma\n"
    "Anna;Schmidt;anna@example.org;030 1234567;\n"
    "Jan;Schmidt;jan@example.org;030 1234567;\n"
    "Eva;Kurz;eva@example.org;;Nordwind GmbH\n"  # no phone: by email only, so someone new
)


@pytest.mark.parametrize("duplicates", ["update", "skip"])
def test_a_later_file_with_emails_finds_the_people_stored_without_one(cast, duplicates):
    """Patients imported without emails, then the booking system's list with them: a row is
    the stored person with its phone and name who holds no email yet (updated with it, or
    skipped), never a second contact of them."""
    _run(cast, _upload(cast, _csv(PATIENTS)))
    job = _run(cast, _upload(cast, _csv(PATIENTS_WITH_EMAILS)), duplicates=duplicates)
    counts = (job.created_count, job.updated_count, job.skipped_count)
    assert counts == ((1, 2, 0) if duplicates == "update" else (1, 0, 2))
    with tenant_scope(cast.org_a):
        schmidts = Contact.objects.filter(last_name="Schmidt").order_by("first_name")
        expected = ["anna@example.org", "jan@example.org"] if duplicates == "update" else ["", ""]
        assert [c.email for c in schmidts] == expected
        assert Contact.objects.filter(last_name="Kurz").count() == 2
    # Imported again, the file adds nothing more.
    again = _run(cast, _upload(cast, _csv(PATIENTS_WITH_EMAILS)), duplicates=duplicates)
    assert again.created_count == 0


def test_a_person_stored_with_another_email_is_someone_else(cast):
    stored = _stored(cast, first_name="Anna", last_name="Schmidt", email="anna@old.example", phone="030 1234567")
    job = _run(cast, _upload(cast, _csv(PATIENTS_WITH_EMAILS)), duplicates="update")
    assert (job.created_count, job.updated_count) == (3, 0)
    with tenant_scope(cast.org_a):
        assert Contact.objects.get(pk=stored.pk).email == "anna@old.example"


ROWS_WITH_CITY = {"Vorname": "first_name", "Nachname": "last_name", "Telefon": "phone", "Stadt": "city"}


def test_a_row_without_email_updates_the_person_with_its_phone_and_name(cast):
    with tenant_scope(cast.org_a):
        stored = contact_create(
            actor=cast.actor(cast.alice),
            data={"first_name": "Anna", "last_name": "Schmidt", "email": "anna@example.org", "phone": "030 1234567"},
        )
        otto = {"first_name": "Otto", "last_name": "Lang", "email": "o@x.org"}
        contact_create(actor=cast.actor(cast.alice), data=otto)
    text = "Vorname;Nachname;Telefon;Stadt\nAnna;Schmidt;030 1234567;Berlin\nOtto;Lang;;Bonn\n"
    job = _run(cast, _upload(cast, _csv(text)), mapping=ROWS_WITH_CITY, duplicates="update")
    # Otto of the file may be anyone of that name: the stored one has an email the row lacks.
    assert (job.updated_count, job.created_count) == (1, 1)
    with tenant_scope(cast.org_a):
        assert Contact.objects.get(pk=stored.pk).city == "Berlin"
        assert sorted(Contact.objects.filter(last_name="Lang").values_list("city", flat=True)) == ["", "Bonn"]


def test_a_dry_run_reports_and_writes_nothing(cast):
    job = _run(cast, _upload(cast, _csv(MESSY)), dry_run=True)
    assert (job.created_count, job.rejected_count) == (2, 2)
    assert _people(cast) == []
    with tenant_scope(cast.org_a):
        assert not Company.objects.exists()


def test_the_preview_shows_rows_and_their_problems_without_writing(cast):
    job = _upload(cast, _csv(MESSY))
    with tenant_scope(cast.org_a):
        outcomes = import_preview(actor=cast.actor(cast.alice), job=job, mapping=MAPPING)
    assert [(o.row, [f for f, _ in o.errors]) for o in outcomes][:3] == [(2, []), (3, ["email"]), (4, ["phone"])]
    assert _people(cast) == []


def test_the_preview_leaves_out_blank_rows_as_the_import_does(cast):
    job = _upload(cast, _csv(MESSY))
    with tenant_scope(cast.org_a):
        outcomes = import_preview(actor=cast.actor(cast.alice), job=job, mapping=MAPPING)
    assert [o.row for o in outcomes] == [2, 3, 4, 6, 7]  # line 5 is ";;;;": skipped, not rejected


def test_an_interrupted_import_resumes_after_its_last_batch_and_writes_nothing_twice(cast, monkeypatch):
    monkeypatch.setattr(imports, "BATCH_SIZE", 2)
    rows = "".join(f"P{n},Person,p{n}@example.org\n" for n in range(7))
    job = _upload(cast, _csv("Vorname,Nachname,E-Mail\n" + rows))
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        import_start(actor=actor, job=job, mapping=job.mapping, duplicates="skip")
        # The worker finished two batches, then its machine went down.
        resolver = imports._Resolver(actor)
        batches = [
            [(n + 2, {"first_name": f"P{n}", "last_name": "Person", "email": f"p{n}@example.org"}) for n in (i, i + 1)]
            for i in (0, 2)
        ]
        for batch, checkpoint in zip(batches, (2, 4), strict=True):
            imports._write_batch(job, actor, resolver, "DE", batch, next_checkpoint=checkpoint)
        assert ImportJob.objects.get(pk=job.pk).checkpoint == 4
        assert Contact.objects.count() == 4
    run_tasks()  # the task runs again and resumes
    with tenant_scope(cast.org_a):
        job = ImportJob.objects.get(pk=job.pk)
        assert (job.status, job.created_count) == ("completed", 7)
        assert Contact.objects.count() == 7


def test_undo_removes_what_was_created_and_restores_what_was_changed(cast):
    with tenant_scope(cast.org_a):
        contact_create(
            actor=cast.actor(cast.alice), data={"first_name": "Old", "last_name": "Name", "email": "dup@example.org"}
        )
    text = "Vorname,Nachname,E-Mail\nNew,Name,dup@example.org\nFresh,Person,fresh@example.org\n"
    job = _run(cast, _upload(cast, _csv(text)), duplicates="update")
    with tenant_scope(cast.org_a):
        import_undo(actor=cast.actor(cast.alice), job=job)
        with pytest.raises(Conflict):
            import_undo(actor=cast.actor(cast.alice), job=job)
    assert _people(cast) == [("Old", "Name", "dup@example.org", "")]


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"", "empty.csv", "The file is empty."),
        (b"\x00\x01\x02binary\x00", "data.csv", "This does not look like a CSV or XLSX file."),
        (b"PK\x03\x04not really a zip", "broken.xlsx", "This is not a readable XLSX file."),
        (b"\n\n", "blank.csv", "The file has no header row naming its columns."),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_clearly(cast, content, name, message):
    with pytest.raises(ValidationFailed) as refused:
        _upload(cast, io.BytesIO(content), name=name)
    assert [(e.field, e.message) for e in refused.value.errors] == [("file", message)]
    with tenant_scope(cast.org_a):
        assert not ImportJob.objects.exists()


def test_a_file_over_the_size_limit_is_refused(cast, monkeypatch):
    monkeypatch.setattr(imports, "MAX_FILE_BYTES", 1000)
    with pytest.raises(ValidationFailed):
        _upload(cast, _csv("Vorname\n" + "x\n" * 1000))


@pytest.mark.parametrize(
    ("mapping", "field"),
    [
        ({"Vorname": "first_name", "Nachname": "first_name"}, "mapping"),
        ({"Vorname": "password"}, "mapping"),
        ({"Telefon": "phone"}, "mapping"),
        ({"Spalte X": "email"}, "mapping"),
    ],
)
def test_a_bad_mapping_is_refused_and_nothing_starts(cast, mapping, field):
    job = _upload(cast, _csv(MESSY))
    with tenant_scope(cast.org_a), pytest.raises(ValidationFailed) as refused:
        import_start(actor=cast.actor(cast.alice), job=job, mapping=mapping, duplicates="skip")
    assert {e.field for e in refused.value.errors} == {field}
    with tenant_scope(cast.org_a):
        assert ImportJob.objects.get(pk=job.pk).status == "uploaded"


def test_the_audit_log_counts_and_never_quotes(cast):
    _run(cast, _upload(cast, _csv(MESSY)))
    with tenant_scope(cast.org_a):
        entries = list(AuditEntry.objects.filter(action__startswith="import.").order_by("seq"))
    assert [e.action for e in entries] == ["import.upload", "import.start", "import.finish"]
    assert entries[-1].extra == {
        "created": 2,
        "updated": 0,
        "skipped": 1,
        "rejected": 2,
        "suppressed": 0,
        "dry_run": False,
    }
    assert "Müller" not in str([e.extra for e in entries])


def test_importing_needs_the_right_to_create_contacts(cast):
    from custos.core.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        _upload(cast, _csv(MESSY), user=cast.bob)


def test_the_undo_window_closes_and_abandoned_uploads_go(cast):
    from datetime import timedelta

    from django.utils import timezone

    done = _run(cast, _upload(cast, _csv(MESSY)))
    abandoned = _upload(cast, _csv(MESSY))
    with tenant_scope(cast.org_a):
        assert imports.imports_expire(now=timezone.now() + timedelta(days=8)) == 2
        assert ImportJob.objects.get(pk=done.pk).undo_until is None
        assert not ImportJournalEntry.objects.filter(job=done).exists()
        assert ImportJob.objects.get(pk=abandoned.pk).status == "failed"
        with pytest.raises(Conflict):
            import_undo(actor=cast.actor(cast.alice), job=ImportJob.objects.get(pk=done.pk))
    assert not Path(abandoned.file_path).exists()


def test_columns_without_a_name_or_of_one_name_each_keep_their_own_cells(cast):
    text = "Nachname,E-Mail,,,Nachname\nLind,lind@example.org,Bonn,intern: schlechter Zahler,Lindqvist\n"
    job = _upload(cast, _csv(text))
    assert job.headers == ["Nachname", "E-Mail", "Column 3", "Column 4", "Nachname (2)"]

    job = _run(cast, job, mapping={"Nachname (2)": "last_name", "E-Mail": "email", "Column 3": "city"})

    assert job.created_count == 1
    with tenant_scope(cast.org_a):
        assert Contact.objects.values_list("last_name", "city").get() == ("Lindqvist", "Bonn")


def test_an_update_changes_what_the_file_gives_and_keeps_the_rest(cast):
    """No owner column: the contact keeps its owner (not the importer). A custom column: the
    contact's other custom values stay."""
    define_fields(cast, "contact", kdnr="text", branche="text")
    with tenant_scope(cast.org_a):
        stored = contact_create(
            actor=cast.actor(cast.olive),
            data={
                "last_name": "Kunde",
                "email": "kunde@example.org",
                "custom_fields": {"kdnr": "K-1", "branche": "Bau"},
            },
        )
    text = "E-Mail;Stadt;Branche\nkunde@example.org;Bonn;Handwerk\n"
    mapping = {"E-Mail": "email", "Stadt": "city", "Branche": "custom:branche"}

    job = _run(cast, _upload(cast, _csv(text)), mapping=mapping, duplicates="update")

    assert job.updated_count == 1
    with tenant_scope(cast.org_a):
        contact = Contact.objects.get(pk=stored.pk)
    assert (contact.owner_id, contact.city) == (cast.olive.pk, "Bonn")
    assert contact.custom_fields == {"kdnr": "K-1", "branche": "Handwerk"}


def test_an_import_writes_only_what_the_role_may_see_and_change(cast):
    """Sam (sales) sees and changes his own contacts; his role hides phone numbers here."""
    hide(cast, "sales", "contact.phone")
    with tenant_scope(cast.org_a):
        others = contact_create(actor=cast.actor(cast.olive), data={"last_name": "Fremd", "email": "fremd@example.org"})
        sams = contact_create(actor=cast.actor(cast.sam), data={"last_name": "Eigen", "email": "eigen@example.org"})
        sam = cast.actor(cast.sam)
        assert "phone" not in imports.import_targets(sam, "contact")
        assert "other_phones" not in imports.import_targets(sam, "contact")
        job = _upload(cast, _csv("E-Mail,Telefon\nfremd@example.org,030 1234567\n"), user=cast.sam)
        with pytest.raises(ValidationFailed):
            import_start(actor=sam, job=job, mapping={"E-Mail": "email", "Telefon": "phone"}, duplicates="update")

    text = "Nachname,E-Mail,Stadt\nFremd,fremd@example.org,Bonn\nEigen,eigen@example.org,Köln\n"
    job = _upload(cast, _csv(text), user=cast.sam)
    with tenant_scope(cast.org_a):
        import_start(
            actor=sam,
            job=job,
            mapping={"Nachname": "last_name", "E-Mail": "email", "Stadt": "city"},
            duplicates="update",
        )
    run_tasks()
    with tenant_scope(cast.org_a):
        job = ImportJob.objects.get(pk=job.pk)
        assert (job.updated_count, job.rejected_count) == (1, 1)
        assert (Contact.objects.get(pk=others.pk).city, Contact.objects.get(pk=sams.pk).city) == ("", "Köln")
    assert _rejected(cast, job) == [
        {"row": 2, "field": "", "message": "This person is stored already, among contacts your role may not change."}
    ]


def test_an_update_import_needs_the_right_to_change_contacts(cast):
    from custos.core.errors import PermissionDenied

    with tenant_scope(cast.org_a):
        role = Role.objects.get(org=cast.org_a, key="sales")
        role.permissions = [p for p in role.permissions if p != "contact.change"]
        role.save(update_fields=["permissions"])
        job = _upload(cast, _csv("E-Mail\nx@example.org\n"), user=cast.sam)
        with pytest.raises(PermissionDenied):
            import_start(actor=cast.actor(cast.sam), job=job, mapping={"E-Mail": "email"}, duplicates="update")
        import_start(actor=cast.actor(cast.sam), job=job, mapping={"E-Mail": "email"}, duplicates="skip")


def test_rejected_rows_give_their_reasons_in_the_language_of_who_started_the_import(cast):
    from custos.accounts.models import User

    User.objects.filter(pk=cast.alice.pk).update(language="de")
    job = _run(cast, _upload(cast, _csv(MESSY)))
    assert "Geben Sie eine gültige E-Mail-Adresse ein." in [row["message"] for row in _rejected(cast, job)]


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_job_that_fails_leaves_no_file_behind(cast, dry_run):
    """A failed import is never started again: the file holding everyone's rows goes."""
    from custos.accounts.models import Membership

    job = _upload(cast, _csv(MESSY))
    with tenant_scope(cast.org_a):
        import_start(actor=cast.actor(cast.alice), job=job, mapping=MAPPING, duplicates="skip", dry_run=dry_run)
        Membership.objects.filter(user=cast.alice, org=cast.org_a).delete()
    run_tasks()
    with tenant_scope(cast.org_a):
        assert ImportJob.objects.get(pk=job.pk).status == "failed"
    assert not Path(job.file_path).exists() and not rehearsal_path(job.file_path).exists()


def test_columns_become_addresses_and_custom_fields(cast, as_tenant):
    from custos.crm.services.custom_fields import custom_field_create

    admin = cast.actor(cast.olive)
    for key, kind, options in (("member", "yes_no", []), ("topics", "multi_choice", ["Implants", "Hygiene"])):
        custom_field_create(
            actor=admin,
            data={"object_type": "contact", "key": key, "label": key.title(), "kind": kind, "category": "none"}
            | {"options": options},
        )
    text = 'Last name;City;Land;Member;Topics\nLind;Köln;DE;ja;"Hygiene, Implants"\nKim;Kraków;PL;maybe;\n'
    job = import_upload(actor=admin, object_type="contact", file_name="x.csv", stream=io.BytesIO(text.encode()))
    assert job.mapping == {
        "Last name": "last_name",
        "City": "city",
        "Land": "country",
        "Member": "custom:member",
        "Topics": "custom:topics",
    }
    import_start(actor=admin, job=job, mapping=job.mapping, duplicates="skip")
    run_tasks()
    lind = Contact.objects.get(last_name="Lind")
    assert (lind.city, lind.country) == ("Köln", "DE")
    assert lind.custom_fields == {"member": True, "topics": ["Implants", "Hygiene"]}
    job.refresh_from_db()
    assert (job.created_count, job.rejected_count) == (1, 1)
    report = _report(job).splitlines()
    assert report[1:] == ["3,Member,Use true or false."]


def test_the_rejected_rows_report_holds_no_formula(cast, as_tenant):
    """A field's label is the organisation's own text: "=1+1" or "a;@SUM(1)" stays text."""
    from custos.crm.services.custom_fields import custom_field_create

    admin = cast.actor(cast.olive)
    custom_field_create(
        actor=admin,
        data={"object_type": "contact", "key": "bonus", "label": "=1+1;@SUM(1)", "kind": "yes_no", "category": "none"},
    )
    text = "Last name;Bonus\nLind;maybe\n"
    job = import_upload(actor=admin, object_type="contact", file_name="x.csv", stream=io.BytesIO(text.encode()))
    import_start(actor=admin, job=job, mapping={"Last name": "last_name", "Bonus": "custom:bonus"}, duplicates="skip")
    run_tasks()

    assert _report(job).splitlines()[1] == "2,'=1+1;'@SUM(1),Use true or false."


def _statements_of_importing(cast, rows: int) -> tuple[int, ImportJob]:
    """Import `rows` rows that use everything a row can ask for: an owner by email, a company
    found by VAT ID or name or made new, a stored person, a person twice in the file."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    lines = ["Vorname,Nachname,E-Mail,Telefon,Firma,Owner,Tags"]
    for n in range(rows):
        company = ("DE129273398", "kurz labor", f"Firma {rows}-{n}", "")[n % 4]
        email = "stored@example.org" if n == 1 else f"p{rows}-{n}@example.org"
        lines.append(f"P{n},Person,{email},030 1234{n:04d},{company},{('sam@acme.example', '')[n % 2]},vip")
    lines.append(lines[3])  # the same person twice in one file
    job = _upload(cast, _csv("\n".join(lines) + "\n"))
    mapping = {**MAPPING, "Owner": "owner", "Tags": "tags"}
    with tenant_scope(cast.org_a):
        import_start(actor=cast.actor(cast.alice), job=job, mapping=mapping, duplicates="skip")
    with CaptureQueriesContext(connection) as statements:
        run_tasks()
    with tenant_scope(cast.org_a):
        return len(statements), ImportJob.objects.get(pk=job.pk)


def test_the_statements_of_an_import_do_not_grow_with_its_rows(cast):
    with tenant_scope(cast.org_a):
        actor = cast.actor(cast.alice)
        company_create(actor=actor, data={"name": "Kurz Labor", "vat_id": "DE129273398"})
        contact_create(actor=actor, data={"last_name": "Stored", "email": "stored@example.org"})

    few, small = _statements_of_importing(cast, 20)
    many, big = _statements_of_importing(cast, 200)

    assert (small.created_count, small.skipped_count, small.rejected_count) == (19, 2, 0)
    assert (big.created_count, big.skipped_count, big.rejected_count) == (199, 2, 0)
    # One query per row would make 200 rows cost ten times the statements of 20.
    assert many < 3 * few, (few, many)
    with tenant_scope(cast.org_a):
        assert Contact.objects.filter(owner=cast.sam).count() == 10 + 100
        assert Contact.objects.filter(company__name="Kurz Labor").count() == 9 + 99
        assert Company.objects.filter(name__startswith="Firma 200-").count() == 50
        assert Contact.objects.get(email="p200-4@example.org").company.name == "Kurz Labor"


def _stored(cast, **data):
    with tenant_scope(cast.org_a):
        return contact_create(actor=cast.actor(cast.alice), data=data)


def test_a_namesake_who_lives_elsewhere_is_another_person_even_on_update(cast):
    """A row with a name only is the same as a stored contact of that name only where nothing
    it gives differs: an update never writes one Otto's city over another's."""
    bonn = _stored(cast, first_name="Otto", last_name="Lang", city="Bonn")
    text = "Vorname;Nachname;Stadt\nOtto;Lang;Köln\nOtto;Lang;Bonn\nOtto;Lang;\n"
    mapping = {"Vorname": "first_name", "Nachname": "last_name", "Stadt": "city"}
    job = _run(cast, _upload(cast, _csv(text)), mapping=mapping, duplicates="update")
    assert (job.created_count, job.updated_count, job.skipped_count) == (1, 0, 2)
    with tenant_scope(cast.org_a):
        assert Contact.objects.get(pk=bonn.pk).city == "Bonn"
        assert sorted(Contact.objects.filter(last_name="Lang").values_list("city", flat=True)) == ["Bonn", "Köln"]


SAME_PERSON_TWICE = (
    "Vorname;Nachname;E-Mail;Telefon;Firma\n"
    "Anna;Schmidt;anna@example.org;030 1234567;\n"
    "Anna;Schmidt;;030 1234567;\n"  # the same Anna, without her email
)


@pytest.mark.parametrize("batch_size", [500, 1])
def test_where_the_batches_split_changes_nothing(cast, monkeypatch, batch_size):
    monkeypatch.setattr(imports, "BATCH_SIZE", batch_size)
    job = _run(cast, _upload(cast, _csv(SAME_PERSON_TWICE)))
    assert (job.created_count, job.skipped_count) == (1, 1)
    assert _run(cast, _upload(cast, _csv(SAME_PERSON_TWICE))).created_count == 0


def test_a_row_repeated_in_a_batch_fills_in_the_new_contact_on_update(cast):
    text = "Vorname;Nachname;Telefon;Stadt\nJan;Berg;030 7654321;\nJan;Berg;030 7654321;Bonn\n"
    job = _run(cast, _upload(cast, _csv(text)), mapping=ROWS_WITH_CITY, duplicates="update")
    assert (job.created_count, job.updated_count, job.skipped_count) == (1, 1, 0)  # as if split between batches
    assert _people(cast) == [("Jan", "Berg", "", "+49307654321")]
    with tenant_scope(cast.org_a):
        assert Contact.objects.get().city == "Bonn"


@pytest.mark.parametrize("batch_size", [500, 1])
def test_a_later_row_of_the_same_person_wins_wherever_the_batches_split(cast, monkeypatch, batch_size):
    """Jan moved from Köln to Bonn: the file's later row is the newer one, in one batch as in two."""
    monkeypatch.setattr(imports, "BATCH_SIZE", batch_size)
    text = (
        "Vorname;Nachname;Telefon;Stadt\n"
        "Jan;Berg;030 7654321;Köln\n"
        "Jan;Berg;030 7654321;Bonn\n"
        "Jan;Berg;030 7654321;Bonn\n"  # nothing new: skipped
    )
    job = _run(cast, _upload(cast, _csv(text)), mapping=ROWS_WITH_CITY, duplicates="update")
    assert (job.created_count, job.updated_count, job.skipped_count) == (1, 1, 1)
    with tenant_scope(cast.org_a):
        assert list(Contact.objects.values_list("city", flat=True)) == ["Bonn"]


# People who come back further down the file: by email in another case, by phone and name, by
# the phone an earlier row gave a stored person (Olga).
COMING_BACK = (
    "Vorname;Nachname;E-Mail;Telefon;Stadt\n"
    "Anna;Schmidt;anna@example.org;030 1234567;\n"
    "Jan;Berg;;030 7654321;Köln\n"
    "Olga;Stein;olga@example.org;040 5555555;Hamburg\n"
    "Anna;Schmidt;;030 1234567;Berlin\n"
    "Jan;Berg;;030 7654321;Bonn\n"
    "Olga;Stein;;040 5555555;Hamburg\n"
    "ANNA;SCHMIDT;Anna@Example.org;;\n"
    "Piotr;Nowak;piotr@example.org;;\n"
)
COMING_BACK_MAPPING = {**ROWS_WITH_CITY, "E-Mail": "email"}


@pytest.mark.parametrize("duplicates", ["skip", "update", "create"])
@pytest.mark.parametrize("batch_size", [500, 2, 1])
def test_a_dry_run_counts_what_the_import_then_does_wherever_the_batches_split(
    cast, monkeypatch, batch_size, duplicates
):
    """A real run finds the people its earlier batches wrote; so does a dry run, which writes none."""
    monkeypatch.setattr(imports, "BATCH_SIZE", batch_size)
    with tenant_scope(cast.org_a):
        contact_create(
            actor=cast.actor(cast.alice), data={"first_name": "Olga", "last_name": "Stein", "email": "olga@example.org"}
        )
    stored = _people(cast)

    def counts(job):
        return job.created_count, job.updated_count, job.skipped_count, job.rejected_count

    dry = _run(cast, _upload(cast, _csv(COMING_BACK)), mapping=COMING_BACK_MAPPING, duplicates=duplicates, dry_run=True)
    assert _people(cast) == stored
    assert not rehearsal_path(dry.file_path).exists()  # gone with the upload
    real = _run(cast, _upload(cast, _csv(COMING_BACK)), mapping=COMING_BACK_MAPPING, duplicates=duplicates)
    assert counts(dry) == counts(real)
    # Anna, Jan and Piotr; on update Olga is found again by the phone her first row gave her.
    assert real.created_count == {"skip": 4, "update": 3, "create": 8}[duplicates]


def _started_dry_run(cast, text, mapping, duplicates):
    """A dry run started as a worker would take it up: the job, its rows and its rehearsal."""
    job = _upload(cast, _csv(text))
    import_start(actor=cast.actor(cast.alice), job=job, mapping=mapping, duplicates=duplicates, dry_run=True)
    job = ImportJob.objects.get(pk=job.pk)
    rows = [(n + 2, imports._row_data(job, job.headers, row)) for n, row in enumerate(imports.iter_rows(job))]
    return job, rows, imports.Rehearsal(job.file_path, job.checkpoint, imports.REHEARSED_FIELDS)


def test_an_interrupted_dry_run_resumes_with_what_its_done_batches_would_have_written(cast, monkeypatch):
    monkeypatch.setattr(imports, "BATCH_SIZE", 2)
    whole = _run(cast, _upload(cast, _csv(COMING_BACK)), mapping=COMING_BACK_MAPPING, duplicates="update", dry_run=True)
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        job, rows, rehearsal = _started_dry_run(cast, COMING_BACK, COMING_BACK_MAPPING, "update")
        # The worker did two batches, kept a third but went down before its checkpoint.
        resolver = imports._Resolver(actor)
        for start in (0, 2):
            imports._write_batch(
                job, actor, resolver, "DE", rows[start : start + 2], next_checkpoint=start + 2, rehearsal=rehearsal
            )
        with pytest.raises(RuntimeError), transaction.atomic():
            imports._write_batch(job, actor, resolver, "DE", rows[4:6], next_checkpoint=6, rehearsal=rehearsal)
            raise RuntimeError("the machine went down")
        rehearsal.close()
        assert ImportJob.objects.get(pk=job.pk).checkpoint == 4
    run_tasks()  # the task runs again and resumes
    with tenant_scope(cast.org_a):
        job = ImportJob.objects.get(pk=job.pk)
    assert job.status == "completed"
    counts = ("created_count", "updated_count", "skipped_count")
    assert [getattr(job, name) for name in counts] == [getattr(whole, name) for name in counts]
    assert whole.created_count == 4  # Anna, Jan, Olga (not stored here) and Piotr
    assert _people(cast) == []


@pytest.mark.parametrize("column", ["health_notes", "other_emails"])
@pytest.mark.parametrize("batch_size", [500, 1])
def test_a_dry_run_finds_a_repeated_person_holding_what_their_earlier_row_gave(cast, monkeypatch, column, batch_size):
    """The same row twice: the second brings nothing new, in a dry run as in the import
    (health notes are kept encrypted for that, further emails with the contact)."""
    monkeypatch.setattr(imports, "BATCH_SIZE", batch_size)
    text = "Vorname;Nachname;E-Mail;Mehr\n" + "Anna;Schmidt;anna@example.org;asthma@example.org\n" * 2
    mapping = {"Vorname": "first_name", "Nachname": "last_name", "E-Mail": "email", "Mehr": column}

    dry = _run(cast, _upload(cast, _csv(text)), mapping=mapping, duplicates="update", dry_run=True)
    real = _run(cast, _upload(cast, _csv(text)), mapping=mapping, duplicates="update")

    assert (dry.created_count, dry.updated_count, dry.skipped_count) == (1, 0, 1)
    assert (real.created_count, real.updated_count, real.skipped_count) == (1, 0, 1)


def test_a_resumed_dry_run_knows_the_companies_its_done_batches_would_have_made(cast, monkeypatch):
    monkeypatch.setattr(imports, "BATCH_SIZE", 1)
    text = "Vorname;Nachname;Firma\nJan;Berg;Nordwind GmbH\nJan;Berg;Nordwind GmbH\n"
    mapping = {"Vorname": "first_name", "Nachname": "last_name", "Firma": "company"}
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        job, rows, rehearsal = _started_dry_run(cast, text, mapping, "skip")
        imports._write_batch(
            job, actor, imports._Resolver(actor), "DE", rows[:1], next_checkpoint=1, rehearsal=rehearsal
        )
        rehearsal.close()
    run_tasks()  # another worker resumes, with a resolver of its own
    with tenant_scope(cast.org_a):
        job = ImportJob.objects.get(pk=job.pk)
        assert not Company.objects.exists()
    assert (job.status, job.created_count, job.skipped_count) == ("completed", 1, 1)  # Jan at Nordwind, once


@pytest.mark.parametrize("dry_run", [False, True])
def test_an_email_on_the_suppression_list_reaching_a_stored_person_flags_them(cast, dry_run):
    """An erased person's email arriving on a row with a stored namesake's phone, who holds no
    email: written onto the stored person (the same person, by phone and name), who is taken
    out of marketing and counted among the suppressed, as a new contact would be."""
    from custos.privacy.models import Subject
    from custos.privacy.services.erasure import subject_erase

    greta = _stored(cast, first_name="Greta", last_name="Berg", email="greta@example.org")
    with tenant_scope(cast.org_a):
        subject_erase(actor=cast.actor(cast.alice), subject=greta.subject)
    phone_only = _stored(cast, first_name="Greta", last_name="Berg", phone="030 1234567")
    text = "Vorname;Nachname;E-Mail;Telefon\nGreta;Berg;greta@example.org;030 1234567\n"
    mapping = {k: v for k, v in MAPPING.items() if k != "Firma"}
    job = _run(cast, _upload(cast, _csv(text)), mapping=mapping, duplicates="update", dry_run=dry_run)
    assert (job.created_count, job.updated_count, job.suppressed_count) == (0, 1, 1)
    with tenant_scope(cast.org_a):
        stored = Contact.objects.get(pk=phone_only.pk)
        objected = Subject.objects.get(pk=stored.subject_id).objected_to_marketing_at
    assert (stored.email, objected is None) == (("", True) if dry_run else ("greta@example.org", False))


def test_a_dry_run_counts_as_the_real_run(cast):
    """Rows of a company still to be made are not taken for a namesake without one, and a
    row repeated in the file is counted once, as the real run will."""
    _stored(cast, first_name="Eva", last_name="Kurz")
    text = (
        "Vorname;Nachname;E-Mail;Telefon;Firma\nEva;Kurz;;;Neu GmbH\nJan;Berg;;030 7654321;\nJan;Berg;;030 7654321;\n"
    )
    dry = _run(cast, _upload(cast, _csv(text)), dry_run=True)
    with tenant_scope(cast.org_a):
        assert not Company.objects.exists()  # a dry run writes nothing, its companies neither
    real = _run(cast, _upload(cast, _csv(text)))
    assert (dry.created_count, dry.skipped_count) == (real.created_count, real.skipped_count) == (2, 1)


def test_a_dry_run_of_updates_counts_as_the_real_run(cast):
    """The stored contact a row changes is found by its new values later in the batch, a
    dry run too; a company cell of no letters makes the dry run write nothing all the same."""
    _stored(cast, first_name="Anna", last_name="Schmidt", email="anna@example.org")
    text = (
        "Vorname;Nachname;E-Mail;Telefon;Firma\n"
        "Anna;Schmidt;anna@example.org;030 1234567;Neu GmbH\n"
        "Anna;Schmidt;;030 1234567;-\n"
    )
    dry = _run(cast, _upload(cast, _csv(text)), duplicates="update", dry_run=True)
    with tenant_scope(cast.org_a):
        assert not Company.objects.exists()
    real = _run(cast, _upload(cast, _csv(text)), duplicates="update")
    counts = [(job.created_count, job.updated_count, job.skipped_count) for job in (dry, real)]
    assert counts == [(0, 2, 0), (0, 2, 0)]  # the second row gives her company "-" and is found by phone


@pytest.mark.parametrize("dry_run", [False, True])
def test_an_update_bringing_a_suppressed_address_flags_the_person(cast, dry_run):
    """Anna's row adds an address of someone erased: she is taken out of marketing, and the
    job counts her among the suppressed, as it would a new contact (a dry run counts alike)."""
    from custos.privacy.models import Subject
    from custos.privacy.services.erasure import subject_erase

    gone = _stored(cast, last_name="Gone", email="gone@example.org")
    with tenant_scope(cast.org_a):
        subject_erase(actor=cast.actor(cast.alice), subject=gone.subject)
    anna = _stored(cast, first_name="Anna", last_name="Schmidt", email="anna@example.org")
    text = "Vorname;Nachname;E-Mail;Weitere\nAnna;Schmidt;anna@example.org;gone@example.org\n"
    mapping = {"Vorname": "first_name", "Nachname": "last_name", "E-Mail": "email", "Weitere": "other_emails"}
    job = _run(cast, _upload(cast, _csv(text)), mapping=mapping, duplicates="update", dry_run=dry_run)
    assert (job.updated_count, job.suppressed_count) == (1, 1)
    with tenant_scope(cast.org_a):
        objected = Subject.objects.get(pk=anna.subject_id).objected_to_marketing_at
    assert (objected is None) == dry_run


@pytest.mark.parametrize("dry_run", [False, True])
def test_an_update_never_changes_a_restricted_person(cast, dry_run):
    """Processing of Anna's data is restricted: her contact is stored, not changed, by an
    import as by a form; the row is reported with the reason, and nothing of it is written."""
    from custos.privacy.services.restriction import subject_restrict

    anna = _stored(cast, first_name="Anna", last_name="Schmidt", email="anna@example.org", city="Bonn")
    with tenant_scope(cast.org_a):
        subject_restrict(actor=cast.actor(cast.alice), subject=anna.subject, inform=False)
    text = (
        "Vorname;Nachname;E-Mail;Stadt;Weitere\n"
        "Anna;Schmidt;anna@example.org;Köln;anna.privat@example.org\n"
        "Jan;Berg;jan@example.org;Bonn;\n"
    )
    mapping = {
        "Vorname": "first_name",
        "Nachname": "last_name",
        "E-Mail": "email",
        "Stadt": "city",
        "Weitere": "other_emails",
    }
    job = _run(cast, _upload(cast, _csv(text)), mapping=mapping, duplicates="update", dry_run=dry_run)
    assert (job.created_count, job.updated_count, job.rejected_count) == (1, 0, 1)
    assert _rejected(cast, job) == [
        {
            "row": 2,
            "field": "",
            "message": "Processing of this person's data is restricted: it is stored, but cannot be changed.",
        }
    ]
    with tenant_scope(cast.org_a):
        stored = Contact.objects.get(pk=anna.pk)
        assert (stored.city, stored.points.count()) == ("Bonn", 0)


@pytest.mark.parametrize("record", ["contact", "lead"])
def test_no_contact_joins_a_restricted_person(cast, record):
    """A row with the email of a contact or lead whose person's processing is restricted makes
    no contact of them, whatever the strategy: the row is reported with the reason."""
    from custos.crm.services.leads import lead_create
    from custos.privacy.services.restriction import subject_restrict

    with tenant_scope(cast.org_a):
        actor = cast.actor(cast.alice)
        data = {"first_name": "Anna", "last_name": "Schmidt", "email": "anna@example.org"}
        stored = contact_create(actor=actor, data=data) if record == "contact" else lead_create(actor=actor, data=data)
        subject_restrict(actor=actor, subject=stored.subject, inform=False)
    text = "Vorname;Nachname;E-Mail\nAnna;Schmidt;anna@example.org\n"
    mapping = {"Vorname": "first_name", "Nachname": "last_name", "E-Mail": "email"}
    for duplicates in ("create", "update"):
        job = _run(cast, _upload(cast, _csv(text)), mapping=mapping, duplicates=duplicates)
        assert (job.created_count, job.rejected_count) == (0, 1), duplicates
        assert "restricted" in _rejected(cast, job)[0]["message"]
    with tenant_scope(cast.org_a):
        assert Contact.objects.filter(email="anna@example.org").count() == (1 if record == "contact" else 0)


@pytest.mark.parametrize("batch_size", [500, 1])
def test_a_suppressed_email_filled_in_within_a_batch_flags_the_person(cast, monkeypatch, batch_size):
    """Greta's first row has no email, her second brings an erased person's: whether the two
    rows fall in one batch or two, she is taken out of marketing and counted once."""
    from custos.privacy.models import Subject
    from custos.privacy.services.erasure import subject_erase

    monkeypatch.setattr(imports, "BATCH_SIZE", batch_size)
    gone = _stored(cast, last_name="Gone", email="gone@example.org")
    with tenant_scope(cast.org_a):
        subject_erase(actor=cast.actor(cast.alice), subject=gone.subject)
    text = "Vorname;Nachname;E-Mail;Telefon\nGreta;Berg;;030 1234567\nGreta;Berg;GONE@example.org;030 1234567\n"
    mapping = {k: v for k, v in MAPPING.items() if k != "Firma"}
    job = _run(cast, _upload(cast, _csv(text)), mapping=mapping, duplicates="update")
    assert (job.created_count, job.updated_count, job.suppressed_count) == (1, 1, 1)
    with tenant_scope(cast.org_a):
        greta = Contact.objects.get(last_name="Berg")
        assert Subject.objects.get(pk=greta.subject_id).objected_to_marketing_at is not None


def test_two_spellings_of_a_suppressed_email_are_both_caught(cast):
    """The suppression list answers for each spelling of an address in a batch, not the last one."""
    from custos.privacy.services.erasure import subject_erase

    gone = _stored(cast, last_name="Gone", email="juergen@example.org")
    with tenant_scope(cast.org_a):
        subject_erase(actor=cast.actor(cast.alice), subject=gone.subject)
    text = "Nachname;E-Mail\nNeu;juergen@example.org\nNeu;JUERGEN@example.org\n"
    job = _run(cast, _upload(cast, _csv(text)), mapping={"Nachname": "last_name", "E-Mail": "email"})
    assert (job.created_count, job.skipped_count, job.suppressed_count) == (1, 1, 1)
    with tenant_scope(cast.org_a):
        assert Contact.objects.get(last_name="Neu").subject.objected_to_marketing_at is not None


def test_an_email_of_a_restricted_lead_reaches_no_contact_by_phone(cast):
    """The file's Anna has a stored namesake with her phone and no email, but her email is a
    restricted person's lead: not written onto the namesake, and no contact made of her."""
    from custos.crm.services.leads import lead_create
    from custos.privacy.services.restriction import subject_restrict

    namesake = _stored(cast, first_name="Anna", last_name="Schmidt", phone="030 1234567")
    with tenant_scope(cast.org_a):
        actor = cast.actor(cast.alice)
        lead = lead_create(actor=actor, data={"last_name": "Schmidt", "email": "anna@example.org"})
        subject_restrict(actor=actor, subject=lead.subject, inform=False)
    text = "Vorname;Nachname;E-Mail;Telefon\nAnna;Schmidt;anna@example.org;030 1234567\n"
    mapping = {k: v for k, v in MAPPING.items() if k != "Firma"}
    job = _run(cast, _upload(cast, _csv(text)), mapping=mapping, duplicates="update")
    assert (job.created_count, job.updated_count, job.rejected_count) == (0, 0, 1)
    with tenant_scope(cast.org_a):
        assert Contact.objects.get(pk=namesake.pk).email == ""


def _started(cast, job, mapping=None, duplicates="skip", user=None):
    """Started, its task queued, and no worker has run it yet."""
    from django.db import connection

    with tenant_scope(cast.org_a):
        import_start(
            actor=cast.actor(user or cast.alice), job=job, mapping=mapping or job.mapping, duplicates=duplicates
        )
    while connection.run_on_commit:  # a test's transaction never commits: enqueue as the commit would
        connection.run_on_commit.pop(0)[1]()
    return job


def _people_rows(count):
    return [(n + 2, {"first_name": f"P{n}", "last_name": "Person", "email": f"p{n}@example.org"}) for n in range(count)]


def test_an_import_whose_worker_died_is_handed_to_a_worker_again(cast, monkeypatch):
    """The worker claimed the task, wrote a batch and went down: the task stays claimed, and
    the periodic job hands the import on once its checkpoint has stood still for ten minutes."""
    from datetime import timedelta

    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    from custos.core.periodic import JOBS

    monkeypatch.setattr(imports, "BATCH_SIZE", 2)
    rows = "".join(f"P{n},Person,p{n}@example.org\n" for n in range(5))
    job = _started(cast, _upload(cast, _csv("Vorname,Nachname,E-Mail\n" + rows)))
    DBTaskResult.objects.ready().get().claim("custos-dead")
    actor = cast.actor(cast.alice)
    now = timezone.now()
    with tenant_scope(cast.org_a):
        imports._write_batch(job, actor, imports._Resolver(actor), "DE", _people_rows(2), next_checkpoint=2)
        assert imports.imports_resume(now=now) == 0  # seen at its checkpoint: it may well be running
        assert imports.imports_resume(now=now + timedelta(minutes=9)) == 0
        assert imports.imports_resume(now=now + timedelta(minutes=11)) == 1
    assert run_tasks() == 1
    with tenant_scope(cast.org_a):
        job = ImportJob.objects.get(pk=job.pk)
        assert (job.status, job.created_count, Contact.objects.count()) == ("completed", 5, 5)
    assert not Path(job.file_path).exists()
    assert [(j.task, j.every) for j in JOBS if j.name == "crm.resume_imports"] == [
        ("custos.crm.tasks.resume_imports", timedelta(minutes=5))
    ]


def test_an_import_getting_further_is_left_to_its_worker_and_one_that_never_does_fails(cast, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    monkeypatch.setattr(imports, "BATCH_SIZE", 2)
    rows = "".join(f"P{n},Person,p{n}@example.org\n" for n in range(5))
    job = _started(cast, _upload(cast, _csv("Vorname,Nachname,E-Mail\n" + rows)))
    actor = cast.actor(cast.alice)
    now = timezone.now()
    with tenant_scope(cast.org_a):
        assert imports.imports_resume(now=now + timedelta(minutes=9)) == 0  # started nine minutes ago
        assert imports.imports_resume(now=now + timedelta(minutes=11)) == 1
        imports._write_batch(job, actor, imports._Resolver(actor), "DE", _people_rows(2), next_checkpoint=2)
        assert ImportJob.objects.get(pk=job.pk).resumes == 0  # it got further: the count starts again
        # Handed on again and again without getting further: the file stops every worker.
        resumed = [imports.imports_resume(now=now + timedelta(minutes=11 * n)) for n in range(2, 6)]
        assert resumed == [1, 1, 1, 0]
        assert ImportJob.objects.get(pk=job.pk).status == "failed"
    assert not Path(job.file_path).exists()


def test_two_runs_of_one_import_never_write_a_batch_twice(cast):
    """A worker thought dead goes on after the job was handed on: whichever run writes a
    batch first writes it; the other finds the checkpoint moved and stops."""
    job = _started(cast, _upload(cast, _csv("Vorname,Nachname,E-Mail\nP0,Person,p0@example.org\n")))
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        ImportJob.objects.filter(pk=job.pk).update(duplicates="create")
        first, second = ImportJob.objects.get(pk=job.pk), ImportJob.objects.get(pk=job.pk)
        batch = _people_rows(2)
        assert imports._write_batch(first, actor, imports._Resolver(actor), "DE", batch, next_checkpoint=2)
        assert not imports._write_batch(second, actor, imports._Resolver(actor), "DE", batch, next_checkpoint=2)
        assert (ImportJob.objects.get(pk=job.pk).created_count, Contact.objects.count()) == (2, 2)


def test_a_run_stopped_by_any_error_fails_and_leaves_no_file(cast):
    """The stored XLSX file is damaged after its upload: the run ends failed, not running."""
    workbook = Workbook()
    workbook.active.append(["Nachname", "E-Mail"])
    workbook.active.append(["Lind", "lind@example.org"])
    data = io.BytesIO()
    workbook.save(data)
    data.seek(0)
    job = _upload(cast, data, name="kontakte.xlsx")
    Path(job.file_path).write_bytes(b"PK\x03\x04 damaged on the disk")
    job = _run(cast, job, mapping={"Nachname": "last_name", "E-Mail": "email"})
    assert (job.status, job.error) == ("failed", "BadZipFile")
    assert not Path(job.file_path).exists()


def test_a_company_beyond_the_role_s_record_scope_is_neither_shown_nor_linked(cast):
    """Sam (sales) sees his own records only: Olive's "Secret Corp" is not his to find."""
    with tenant_scope(cast.org_a):
        secret = company_create(actor=cast.actor(cast.olive), data={"name": "Secret Corp", "vat_id": "DE129273398"})
    text = "Nachname;E-Mail;Firma\nLind;lind@example.org;Secret Corp\nHolm;holm@example.org;secret corp\n"
    mapping = {"Nachname": "last_name", "E-Mail": "email", "Firma": "company"}
    job = _upload(cast, _csv(text), user=cast.sam)
    with tenant_scope(cast.org_a):
        outcomes = import_preview(actor=cast.actor(cast.sam), job=job, mapping=mapping)
    assert [o.data.get("company_id") for o in outcomes] == [None, None]

    job = _run(cast, job, mapping=mapping, user=cast.sam)

    assert job.created_count == 2
    with tenant_scope(cast.org_a):
        linked = {c.company for c in Contact.objects.select_related("company")}
    assert len(linked) == 1 and secret not in linked
    assert [(c.name, c.owner_id) for c in linked] == [("Secret Corp", cast.sam.pk)]  # his own namesake


def test_without_the_right_to_create_companies_a_row_naming_a_new_one_is_rejected(cast):
    with tenant_scope(cast.org_a):
        own = company_create(actor=cast.actor(cast.sam), data={"name": "Eigen AG"})
        role = Role.objects.get(org=cast.org_a, key="sales")
        role.permissions = [p for p in role.permissions if p != "company.add"]
        role.save(update_fields=["permissions"])
    text = "Nachname;E-Mail;Firma\nLind;lind@example.org;Neu GmbH\nHolm;holm@example.org;eigen ag\n"
    mapping = {"Nachname": "last_name", "E-Mail": "email", "Firma": "company"}
    job = _upload(cast, _csv(text), user=cast.sam)
    message = "No company you may see has this name or VAT ID, and your role may not create companies."
    with tenant_scope(cast.org_a):
        outcomes = import_preview(actor=cast.actor(cast.sam), job=job, mapping=mapping)
    assert [o.errors for o in outcomes] == [[("company", message)], []]

    job = _run(cast, job, mapping=mapping, user=cast.sam)

    assert (job.created_count, job.rejected_count) == (1, 1)
    assert _rejected(cast, job) == [{"row": 2, "field": "company", "message": message}]
    with tenant_scope(cast.org_a):
        assert list(Company.objects.values_list("name", flat=True)) == ["Eigen AG"]
        assert Contact.objects.get().company_id == own.pk


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_restricted_person_found_by_phone_and_name_gets_no_new_contact(cast, dry_run):
    """Without an email the row is the stored person with its phone and name: restricted,
    no contact of them is made, even where duplicates are to be created."""
    from custos.privacy.services.restriction import subject_restrict

    anna = _stored(cast, first_name="Anna", last_name="Schmidt", phone="030 1234567")
    with tenant_scope(cast.org_a):
        subject_restrict(actor=cast.actor(cast.alice), subject=anna.subject, inform=False)
    text = "Vorname;Nachname;Telefon\nAnna;Schmidt;030 1234567\n"
    mapping = {"Vorname": "first_name", "Nachname": "last_name", "Telefon": "phone"}
    job = _run(cast, _upload(cast, _csv(text)), mapping=mapping, duplicates="create", dry_run=dry_run)
    assert (job.created_count, job.rejected_count) == (0, 1)
    assert _rejected(cast, job) == [
        {
            "row": 2,
            "field": "",
            "message": "Processing of this person's data is restricted: it is stored, but cannot be changed.",
        }
    ]
    with tenant_scope(cast.org_a):
        assert Contact.objects.count() == 1


@pytest.mark.parametrize(("stored", "given"), [("ÖKO Bau GmbH", "ÖKO Bau GmbH"), ("Łódź Med", "ŁÓDŹ MED")])
def test_a_company_whose_name_begins_with_a_capital_beyond_ascii_is_found_again(cast, stored, given):
    """SQLite's lower() lowers A to Z only: "ÖKO" reads "Öko" there."""
    mapping = {"Nachname": "last_name", "Firma": "company"}
    _run(cast, _upload(cast, _csv(f"Nachname;Firma\nLind;{stored}\n")), mapping=mapping)
    job = _run(cast, _upload(cast, _csv(f"Nachname;Firma\nHolm;{given}\n")), mapping=mapping)
    assert job.created_count == 1
    with tenant_scope(cast.org_a):
        assert list(Company.objects.values_list("name", flat=True)) == [stored]
        assert {c.company.name for c in Contact.objects.select_related("company")} == {stored}


@pytest.mark.parametrize("batch_size", [500, 1])
@pytest.mark.parametrize(
    ("duplicates", "made"),
    [("skip", ["Anders AG"]), ("create", ["Anders AG", "Neu GmbH"]), ("update", ["Anders AG", "Neu GmbH"])],
)
def test_rows_skipped_or_refused_make_no_company(cast, monkeypatch, batch_size, duplicates, made):
    """Lind is stored (skipped, or written), Anna and Berg are restricted (skipped, or refused);
    Holm is new, at the company Anna's row named too."""
    from custos.privacy.services.restriction import subject_restrict

    monkeypatch.setattr(imports, "BATCH_SIZE", batch_size)
    _stored(cast, last_name="Lind", email="lind@example.org")
    for name in ("Schmidt", "Berg"):
        person = _stored(cast, last_name=name, email=f"{name.lower()}@example.org")
        with tenant_scope(cast.org_a):
            subject_restrict(actor=cast.actor(cast.alice), subject=person.subject, inform=False)
    text = (
        "Nachname;E-Mail;Firma\n"
        "Lind;lind@example.org;Neu GmbH\n"
        "Schmidt;schmidt@example.org;Anders AG\n"
        "Holm;holm@example.org;Anders AG\n"
        "Berg;berg@example.org;Leer KG\n"
    )
    mapping = {"Nachname": "last_name", "E-Mail": "email", "Firma": "company"}
    job = _run(cast, _upload(cast, _csv(text)), mapping=mapping, duplicates=duplicates)
    assert job.status == "completed"
    with tenant_scope(cast.org_a):
        assert sorted(Company.objects.values_list("name", flat=True)) == made
        assert Contact.objects.get(last_name="Holm").company.name == "Anders AG"
    with tenant_scope(cast.org_a):
        import_undo(actor=cast.actor(cast.alice), job=job)  # what it made is journaled: undo takes it away
        assert not Company.objects.exists()


@pytest.mark.parametrize(
    ("encoding", "row"),
    [("cp1252", ("Zoë", "Dubois-Müller", "Düsseldorf")), ("cp1250", ("Łukasz", "Włodarczyk", "Łódź"))],
)
def test_a_code_page_file_whose_first_letter_beyond_ascii_comes_late_is_read(cast, encoding, row):
    """The first 64 KB are plain ASCII, read as UTF-8 would read them: the encoding is found
    where the first other letter is."""
    text = "Vorname;Nachname;Stadt;Notiz\n" + f"Ada;Lovelace;London;{'x' * 70000}\n" + ";".join(row) + ";\n"
    mapping = {"Vorname": "first_name", "Nachname": "last_name", "Stadt": "city"}
    job = _upload(cast, _csv(text, encoding))
    assert (job.encoding, job.total_rows) == (encoding, 2)
    job = _run(cast, job, mapping=mapping)
    assert job.created_count == 2
    with tenant_scope(cast.org_a):
        assert Contact.objects.values_list("first_name", "last_name", "city").get(last_name=row[1]) == row


def test_rejected_rows_give_their_reasons_in_the_language_the_import_was_started_in(cast):
    """Alice chose no language of her own and uses the pages in German."""
    from django.utils import translation

    job = _upload(cast, _csv(MESSY))
    with translation.override("de"), tenant_scope(cast.org_a):
        import_start(actor=cast.actor(cast.alice), job=job, mapping=MAPPING, duplicates="skip")
    run_tasks()
    assert "Geben Sie eine gültige E-Mail-Adresse ein." in [row["message"] for row in _rejected(cast, job)]


def test_an_import_started_or_finished_has_no_preview(cast):
    job = _upload(cast, _csv(MESSY))
    _run(cast, job)
    with tenant_scope(cast.org_a), pytest.raises(Conflict) as refused:
        import_preview(actor=cast.actor(cast.alice), job=ImportJob.objects.get(pk=job.pk), mapping=MAPPING)
    assert refused.value.detail == "Only an import that has not started can be previewed."


def test_a_remembered_mapping_fits_headers_in_another_case_and_the_role_using_it(cast):
    """Alice mapped a column to health notes; Sam (sales) may not write them: for him the
    column is guessed from its name instead."""
    first = _upload(cast, _csv("First;Last;Mail;Notizen\nAda;Lovelace;ada@example.org;Asthma\n"))
    remembered = {"First": "first_name", "Last": "last_name", "Mail": "email", "Notizen": "health_notes"}
    with tenant_scope(cast.org_a):
        import_start(actor=cast.actor(cast.alice), job=first, mapping=remembered, duplicates="skip", dry_run=True)

    again = _upload(cast, _csv("FIRST;LAST;MAIL;NOTIZEN\nAda;Lovelace;ada@example.org;\n"))
    by_sam = _upload(cast, _csv("first;last;mail;notizen\nAda;Lovelace;ada@example.org;\n"), user=cast.sam)

    assert again.mapping == {"FIRST": "first_name", "LAST": "last_name", "MAIL": "email", "NOTIZEN": "health_notes"}
    assert by_sam.mapping == {"first": "first_name", "last": "last_name", "mail": "email", "notizen": "notes"}
    job = _run(cast, by_sam, user=cast.sam)  # the suggestion is taken as it is
    assert (job.status, job.created_count) == ("completed", 1)


def test_an_import_starts_once_even_from_two_copies_of_its_job(cast):
    """Two tabs, two clicks: each request loaded the job before either started it."""
    job = _upload(cast, _csv(MESSY))
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        first, second = ImportJob.objects.get(pk=job.pk), ImportJob.objects.get(pk=job.pk)
        import_start(actor=actor, job=first, mapping=MAPPING, duplicates="skip")
        with pytest.raises(Conflict) as refused:
            import_start(actor=actor, job=second, mapping=MAPPING, duplicates="update")
        assert refused.value.detail == "This import has started already."
        assert ImportJob.objects.get(pk=job.pk).duplicates == "skip"
        assert AuditEntry.objects.filter(action="import.start").count() == 1


def test_an_upload_left_too_long_says_so_when_started(cast):
    from datetime import timedelta

    from django.utils import timezone

    job = _upload(cast, _csv(MESSY))
    with tenant_scope(cast.org_a):
        imports.imports_expire(now=timezone.now() + timedelta(days=2))
        with pytest.raises(Conflict) as refused:
            import_start(actor=cast.actor(cast.alice), job=job, mapping=MAPPING, duplicates="skip")
        assert refused.value.detail == "This upload has expired: upload the file again."
        assert ImportJob.objects.get(pk=job.pk).status == "failed"
        with pytest.raises(Conflict) as refused:
            import_preview(actor=cast.actor(cast.alice), job=ImportJob.objects.get(pk=job.pk), mapping=MAPPING)
        assert refused.value.detail == "This upload has expired: upload the file again."


def test_a_rejected_further_address_is_reported_by_its_column_and_place(cast):
    text = "Nachname;E-Mail;Weitere\nLind;lind@example.org;lind@work.example, not-an-email\n"
    mapping = {"Nachname": "last_name", "E-Mail": "email", "Weitere": "other_emails"}
    job = _run(cast, _upload(cast, _csv(text)), mapping=mapping)
    assert _report(job).splitlines()[1] == (
        '2,"More email addresses (comma-separated), entry 2",Enter a valid email address.'
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b'Name;Notiz\nLind;"' + b"x" * 140000 + b"\n",
            "A cell is longer than 131072 characters (line 2): check that every quote in the file is closed.",
        ),
        (
            b"Name\n" + b"Lind\n" * 20000 + b"Li\x00nd\n",
            "Line 20002 holds a NUL byte: the file is damaged, or it is not a text file.",
        ),
    ],
)
def test_a_csv_file_with_a_flaw_far_down_is_refused_saying_what_it_is(cast, content, message):
    with pytest.raises(ValidationFailed) as refused:
        _upload(cast, io.BytesIO(content), name="flawed.csv")
    assert [(e.field, e.message) for e in refused.value.errors] == [("file", message)]


def test_a_test_s_uploads_stay_in_its_own_directory(cast, settings):
    job = _upload(cast, _csv(MESSY))
    assert Path(job.file_path).is_relative_to(settings.VAR_DIR)
