"""/api/v1/privacy/requests: received → verified → completed, and what each kind does."""

import json
from datetime import datetime, timedelta

from django.utils import timezone

from custos.api.tests.helpers import created, ok, patch, post, problem
from custos.audit.models import AuditEntry
from custos.core.tenancy import tenant_scope
from custos.privacy.models import LegalHold, PrivacyRequest, Subject
from custos.privacy.services.requests import request_due_at
from custos.privacy.services.suppression import is_suppressed
from custos.testing import api_client


def _greta(client):
    company = created(client, "/api/v1/companies", name="Nordhafen Praxis")
    contact = created(
        client,
        "/api/v1/contacts",
        first_name="Greta",
        last_name="Lindqvist",
        email="greta@example.org",
        phone="+49 30 1234567",
        company=company["id"],
        notes="Prefers mornings.",
    )
    return contact


def _request(client, kind, email="greta@example.org", **extra):
    return created(client, "/api/v1/privacy/requests", kind=kind, email=email, **extra)


def _done(client, request_id):
    ok(post(client, f"/api/v1/privacy/requests/{request_id}/verify", {"reason": "ID card seen at the desk"}))
    return ok(post(client, f"/api/v1/privacy/requests/{request_id}/complete"))


def test_the_answer_looks_the_same_whether_or_not_the_email_is_known(cast):
    client = api_client(cast, cast.alice)
    _greta(client)

    known = _request(client, "access")
    unknown = _request(client, "access", email="nobody@example.org")

    assert set(known) == set(unknown)
    assert known["status"] == unknown["status"] == "received"
    assert "subject" not in known
    for body in (known, unknown):
        assert "greta" not in json.dumps(body) and "nobody" not in json.dumps(body)


def test_the_deadline_is_a_month_and_can_be_extended_once(cast):
    client = api_client(cast, cast.alice)
    request = _request(client, "access", email="x@example.org")

    received = datetime.fromisoformat(request["received_at"])
    due = datetime.fromisoformat(request["due_at"])
    with tenant_scope(cast.org_a):
        assert due == request_due_at(received)  # 30 days, or less where the month is shorter
    assert 28 <= (due - received).days <= 30

    extended = ok(
        post(client, f"/api/v1/privacy/requests/{request['id']}/extend", {"days": 20, "reason": "Many records"})
    )
    assert datetime.fromisoformat(extended["due_at"]) == timezone.localtime(due) + timedelta(days=20)
    problem(post(client, f"/api/v1/privacy/requests/{request['id']}/extend", {"days": 1, "reason": "again"}), 409)
    too_long = problem(
        post(client, f"/api/v1/privacy/requests/{request['id']}/extend", {"days": 90, "reason": ""}), 422
    )
    assert {e["field"] for e in too_long["errors"]} == {"days", "reason"}


def test_an_extension_without_days_names_the_field(cast):
    """Found by the schema fuzzing: `days: null` answered 422 with no error in it."""
    client = api_client(cast, cast.alice)
    request = _request(client, "access", email="x@example.org")
    response = post(client, f"/api/v1/privacy/requests/{request['id']}/extend", {"days": None, "reason": "Many"})
    assert [(e["field"], e["message"]) for e in problem(response, 422)["errors"]] == [
        ("days", "This field is required.")
    ]
    assert ok(client.get(f"/api/v1/privacy/requests/{request['id']}"))["extended_at"] is None


def test_a_request_is_completed_only_once_verified(cast):
    client = api_client(cast, cast.alice)
    _greta(client)
    request = _request(client, "access")

    problem(post(client, f"/api/v1/privacy/requests/{request['id']}/complete"), 409)
    problem(client.get(f"/api/v1/privacy/requests/{request['id']}/report"), 409)
    no_reason = problem(post(client, f"/api/v1/privacy/requests/{request['id']}/verify", {}), 422)
    assert [e["field"] for e in no_reason["errors"]] == ["reason"]

    done = _done(client, request["id"])

    assert done["status"] == "completed"
    assert done["verification"] == "staff"
    assert done["handler"] == str(cast.alice.pk)
    with tenant_scope(cast.org_a):
        actions = list(
            AuditEntry.objects.filter(object_id=request["id"]).order_by("seq").values_list("action", flat=True)
        )
    assert actions == ["privacy_request.create", "privacy_request.verify", "privacy_request.complete"]


