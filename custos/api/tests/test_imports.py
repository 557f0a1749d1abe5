"""/api/v1/imports: upload as multipart, preview, start, follow, report, undo."""

import csv
import io

from django.core.files.uploadedfile import SimpleUploadedFile

from custos.api.tests.helpers import entries, field_errors, ok, post, problem, snapshot, warmed
from custos.core.tenancy import tenant_scope
from custos.crm.models import Contact
from custos.testing import api_client, run_tasks

MESSY = (
    "Vorname;Nachname;E-Mail;Telefon;Firma\n"
    "Jürgen;Müller;juergen@example.org;030 12345678;Nordwind GmbH\n"
    "Anna;Schmidt;not-an-email;040 12345678;\n"
    "<b>Eva</b>;Kurz;eva@example.org;12;\n"
    ";;;;\n"
    "Jürgen;Müller;JUERGEN@example.org;030 12345678;Nordwind GmbH\n"
    "Zofia;Nowak;zofia@example.org;+48 22 628 31 00;\n"
)
MAPPING = {"Vorname": "first_name", "Nachname": "last_name", "E-Mail": "email", "Telefon": "phone", "Firma": "company"}


MESSY_FILE = MESSY.encode("utf-8-sig")


def _upload(client, content=MESSY_FILE, name="kontakte.csv", **form):
    return client.post("/api/v1/imports", {"file": SimpleUploadedFile(name, content, "text/csv"), **form})


def _people(cast):
    with tenant_scope(cast.org_a):
        return sorted(Contact.objects.values_list("first_name", "email"))


def test_an_import_runs_through_the_api_from_upload_to_undo(cast):
    client = api_client(cast, cast.alice, "write")
    job = ok(_upload(client), 201)
    assert {k: job[k] for k in ("object_type", "status", "format", "encoding", "delimiter", "total_rows")} == {
        "object_type": "contact",
        "status": "uploaded",
        "format": "csv",
        "encoding": "utf-8-sig",
        "delimiter": ";",
        "total_rows": 5,
    }
    assert job["headers"] == list(MAPPING) and job["mapping"] == MAPPING
    assert (job["created"], job["rejected"], job["undoable"]) == (0, 0, False)
    path = f"/api/v1/imports/{job['id']}"

    preview = ok(post(client, f"{path}/preview", {"mapping": MAPPING}))["items"]
    assert [row["row"] for row in preview] == [2, 3, 4, 6, 7]
    assert preview[0]["data"]["email"] == "juergen@example.org" and preview[0]["data"]["phone"] == "+493012345678"
    assert preview[0]["data"]["owner"] == str(cast.alice.pk)
    assert preview[1]["errors"] == [{"field": "email", "message": "Enter a valid email address."}]
    assert preview[2]["data"]["first_name"] == "<b>Eva</b>"  # stored as given, escaped where shown
    assert _people(cast) == []

    started = ok(post(client, f"{path}/start", {"mapping": MAPPING, "duplicates": "skip"}), 202)
    assert started["status"] == "running"
    assert problem(post(client, f"{path}/start", {}), 409)["detail"] == "This import has started already."

    run_tasks()
    done = ok(client.get(path))
    assert (done["status"], done["processed_rows"], done["total_rows"]) == ("completed", 5, 5)
    assert (done["created"], done["updated"], done["skipped"], done["rejected"]) == (2, 0, 1, 2)
    assert done["undoable"] is True and done["finished_at"]
    assert _people(cast) == [("Jürgen", "juergen@example.org"), ("Zofia", "zofia@example.org")]

    report = client.get(f"{path}/report")
    assert report.status_code == 200 and report["Content-Type"] == "text/csv; charset=utf-8"
    assert report["Content-Disposition"].startswith("attachment")
    rows = list(csv.reader(io.StringIO(b"".join(report.streaming_content).decode("utf-8-sig"))))
    assert rows[:2] == [["Row", "Field", "Reason"], ["3", "Email", "Enter a valid email address."]]

    listed = ok(client.get("/api/v1/imports"))
    assert [item["id"] for item in listed["items"]] == [job["id"]] and listed["next"] is None

    undone = ok(post(client, f"{path}/undo"))
    assert (undone["status"], undone["undoable"]) == ("undone", False)
    assert _people(cast) == []
    assert problem(post(client, f"{path}/undo"), 409)["detail"] == "Only a finished import can be undone."
    actions = [e.action for e in entries(cast.org_a, "import.")]
    assert actions == ["import.upload", "import.start", "import.finish", "import.undo"]


def test_the_suggested_mapping_is_used_when_none_is_sent(cast):
    client = api_client(cast, cast.alice, "write")
    job = ok(_upload(client), 201)
    ok(post(client, f"/api/v1/imports/{job['id']}/start", {"dry_run": True}), 202)
    run_tasks()
    done = ok(client.get(f"/api/v1/imports/{job['id']}"))
    assert (done["status"], done["dry_run"], done["created"], done["undoable"]) == ("completed", True, 2, False)
    assert _people(cast) == []


