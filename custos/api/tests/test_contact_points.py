"""A contact's further emails and phones: written, validated, found, merged, exported, erased."""

import io
import json

from custos.api.tests.helpers import created, entries, field_errors, hide, ok, patch, post, snapshot, warmed
from custos.core.tenancy import tenant_scope
from custos.crm.duplicates import contact_merge, find_duplicates
from custos.crm.imports import import_start, import_upload
from custos.crm.models import Contact, ContactPoint, ImportJob, ImportRejectedRow
from custos.privacy.services.suppression import is_suppressed
from custos.testing import api_client, run_tasks


def _greta(client, **extra):
    return created(
        client,
        "/api/v1/contacts",
        first_name="Greta",
        last_name="Lindqvist",
        email="greta@example.org",
        phone="030 1234567",
        other_emails=[{"email": "Greta.Home@Example.NET", "label": "private"}, "g.lindqvist@uni.example"],
        other_phones=[{"phone": "0170 9876543", "label": "mobile"}],
        **extra,
    )


def test_further_emails_and_phones_are_stored_normalised_with_their_labels(cast):
    client = api_client(cast, cast.alice)
    body = _greta(client)

    assert body["other_emails"] == [
        {"email": "Greta.Home@example.net", "label": "private"},
        {"email": "g.lindqvist@uni.example", "label": "other"},
    ]
    assert body["other_phones"] == [{"phone": "+491709876543", "label": "mobile"}]
    assert ok(client.get(f"/api/v1/contacts/{body['id']}"))["other_phones"] == body["other_phones"]
    listed = ok(client.get("/api/v1/contacts"))["items"]
    assert listed[0]["other_emails"] == body["other_emails"]
    create = entries(cast.org_a, "contact.create")[-1]
    assert {"other_emails", "other_phones"} <= set(create.fields)
    assert "example.net" not in json.dumps(create.extra) and "9876543" not in str(create.fields)


def test_a_bad_entry_is_named_by_its_position_and_nothing_is_written(cast):
    client = warmed(api_client(cast, cast.alice))
    before = snapshot(cast.org_a)

    response = post(
        client,
        "/api/v1/contacts",
        {
            "last_name": "Lind",
            "email": "lind@example.org",
            "other_emails": [
                "ok@example.org",
                "not an email",
                "LIND@example.org",
                {"email": "x@example.org", "label": "boss"},
            ],
            "other_phones": ["12"],
        },
    )

    errors = {error["field"]: error["message"] for error in field_errors(response)}
    assert errors["other_emails.1"] == "Enter a valid email address."
    assert errors["other_emails.2"] == "This is given twice."  # the main email, in another case
    assert "other_emails.3.label" in errors
    assert errors["other_phones.0"].startswith("Enter a valid phone number")
    assert snapshot(cast.org_a) == before


def test_too_many_or_not_a_list_is_refused(cast):
    client = api_client(cast, cast.alice)
    many = [f"p{i}@example.org" for i in range(11)]
    assert field_errors(post(client, "/api/v1/contacts", {"last_name": "L", "other_emails": many}))[0]["field"] == (
        "other_emails"
    )
    response = post(client, "/api/v1/contacts", {"last_name": "L", "other_phones": [{"phone": "030 1", "fax": 1}]})
    assert field_errors(response)[0]["field"] == "other_phones.0"


def test_patch_replaces_the_list_when_given_and_keeps_it_otherwise(cast):
    client = api_client(cast, cast.alice)
    contact = _greta(client)

    kept = ok(patch(client, f"/api/v1/contacts/{contact['id']}", {"first_name": "Grete"}))
    assert kept["other_emails"] == contact["other_emails"]

    changed = ok(patch(client, f"/api/v1/contacts/{contact['id']}", {"other_emails": ["new@example.org"]}))
    assert changed["other_emails"] == [{"email": "new@example.org", "label": "other"}]
    assert changed["other_phones"] == contact["other_phones"]
    assert entries(cast.org_a, "contact.update")[-1].fields == ["other_emails"]

    same = patch(client, f"/api/v1/contacts/{contact['id']}", {"other_emails": ["new@example.org"]})
    assert ok(same)["other_emails"] == changed["other_emails"]
    assert len(entries(cast.org_a, "contact.update")) == 2  # nothing changed, nothing audited


def test_search_duplicates_and_privacy_requests_know_the_further_addresses(cast):
    client = api_client(cast, cast.alice)
    contact = _greta(client)

    for query in ("greta.home@example.net", "0170 9876543", "+49 170 9876543"):
        found = ok(client.get("/api/v1/search", {"q": query}))["items"]
        assert [item["id"] for item in found] == [contact["id"]], query
    with tenant_scope(cast.org_a):
        candidates = find_duplicates(cast.actor(cast.alice), {"last_name": "X", "email": "g.lindqvist@uni.example"})
        assert [(str(c.contact.pk), c.reasons) for c in candidates] == [(contact["id"], ("email",))]
        by_phone = find_duplicates(cast.actor(cast.alice), {"last_name": "X", "phone": "+49 170 9876543"})
        assert [c.reasons for c in by_phone] == [("phone",)]

    # A person writing from their private address is found all the same.
    request = created(client, "/api/v1/privacy/requests", kind="access", email="GRETA.HOME@example.net")
    ok(post(client, f"/api/v1/privacy/requests/{request['id']}/verify", {"reason": "ID card seen"}))
    ok(post(client, f"/api/v1/privacy/requests/{request['id']}/complete"))
    report = ok(client.get(f"/api/v1/privacy/requests/{request['id']}/report", {"format": "json"}))
    assert "+491709876543" in json.dumps(report)