def test_the_access_report_holds_every_value_and_the_article_15_information(cast):
    client = api_client(cast, cast.alice)
    contact = _greta(client)
    created(
        client,
        "/api/v1/leads",
        first_name="Greta",
        last_name="Lindqvist",
        email="greta@example.org",
        interest="Implants",
    )
    created(client, "/api/v1/activities", title="Called back", contact=contact["id"])
    request = _request(client, "access")
    _done(client, request["id"])

    report = ok(client.get(f"/api/v1/privacy/requests/{request['id']}/report", {"format": "json"}))

    assert report["schema"] == "custos.access-report/1"
    types = sorted(r["type"] for r in report["records"])
    assert types == ["crm.Activity", "crm.Contact", "crm.Lead", "privacy.PrivacyRequest"]
    contact_values = {
        f["name"]: f["value"] for r in report["records"] if r["type"] == "crm.Contact" for f in r["fields"]
    }
    assert contact_values["email"] == "greta@example.org"
    assert contact_values["phone"] == "+49301234567"
    assert contact_values["notes"] == "Prefers mornings."
    assert report["automated_decisions"]["applies"] is True  # leads are scored
    for key in ("purposes", "recipients", "retention", "categories", "consents", "controller"):
        assert key in report
    assert report["subject"]["reference"].startswith("S-")


def test_an_unknown_person_gets_a_completed_request_with_nothing_found(cast):
    client = api_client(cast, cast.alice)
    request = _request(client, "access", email="nobody@example.org")

    _done(client, request["id"])
    body = ok(client.get(f"/api/v1/privacy/requests/{request['id']}/report"))

    assert body["found"] is False


def test_erasure_preview_then_erasure_leaves_only_a_pseudonymous_reference(cast):
    client = api_client(cast, cast.alice)
    contact = _greta(client)
    other = created(
        client,
        "/api/v1/contacts",
        first_name="Hans",
        email="hans@example.org",
        notes="Referred by greta@example.org, call +49 30 1234567",
    )
    request = _request(client, "erasure")

    preview = ok(client.get(f"/api/v1/privacy/subjects/{contact['subject']}/erasure-preview"))
    assert preview["anonymised"]["crm.Contact"] == 1
    assert preview["deleted"]["search.SearchEntry"] >= 3
    assert preview["redacted_mentions"] == [{"type": "crm.Contact", "id": other["id"], "field": "notes"}]
    with tenant_scope(cast.org_a):
        assert Subject.objects.get(pk=contact["subject"]).state == "active"  # a preview changes nothing

    done = _done(client, request["id"])

    assert done["result"]["anonymised"]["crm.Contact"] == 1
    after = ok(client.get(f"/api/v1/contacts/{contact['id']}"))
    assert (after["first_name"], after["last_name"], after["email"], after["phone"]) == ("", "", "", "")
    assert ok(client.get(f"/api/v1/contacts/{other['id']}"))["notes"] == "Referred by […], call […]"
    assert ok(client.get("/api/v1/search", {"q": "Lindqvist"}))["items"] == []
    assert ok(client.get(f"/api/v1/privacy/subjects/{contact['subject']}"))["state"] == "erased"
    stored = ok(client.get(f"/api/v1/privacy/requests/{request['id']}"))
    assert "greta" not in json.dumps(stored).lower()
    with tenant_scope(cast.org_a):
        assert PrivacyRequest.objects.get(pk=request["id"]).email == ""
        assert is_suppressed(email="greta@example.org")  # an import cannot bring her back unnoticed
    report = ok(client.get(f"/api/v1/privacy/requests/{request['id']}/report"))
    assert report["anonymised"]["crm.Contact"] == 1