def test_bad_files_and_bad_settings_get_field_errors_and_change_nothing(cast):
    client = warmed(api_client(cast, cast.alice, "write"))
    before = snapshot(cast.org_a)
    assert field_errors(_upload(client, b"")) == [{"field": "file", "message": "The file is empty."}]
    assert field_errors(_upload(client, b"\x00\x01\x02binary\x00")) == [
        {"field": "file", "message": "This does not look like a CSV or XLSX file."}
    ]
    assert field_errors(_upload(client, object_type="deal"))[0]["field"] == "object_type"
    assert [e["field"] for e in field_errors(post(client, "/api/v1/imports", {}))] == ["file"]
    assert snapshot(cast.org_a) == before

    job = ok(_upload(client), 201)
    before = snapshot(cast.org_a)
    path = f"/api/v1/imports/{job['id']}"
    twice = {"mapping": {"Vorname": "first_name", "Nachname": "first_name"}}
    assert field_errors(post(client, f"{path}/start", twice)) == [
        {"field": "mapping", "message": "Two columns are mapped to First name."}
    ]
    assert field_errors(post(client, f"{path}/preview", {"mapping": {"Spalte X": "email"}}))[0]["field"] == "mapping"
    assert field_errors(post(client, f"{path}/start", {"duplicates": "merge"}))[0]["field"] == "duplicates"
    assert field_errors(post(client, f"{path}/start", {"dry_run": "yes"}))[0]["field"] == "dry_run"
    assert snapshot(cast.org_a) == before


def test_only_json_and_the_upload_may_carry_a_body(cast):
    client = api_client(cast, cast.alice, "write")
    response = client.post("/api/v1/contacts", {"file": SimpleUploadedFile("x.csv", b"Email\na@b.de\n")})
    assert problem(response, 415)
    response = client.post("/api/v1/imports", "Email\na@b.de\n", content_type="text/csv")
    assert problem(response, 415)


def test_imports_are_walled_by_organisation_role_and_record_scope(cast):
    job = ok(_upload(api_client(cast, cast.alice, "write")), 201)
    path = f"/api/v1/imports/{job['id']}"
    bob = api_client(cast, cast.bob, "read")
    assert ok(bob.get(path))["id"] == job["id"]  # read-only: may look
    assert bob.get(f"{path}/report").status_code == 200
    sam = api_client(cast, cast.sam, "write")  # sales: their own records, their own imports
    assert problem(sam.get(path), 404)
    assert problem(post(sam, f"{path}/start", {}), 404)
    assert ok(sam.get("/api/v1/imports"))["items"] == []
    mallory = api_client(cast, cast.mallory, "admin")
    assert problem(mallory.get(path), 404)
    assert ok(mallory.get("/api/v1/imports"))["items"] == []
    accountant_scope = api_client(cast, cast.alice, "finance:write")
    assert problem(accountant_scope.get(path), 403)


def test_undo_needs_the_right_to_delete_contacts(cast):
    sam = api_client(cast, cast.sam, "write")
    job = ok(_upload(sam, b"Email\nsam.import@example.org\n"), 201)
    ok(post(sam, f"/api/v1/imports/{job['id']}/start", {}), 202)
    run_tasks()
    assert ok(sam.get(f"/api/v1/imports/{job['id']}"))["created"] == 1
    before = snapshot(cast.org_a)
    assert problem(post(sam, f"/api/v1/imports/{job['id']}/undo"), 403)
    assert snapshot(cast.org_a) == before


def test_the_undo_answers_what_it_removed_kept_and_left(cast):
    from custos.crm.services.activities import activity_create
    from custos.crm.services.people import contact_create, contact_update

    alice = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        stored = contact_create(actor=alice, data={"last_name": "Alt", "email": "ute@example.org"})
    client = api_client(cast, cast.alice, "write")
    text = b"Last name,Email,Company\nNeu,ute@example.org,\nLind,lind@example.org,L AG\nHolm,holm@example.org,H KG\n"
    job = ok(_upload(client, content=text, name="people.csv"), 201)
    ok(post(client, f"/api/v1/imports/{job['id']}/start", {"duplicates": "update"}), 202)
    run_tasks()
    with tenant_scope(cast.org_a):
        lind = Contact.objects.get(last_name="Lind")
        activity_create(actor=alice, data={"kind": "call", "title": "Called", "contact": str(lind.pk)})
        contact_update(actor=alice, contact=Contact.objects.get(pk=stored.pk), data={"city": "Köln"})

    undone = ok(post(client, f"/api/v1/imports/{job['id']}/undo"))

    assert (undone["id"], undone["status"], undone["undoable"]) == (job["id"], "undone", False)
    assert undone["undo"] == {
        "removed": 1,
        "contacts_kept": 1,
        "restored": 0,
        "restore_skipped": 1,
        "not_restored": 0,
        "companies_removed": 1,
        "companies_kept": 1,
    }
    assert _people(cast) == [("", "lind@example.org"), ("", "ute@example.org")]


def test_an_import_once_started_has_no_preview(cast):
    client = api_client(cast, cast.alice, "write")
    job = ok(_upload(client), 201)
    path = f"/api/v1/imports/{job['id']}"
    ok(post(client, f"{path}/start", {"mapping": MAPPING}), 202)
    run_tasks()  # done, and its file deleted
    before = snapshot(cast.org_a)
    refused = problem(post(client, f"{path}/preview", {"mapping": MAPPING}), 409)
    assert refused["detail"] == "Only an import that has not started can be previewed."
    assert snapshot(cast.org_a) == before