def test_erasure_deletes_them_and_suppresses_every_address(cast):
    client = api_client(cast, cast.alice)
    contact = _greta(client)
    request = created(client, "/api/v1/privacy/requests", kind="erasure", email="greta@example.org")
    ok(post(client, f"/api/v1/privacy/requests/{request['id']}/verify", {"reason": "ID card seen"}))
    ok(post(client, f"/api/v1/privacy/requests/{request['id']}/complete"))

    after = ok(client.get(f"/api/v1/contacts/{contact['id']}"))
    assert (after["other_emails"], after["other_phones"]) == ([], [])
    with tenant_scope(cast.org_a):
        assert not ContactPoint.objects.exists()
        assert is_suppressed(email="greta.home@example.net")
    assert ok(client.get("/api/v1/search", {"q": "0170 9876543"}))["items"] == []


def test_a_correction_by_request_leaves_the_further_addresses_alone(cast):
    client = api_client(cast, cast.alice)
    contact = _greta(client)
    request = created(
        client,
        "/api/v1/privacy/requests",
        kind="rectification",
        email="greta@example.org",
        details={"corrections": {"email": "greta@new.example", "phone": "030 7654321"}},
    )
    ok(post(client, f"/api/v1/privacy/requests/{request['id']}/verify", {"reason": "ID card seen"}))
    ok(post(client, f"/api/v1/privacy/requests/{request['id']}/complete"))

    after = ok(client.get(f"/api/v1/contacts/{contact['id']}"))
    assert (after["email"], after["phone"]) == ("greta@new.example", "+49307654321")
    assert after["other_emails"] == contact["other_emails"]
    assert after["other_phones"] == contact["other_phones"]


def test_a_role_that_may_not_see_emails_sees_and_writes_no_further_ones(cast):
    hide(cast, "sales", "contact.email")
    contact = _greta(api_client(cast, cast.alice), owner=str(cast.sam.pk))
    sam = api_client(cast, cast.sam, scope="write")

    seen = ok(sam.get(f"/api/v1/contacts/{contact['id']}"))
    assert seen["other_emails"] is None and seen["other_phones"] == contact["other_phones"]
    refused = patch(sam, f"/api/v1/contacts/{contact['id']}", {"other_emails": ["x@example.org"]})
    assert refused.status_code == 403


def test_a_merge_keeps_the_merged_contacts_addresses(cast):
    client = api_client(cast, cast.alice)
    keep = created(client, "/api/v1/contacts", last_name="Lind", email="a@example.org", other_emails=["b@example.org"])
    other = created(
        client,
        "/api/v1/contacts",
        last_name="Lind",
        email="b@example.org",
        phone="030 1234567",
        other_emails=["c@example.org"],
    )
    with tenant_scope(cast.org_a):
        contact_merge(
            actor=cast.actor(cast.alice),
            keep=Contact.objects.get(pk=keep["id"]),
            other=Contact.objects.get(pk=other["id"]),
        )
    merged = ok(client.get(f"/api/v1/contacts/{keep['id']}"))
    assert sorted(p["email"] for p in merged["other_emails"]) == ["b@example.org", "c@example.org"]
    assert merged["phone"] == "+49301234567" and merged["other_phones"] == []


def test_an_import_reads_further_addresses_and_its_undo_removes_what_it_added(cast):
    client = api_client(cast, cast.alice)
    stored = created(client, "/api/v1/contacts", last_name="Stored", email="stored@example.org")
    text = (
        "Nachname;E-Mail;E-Mail 2;Telefon 2\n"
        'Neu;neu@example.org;neu@home.example, neu@uni.example;"0170 1111111; 0171 2222222"\n'
        "Stored;stored@example.org;stored@home.example;\n"
        "Kaputt;kaputt@example.org;nicht-gültig;\n"
    )
    with tenant_scope(cast.org_a):
        job = import_upload(
            actor=cast.actor(cast.alice),
            object_type="contact",
            file_name="k.csv",
            stream=io.BytesIO(text.encode("utf-8")),
        )
        assert job.mapping["E-Mail 2"] == "other_emails" and job.mapping["Telefon 2"] == "other_phones"
        import_start(actor=cast.actor(cast.alice), job=job, mapping=job.mapping, duplicates="update")
    run_tasks()
    with tenant_scope(cast.org_a):
        job = ImportJob.objects.get(pk=job.pk)
        assert (job.created_count, job.updated_count, job.rejected_count) == (1, 1, 1)
        assert ImportRejectedRow.objects.get(job=job).field == "other_emails.0"
        new = Contact.objects.get(email="neu@example.org")
        assert sorted(new.points.values_list("email", "phone")) == [
            ("", "+491701111111"),
            ("", "+491712222222"),
            ("neu@home.example", ""),
            ("neu@uni.example", ""),
        ]
    assert ok(client.get(f"/api/v1/contacts/{stored['id']}"))["other_emails"] == [
        {"email": "stored@home.example", "label": "other"}
    ]
    assert ok(client.get("/api/v1/search", {"q": "neu@uni.example"}))["items"][0]["id"] == str(new.pk)

    from custos.crm.imports import import_undo

    with tenant_scope(cast.org_a):
        import_undo(actor=cast.actor(cast.alice), job=job)
        assert not ContactPoint.objects.exists()