def test_a_second_erasure_changes_nothing(cast):
    from custos.privacy.services.erasure import subject_erase

    client = api_client(cast, cast.alice)
    contact = _greta(client)
    _done(client, _request(client, "erasure")["id"])
    with tenant_scope(cast.org_a):
        subject = Subject.objects.get(pk=contact["subject"])
        before = AuditEntry.objects.count()
        subject_erase(actor=cast.actor(cast.alice), subject=subject)
        assert AuditEntry.objects.count() == before
    assert ok(client.get(f"/api/v1/contacts/{contact['id']}"))["email"] == ""


def test_a_legal_hold_stops_erasure(cast):
    client = api_client(cast, cast.alice)
    contact = _greta(client)
    with tenant_scope(cast.org_a):
        LegalHold.objects.create(subject_id=contact["subject"], reason="Pending court case")
    request = _request(client, "erasure")
    ok(post(client, f"/api/v1/privacy/requests/{request['id']}/verify", {"reason": "Known caller"}))

    answered = ok(post(client, f"/api/v1/privacy/requests/{request['id']}/complete"))

    assert answered["status"] == "rejected"
    assert "legal hold" in answered["rejection_reason"]
    assert ok(client.get(f"/api/v1/contacts/{contact['id']}"))["email"] == "greta@example.org"
    report = ok(client.get(f"/api/v1/privacy/requests/{request['id']}/report"))
    assert report["kind"] == "erasure"


def test_restriction_keeps_the_data_but_stops_changes_and_exports(cast):
    client = api_client(cast, cast.alice)
    contact = _greta(client)
    _done(client, _request(client, "restriction")["id"])

    refused = problem(patch(client, f"/api/v1/contacts/{contact['id']}", {"notes": "changed"}), 409)
    assert "restricted" in refused["detail"]
    assert ok(client.get(f"/api/v1/contacts/{contact['id']}"))["notes"] == "Prefers mornings."
    problem(post(client, "/api/v1/activities", {"title": "Call", "contact": contact["id"]}), 409)
    export = client.get("/api/v1/contacts/export", {"format": "csv"})
    assert export.status_code == 200
    assert b"Lindqvist" not in b"".join(export.streaming_content)

    ok(post(client, f"/api/v1/privacy/subjects/{contact['subject']}/lift-restriction"))
    assert ok(patch(client, f"/api/v1/contacts/{contact['id']}", {"notes": "changed"}))["notes"] == "changed"


def test_objection_to_marketing_suppresses_and_to_profiling_stops_scoring(cast):
    client = api_client(cast, cast.alice)
    lead = created(client, "/api/v1/leads", first_name="Olaf", email="olaf@example.org", country="DE")
    _done(client, _request(client, "objection", email="olaf@example.org")["id"])
    with tenant_scope(cast.org_a):
        assert is_suppressed(email="OLAF@example.org")
        assert Subject.objects.get(pk=lead["subject"]).objected_to_profiling_at is None

    _done(client, _request(client, "objection", email="olaf@example.org", details={"about": "profiling"})["id"])
    with tenant_scope(cast.org_a):
        assert Subject.objects.get(pk=lead["subject"]).objected_to_profiling_at is not None


def test_rectification_corrects_every_record_and_the_search(cast):
    client = api_client(cast, cast.alice)
    contact = _greta(client)
    lead = created(client, "/api/v1/leads", first_name="Greta", last_name="Lindqvist", email="greta@example.org")
    request = _request(
        client, "rectification", details={"corrections": {"last_name": "Lindgren", "phone": "030 7654321"}}
    )

    done = _done(client, request["id"])

    assert done["result"]["corrected"] == {"crm.Contact": ["last_name", "phone"], "crm.Lead": ["last_name", "phone"]}
    assert ok(client.get(f"/api/v1/contacts/{contact['id']}"))["phone"] == "+49307654321"
    assert ok(client.get(f"/api/v1/leads/{lead['id']}"))["last_name"] == "Lindgren"
    assert ok(client.get("/api/v1/search", {"q": "Lindqvist"}))["items"] == []
    assert ok(client.get("/api/v1/search", {"q": "Lindgren"}))["items"]


