"""Importing contacts through the staff UI: upload, map, preview, start, follow, report, undo."""

import csv
import io
import re

from django.core.files.uploadedfile import SimpleUploadedFile

from custos.core.tenancy import tenant_scope
from custos.crm.imports import import_upload
from custos.crm.models import Contact, ImportJob
from custos.testing import enable_two_factor, run_tasks, web_client
from custos.web.tests.sales import audit_actions, crm_state

MESSY = (
    "Vorname;Nachname;E-Mail;Telefon;Firma\n"
    "Jürgen;Müller;juergen@example.org;030 12345678;Nordwind GmbH\n"
    "Anna;Schmidt;not-an-email;040 12345678;\n"
    "<b>Eva</b>;Kurz;eva@example.org;12;\n"
    ";;;;\n"
    "Jürgen;Müller;JUERGEN@example.org;030 12345678;Nordwind GmbH\n"
    "Zofia;Nowak;zofia@example.org;+48 22 628 31 00;\n"
)
# The form names columns by position: Vorname, Nachname, E-Mail, Telefon, Firma.
MAPPED = {
    "column_0": "first_name",
    "column_1": "last_name",
    "column_2": "email",
    "column_3": "phone",
    "column_4": "company",
}
HTMX = {"HX-Request": "true"}


def _file(text=MESSY, name="kontakte.csv", encoding="utf-8-sig"):
    return SimpleUploadedFile(name, text.encode(encoding), content_type="text/csv")


def _upload(client, **kwargs):
    response = client.post("/imports/new/", {"file": _file(**kwargs)})
    assert response.status_code == 302, response.content.decode()[:500]
    match = re.fullmatch(r"/imports/([0-9a-f-]+)/", response["Location"])
    assert match, response["Location"]
    return match[1]


def _job(cast, job_id):
    with tenant_scope(cast.org_a):
        return ImportJob.objects.get(pk=job_id)


def _people(cast):
    with tenant_scope(cast.org_a):
        return sorted(Contact.objects.values_list("first_name", "email"))


def test_the_contact_list_offers_an_import_to_those_who_may_add_contacts(cast):
    assert 'href="/imports/new/"' in web_client(cast.alice).get("/contacts/").content.decode()
    enable_two_factor(cast.bob)
    assert 'href="/imports/new/"' not in web_client(cast.bob).get("/contacts/").content.decode()
    assert web_client(cast.bob).get("/imports/new/").status_code == 403