def test_the_export_lists_them(cast):
    client = api_client(cast, cast.alice)
    _greta(client)
    response = client.get("/api/v1/contacts/export", {"format": "csv"})
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    header, row = text.splitlines()[:2]
    assert "More email addresses" in header and "More phone numbers" in header
    assert "Greta.Home@example.net; g.lindqvist@uni.example" in row and "+491709876543" in row


def test_a_contract_end_and_a_language_are_kept_for_retention_and_reminders(cast):
    client = api_client(cast, cast.alice)
    contact = created(client, "/api/v1/contacts", last_name="Lind", language="pl", contract_ends_on="2027-03-31")
    assert (contact["language"], contact["contract_ends_on"]) == ("pl", "2027-03-31")

    refused = field_errors(patch(client, f"/api/v1/contacts/{contact['id']}", {"language": "fr"}))
    assert refused[0]["field"] == "language"
    bad_date = patch(client, f"/api/v1/contacts/{contact['id']}", {"contract_ends_on": "31/03/2027"})
    assert bad_date.status_code == 422 and "contract_ends_on" in bad_date.content.decode()
    cleared = ok(patch(client, f"/api/v1/contacts/{contact['id']}", {"contract_ends_on": None}))
    assert cleared["contract_ends_on"] is None


def test_the_main_value_in_another_spelling_is_not_held_twice(cast):
    client = api_client(cast, cast.alice)
    response = post(
        client,
        "/api/v1/contacts",
        {"last_name": "L", "phone": "030 1234567", "other_phones": ["+49 30 1234567"], "email": " A@Example.org"},
    )
    assert field_errors(response)[0]["field"] == "other_phones.0"


def _import(cast, text, duplicates="update"):
    with tenant_scope(cast.org_a):
        job = import_upload(
            actor=cast.actor(cast.alice),
            object_type="contact",
            file_name="k.csv",
            stream=io.BytesIO(text.encode("utf-8")),
        )
        import_start(actor=cast.actor(cast.alice), job=job, mapping=job.mapping, duplicates=duplicates)
    run_tasks()
    with tenant_scope(cast.org_a):
        return ImportJob.objects.get(pk=job.pk)


def test_an_import_flags_a_suppressed_person_by_a_further_address(cast):
    client = api_client(cast, cast.alice)
    _greta(client)
    request = created(client, "/api/v1/privacy/requests", kind="erasure", email="greta@example.org")
    ok(post(client, f"/api/v1/privacy/requests/{request['id']}/verify", {"reason": "ID card seen"}))
    ok(post(client, f"/api/v1/privacy/requests/{request['id']}/complete"))

    job = _import(cast, "Nachname;E-Mail;E-Mail 2\nBack;new@example.org;greta.home@example.net\n", "create")

    assert job.suppressed_count == 1
    with tenant_scope(cast.org_a):
        assert Contact.objects.get(email="new@example.org").subject.objected_to_marketing_at is not None


def test_rows_of_one_batch_add_a_further_address_once_and_undo_forgets_it_in_the_search(cast):
    client = api_client(cast, cast.alice)
    stored = created(client, "/api/v1/contacts", last_name="Stored", email="stored@example.org")
    text = (
        "Nachname;E-Mail;E-Mail 2\nStored;stored@example.org;s@home.example\nStored;stored@example.org;s@home.example\n"
    )

    job = _import(cast, text)

    assert ok(client.get(f"/api/v1/contacts/{stored['id']}"))["other_emails"] == [
        {"email": "s@home.example", "label": "other"}
    ]
    assert [item["id"] for item in ok(client.get("/api/v1/search", {"q": "s@home.example"}))["items"]] == [stored["id"]]
    from custos.crm.imports import import_undo

    with tenant_scope(cast.org_a):
        import_undo(actor=cast.actor(cast.alice), job=job)
    assert ok(client.get(f"/api/v1/contacts/{stored['id']}"))["other_emails"] == []
    assert ok(client.get("/api/v1/search", {"q": "s@home.example"}))["items"] == []