def test_reject_with_a_reason(cast):
    client = api_client(cast, cast.alice)
    request = _request(client, "erasure", email="x@example.org")

    rejected = ok(post(client, f"/api/v1/privacy/requests/{request['id']}/reject", {"reason": "Manifestly unfounded"}))

    assert rejected["status"] == "rejected"
    assert rejected["rejection_reason"] == "Manifestly unfounded"
    problem(post(client, f"/api/v1/privacy/requests/{request['id']}/verify", {"reason": "late"}), 409)


def test_bad_requests_change_nothing(cast):
    client = api_client(cast, cast.alice)

    body = problem(
        post(client, "/api/v1/privacy/requests", {"kind": "delete-everything", "email": "not an email"}), 422
    )

    assert {e["field"] for e in body["errors"]} == {"kind", "email"}
    with tenant_scope(cast.org_a):
        assert PrivacyRequest.objects.count() == 0


def test_a_correction_its_field_cannot_take_is_refused_when_the_request_comes(cast):
    """Found by hunting: a rectification asking for phone "call me" was recorded, then could
    never be completed as received (422 on every try), only rejected."""
    client = api_client(cast, cast.alice)
    _greta(client)

    body = problem(
        post(
            client,
            "/api/v1/privacy/requests",
            {
                "kind": "rectification",
                "email": "greta@example.org",
                "details": {"corrections": {"phone": "call me", "email": "greta@", "favourite_colour": "blue"}},
            },
        ),
        422,
    )

    assert {e["field"] for e in body["errors"]} == {
        "details.corrections.phone",
        "details.corrections.email",
        "details.corrections.favourite_colour",
    }
    with tenant_scope(cast.org_a):
        assert PrivacyRequest.objects.count() == 0
        assert not AuditEntry.objects.filter(action="privacy_request.create").exists()
    stored = _request(client, "rectification", details={"corrections": {"phone": "030 7654321"}})
    with tenant_scope(cast.org_a):
        assert PrivacyRequest.objects.get(pk=stored["id"]).details["corrections"] == {"phone": "+49307654321"}


def test_lists_filter_by_status_and_overdue(cast):
    client = api_client(cast, cast.alice)
    first = _request(client, "access", email="a@example.org")
    _request(client, "erasure", email="b@example.org")
    ok(post(client, f"/api/v1/privacy/requests/{first['id']}/reject", {"reason": "duplicate"}))
    with tenant_scope(cast.org_a):
        from datetime import timedelta

        from django.utils import timezone

        PrivacyRequest.objects.exclude(pk=first["id"]).update(due_at=timezone.now() - timedelta(days=1))

    rejected = ok(client.get("/api/v1/privacy/requests", {"status": "rejected"}))["items"]
    overdue = ok(client.get("/api/v1/privacy/requests", {"overdue": "true"}))["items"]

    assert [r["id"] for r in rejected] == [first["id"]]
    assert [r["kind"] for r in overdue] == ["erasure"]
    problem(client.get("/api/v1/privacy/requests", {"status": "lost"}), 422)


def test_an_erasure_also_empties_requests_made_before_the_address_was_on_record(cast):
    client = api_client(cast, cast.alice)
    early = _request(client, "access", email="greta@example.org")  # nobody on record yet
    _greta(client)

    _done(client, _request(client, "erasure")["id"])

    with tenant_scope(cast.org_a):
        assert PrivacyRequest.objects.get(pk=early["id"]).email == ""