def test_a_messy_csv_goes_all_the_way_through_the_web(cast):
    client = web_client(cast.alice)
    upload_page = client.get("/imports/new/").content.decode()
    assert 'enctype="multipart/form-data"' in upload_page
    assert re.search(r'<label for="id_file">', upload_page)
    job_id = _upload(client)

    # The file's shape, and a mapping suggested from the German headers.
    page = client.get(f"/imports/{job_id}/").content.decode()
    for fact in ("CSV", "UTF-8 with byte-order mark", "semicolon (;)", "<dd>5</dd>"):
        assert fact in page, fact
    assert '<label for="id_column_2">E-Mail</label>' in page
    assert re.search(r'<select name="column_2"[^>]*>.*?<option value="email" selected>', page, re.S)
    assert 'hx-trigger="every 2s"' not in page

    # The preview, swapped in by htmx: rows and their problems, nothing written.
    settings = {**MAPPED, "duplicates": "skip"}
    preview = client.post(f"/imports/{job_id}/preview/", settings, headers=HTMX).content.decode()
    assert "<html" not in preview
    assert "Enter a valid email address." in preview
    assert "Enter a valid phone number" in preview
    assert "juergen@example.org" in preview
    assert "&lt;b&gt;Eva&lt;/b&gt;" in preview  # HTML in a name is shown as text
    assert _people(cast) == []
    # Without JavaScript the whole page comes back, the choices kept.
    whole = client.post(f"/imports/{job_id}/preview/", settings).content.decode()
    assert "<html" in whole and "Enter a valid email address." in whole
    assert re.search(r'<select name="column_4"[^>]*>.*?<option value="company" selected>', whole, re.S)

    # Started: the page follows the job while it runs ...
    response = client.post(f"/imports/{job_id}/start/", settings)
    assert response.status_code == 302 and response["Location"] == f"/imports/{job_id}/"
    running = client.get(f"/imports/{job_id}/", headers=HTMX).content.decode()
    assert 'hx-trigger="every 2s"' in running and "<html" not in running
    assert "0 of 5 rows processed." in running

    # ... and stops polling once the worker is done.
    run_tasks()
    done = client.get(f"/imports/{job_id}/", headers=HTMX).content.decode()
    assert 'hx-trigger="every 2s"' not in done
    assert "The import is finished." in done
    counts = dict(re.findall(r"<dt>([^<]+)</dt><dd>(\d+)</dd>", done))
    assert counts == {"Created": "2", "Updated": "0", "Skipped as duplicates": "1", "Rejected": "2"}
    assert _people(cast) == [("Jürgen", "juergen@example.org"), ("Zofia", "zofia@example.org")]

    report = client.get(f"/imports/{job_id}/report/")
    assert report.status_code == 200 and report["Content-Type"].startswith("text/csv")
    assert report["Content-Disposition"].startswith("attachment")
    text = b"".join(report.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["Row", "Field", "Reason"]
    assert rows[1] == ["3", "Email", "Enter a valid email address."]
    assert rows[2][:2] == ["4", "Phone"]
    assert "Müller" not in text  # reasons only, never the values

    assert 'action="/imports/' + job_id + '/undo/"' in done and "data-confirm=" in done
    response = client.post(f"/imports/{job_id}/undo/")
    assert response.status_code == 302
    assert _people(cast) == []
    page = client.get(f"/imports/{job_id}/").content.decode()
    assert "This import was undone" in page and "/undo/" not in page
    assert audit_actions(cast, job_id) == ["import.upload", "import.start", "import.finish", "import.undo"]

    listing = client.get("/imports/").content.decode()
    assert f'href="/imports/{job_id}/"' in listing and "kontakte.csv" in listing


def test_a_dry_run_counts_and_cannot_be_undone(cast):
    client = web_client(cast.alice)
    job_id = _upload(client)
    client.post(f"/imports/{job_id}/start/", {**MAPPED, "duplicates": "skip", "dry_run": "on"})
    run_tasks()
    page = client.get(f"/imports/{job_id}/").content.decode()
    assert "The dry run is finished: nothing was written." in page
    assert "/undo/" not in page
    assert _people(cast) == []


def test_files_that_cannot_be_read_are_refused_on_the_form(cast):
    client = web_client(cast.alice)
    response = client.post("/imports/new/", {"file": SimpleUploadedFile("data.csv", b"\x00\x01binary\x00")})
    assert response.status_code == 200
    assert "This does not look like a CSV or XLSX file." in response.content.decode()
    response = client.post("/imports/new/", {})
    assert "This field is required." in response.content.decode()
    response = client.post("/imports/new/", {"file": SimpleUploadedFile("empty.csv", b"")})
    assert "The file is empty." in response.content.decode()
    with tenant_scope(cast.org_a):
        assert not ImportJob.objects.exists()


def test_a_bad_mapping_is_explained_and_nothing_starts(cast):
    client = web_client(cast.alice)
    job_id = _upload(client)
    before = crm_state(cast)
    twice = {**MAPPED, "column_1": "first_name", "duplicates": "skip"}
    response = client.post(f"/imports/{job_id}/start/", twice)
    assert response.status_code == 200
    assert "Two columns are mapped to First name." in response.content.decode()
    nothing = {"column_3": "phone", "duplicates": "skip"}
    assert (
        "Map at least a name or an email column." in client.post(f"/imports/{job_id}/start/", nothing).content.decode()
    )
    preview = client.post(f"/imports/{job_id}/preview/", nothing, headers=HTMX).content.decode()
    assert 'role="alert"' in preview and "Map at least a name or an email column." in preview
    unknown = client.post(f"/imports/{job_id}/start/", {**MAPPED, "column_0": "password", "duplicates": "skip"})
    assert "Select a valid choice." in unknown.content.decode()
    assert _job(cast, job_id).status == "uploaded"
    assert crm_state(cast) == before
    assert not run_tasks()


def test_members_see_only_the_imports_their_role_reaches(cast):
    job_id = _upload(web_client(cast.alice))
    enable_two_factor(cast.bob)
    bob = web_client(cast.bob)
    page = bob.get(f"/imports/{job_id}/")  # read-only: may look, may not start
    assert page.status_code == 200 and "column_0" not in page.content.decode()
    before = crm_state(cast)
    assert bob.post(f"/imports/{job_id}/start/", {**MAPPED, "duplicates": "skip"}).status_code == 403
    assert bob.post(f"/imports/{job_id}/preview/", MAPPED).status_code == 403
    assert _job(cast, job_id).status == "uploaded" and crm_state(cast) == before
    sam = web_client(cast.sam)  # sales see their own records only, their own imports too
    assert sam.get(f"/imports/{job_id}/").status_code == 404
    assert f"/imports/{job_id}/" not in sam.get("/imports/").content.decode()
    assert web_client(cast.mallory).get(f"/imports/{job_id}/").status_code == 404


def test_undo_is_offered_only_to_roles_that_may_delete_contacts(cast):
    with tenant_scope(cast.org_a):
        job = import_upload(
            actor=cast.actor(cast.sam),
            object_type="contact",
            file_name="mine.csv",
            stream=io.BytesIO(b"Email\na@b.de\n"),
        )
    sam = web_client(cast.sam)
    sam.post(f"/imports/{job.pk}/start/", {"column_0": "email", "duplicates": "skip"})
    run_tasks()
    page = sam.get(f"/imports/{job.pk}/").content.decode()
    assert "The import is finished." in page and "/undo/" not in page
    assert sam.post(f"/imports/{job.pk}/undo/").status_code == 403
    assert _people(cast) == [("", "a@b.de")]


def test_undo_says_which_values_it_could_not_restore(cast):
    """A contact the import moved to a new company goes back to its old one, unless that was
    deleted since: the page says so instead of failing."""
    from custos.crm.models import Company
    from custos.crm.services.people import company_create, company_delete, contact_create

    alice = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        old = company_create(actor=alice, data={"name": "Alt GmbH"})
        contact_create(actor=alice, data={"last_name": "Alt", "email": "ute@example.org", "company": str(old.pk)})
        job = import_upload(
            actor=alice,
            object_type="contact",
            file_name="moved.csv",
            stream=io.BytesIO(b"Last name,Email,Company\nNeu,ute@example.org,Neu AG\n"),
        )
    client = web_client(cast.alice)
    client.post(
        f"/imports/{job.pk}/start/",
        {"column_0": "last_name", "column_1": "email", "column_2": "company", "duplicates": "update"},
    )
    run_tasks()
    with tenant_scope(cast.org_a):
        company_delete(actor=alice, company=Company.objects.get(pk=old.pk))

    page = client.post(f"/imports/{job.pk}/undo/", follow=True).content.decode()

    assert "1 value could not be restored: its company or owner was deleted since." in page
    with tenant_scope(cast.org_a):
        assert list(Contact.objects.values_list("last_name", flat=True)) == ["Alt"]


def test_undo_says_which_contacts_it_kept_and_left_as_they_are(cast):
    """Work done since the import stays: a created contact with a logged call is kept, and a
    changed contact edited by hand since keeps that edit; the page says both."""
    from custos.crm.services.activities import activity_create
    from custos.crm.services.people import contact_create, contact_update

    alice = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        stored = contact_create(actor=alice, data={"last_name": "Alt", "email": "ute@example.org"})
        job = import_upload(
            actor=alice,
            object_type="contact",
            file_name="people.csv",
            stream=io.BytesIO(b"Last name,Email\nNeu,ute@example.org\nLind,lind@example.org\nHolm,holm@example.org\n"),
        )
    client = web_client(cast.alice)
    client.post(f"/imports/{job.pk}/start/", {"column_0": "last_name", "column_1": "email", "duplicates": "update"})
    run_tasks()
    with tenant_scope(cast.org_a):
        lind = Contact.objects.get(last_name="Lind")
        activity_create(actor=alice, data={"kind": "call", "title": "Called", "contact": str(lind.pk)})
        contact_update(actor=alice, contact=Contact.objects.get(pk=stored.pk), data={"city": "Köln"})

    page = client.post(f"/imports/{job.pk}/undo/", follow=True).content.decode()

    assert "1 contact the import created is kept: it was worked on since or is under a legal hold." in page
    assert "1 contact was changed after the import and was left as it is." in page
    with tenant_scope(cast.org_a):
        assert sorted(Contact.objects.values_list("last_name", "city")) == [("Lind", ""), ("Neu", "Köln")]


def test_an_import_started_in_another_tab_has_no_preview_and_says_so(cast):
    client = web_client(cast.alice)
    job_id = _upload(client)
    settings = {**MAPPED, "duplicates": "skip"}
    assert client.post(f"/imports/{job_id}/start/", settings).status_code == 302
    run_tasks()  # done, and its file deleted

    preview = client.post(f"/imports/{job_id}/preview/", settings, headers=HTMX)
    assert preview.status_code == 200
    assert "Only an import that has not started can be previewed." in preview.content.decode()
    page = client.post(f"/imports/{job_id}/preview/", settings, follow=True)
    assert page.redirect_chain == [(f"/imports/{job_id}/", 302)]
    assert "Only an import that has not started can be previewed." in page.content.decode()


def test_a_preview_names_the_column_of_a_wrong_further_address(cast):
    client = web_client(cast.alice)
    job_id = _upload(client, text="Nachname;E-Mail;Weitere\nLind;lind@example.org;lind@work.example, not-an-email\n")
    settings = {"column_0": "last_name", "column_1": "email", "column_2": "other_emails", "duplicates": "skip"}
    preview = client.post(f"/imports/{job_id}/preview/", settings, headers=HTMX).content.decode()
    assert "More email addresses (comma-separated), entry 2</span> Enter a valid email address." in preview
    assert "other_emails.1" not in preview
