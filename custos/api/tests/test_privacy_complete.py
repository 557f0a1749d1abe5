"""POST /api/v1/privacy/requests/{id}/complete: the optional body, and Art. 19 (recipients told
of a rectification, erasure or restriction after it is carried out)."""

import json

from django.test import Client

from custos.api.tests.helpers import created, ok, patch, post, problem
from custos.audit.models import AuditEntry
from custos.core.tenancy import tenant_scope
from custos.crm.models import Contact
from custos.privacy.models import PrivacyRequest
from custos.testing import api_client, run_tasks


def _greta(client):
    return created(
        client,
        "/api/v1/contacts",
        first_name="Greta",
        last_name="Lindqvist",
        email="greta@example.org",
        phone="+49 30 1234567",
    )


def _verified(client, kind, **extra):
    request = created(client, "/api/v1/privacy/requests", kind=kind, email="greta@example.org", **extra)
    ok(post(client, f"/api/v1/privacy/requests/{request['id']}/verify", {"reason": "ID card seen"}))
    return request


def _complete(client, request_id, body=None):
    path = f"/api/v1/privacy/requests/{request_id}/complete"
    if body is None:
        return client.generic("POST", path)  # no body, no content type
    return client.post(path, json.dumps(body), content_type="application/json")


def _state(cast):
    with tenant_scope(cast.org_a):
        return {
            "requests": list(PrivacyRequest.objects.order_by("pk").values()),
            "contacts": list(Contact.objects.order_by("pk").values()),
            "audit": AuditEntry.objects.count(),
        }


def _processor(client, name, email, inform=True, **extra):
    return created(
        client,
        "/api/v1/privacy/processors",
        name=name,
        service="newsletter delivery",
        location="DE",
        safeguard="none_needed",
        contact_email=email,
        inform_of_changes=inform,
        **extra,
    )


def test_a_bodiless_or_empty_completion_applies_what_was_received(cast):
    client = api_client(cast, cast.alice)
    contact = _greta(client)
    request = _verified(client, "rectification", details={"corrections": {"phone": "+49 30 7654321"}})

    done = ok(_complete(client, request["id"]))

    assert done["status"] == "completed"
    assert done["result"]["corrected"] == {"crm.Contact": ["phone"]}
    assert ok(client.get(f"/api/v1/contacts/{contact['id']}"))["phone"] == "+49307654321"
    access = _verified(client, "access")
    assert ok(_complete(client, access["id"], {}))["status"] == "completed"


def test_corrections_in_the_body_replace_those_received_and_are_applied(cast):
    client = api_client(cast, cast.alice)
    contact = _greta(client)
    request = _verified(client, "rectification", details={"corrections": {"phone": "+49 30 7654321"}})

    done = ok(_complete(client, request["id"], {"corrections": {"last_name": "Lindqvist-Berg"}}))

    assert done["result"]["corrected"] == {"crm.Contact": ["last_name"]}
    person = ok(client.get(f"/api/v1/contacts/{contact['id']}"))
    assert person["last_name"] == "Lindqvist-Berg"
    assert person["phone"] == "+49301234567"  # the received correction was replaced, not applied
    with tenant_scope(cast.org_a):
        assert PrivacyRequest.objects.get(pk=request["id"]).details["corrections"] == {"last_name": "Lindqvist-Berg"}
        entry = AuditEntry.objects.get(action="privacy_request.complete", object_id=request["id"])
        assert entry.extra["corrections_given"] == ["last_name"]
        assert "Lindqvist-Berg" not in json.dumps(entry.extra)


def test_bad_bodies_are_422_naming_the_field_and_change_nothing(cast):
    client = api_client(cast, cast.alice)
    _greta(client)
    rectification = _verified(client, "rectification", details={"corrections": {"phone": "+49 30 7654321"}})
    access = _verified(client, "access")
    before = _state(cast)

    cases = [
        (rectification, {"corrections": "phone"}, "corrections"),
        (rectification, {"corrections": {}}, "corrections"),
        (rectification, {"corrections": {"favourite_colour": "blue"}}, "corrections.favourite_colour"),
        (rectification, {"corrections": {"email": "not-an-address"}}, "corrections.email"),
        (rectification, {"corrections": {"phone": "call me"}}, "corrections.phone"),
        (rectification, {"corrections": {"first_name": 42}}, "corrections.first_name"),
        (rectification, {"changes": {"phone": "+49 30 1"}}, "changes"),
        (access, {"corrections": {"phone": "+49 30 7654321"}}, "corrections"),
    ]
    for found, body, field in cases:
        answer = problem(_complete(client, found["id"], body), 422)
        assert field in [error["field"] for error in answer["errors"]], (body, answer)

    assert _state(cast) == before


def test_completing_needs_the_right_to_change_requests_and_stays_in_the_tenant(cast):
    client = api_client(cast, cast.alice)
    _greta(client)
    request = _verified(client, "rectification", details={"corrections": {"phone": "+49 30 7654321"}})
    bob, mallory = api_client(cast, cast.bob, scope="read"), api_client(cast, cast.mallory)
    before = _state(cast)
    body = {"corrections": {"phone": "+49 30 1111111"}}

    assert problem(_complete(bob, request["id"], body), 403)
    assert problem(_complete(bob, request["id"]), 403)
    assert problem(_complete(mallory, request["id"], body), 404)
    assert problem(_complete(Client(), request["id"], body), 401)

    assert _state(cast) == before


def test_an_erasure_informs_the_marked_processors_after_commit_in_the_organisations_language(cast, smtp_server):
    client = api_client(cast, cast.alice)
    ok(patch(client, "/api/v1/privacy/settings", {"inform_recipients": True}))
    mailer = _processor(client, "Rundbrief GmbH", "privacy@rundbrief.example")
    _processor(client, "Quiet Hosting", "dpo@quiet.example", inform=False)
    _processor(client, "Old Printer", "old@printer.example", is_active=False)
    _greta(client)
    request = _verified(client, "erasure")

    done = ok(_complete(client, request["id"]))

    assert [(r["name"], r["status"]) for r in done["result"]["recipients"]] == [("Rundbrief GmbH", "pending")]
    run_tasks()  # runs what the commit would have run
    [mail] = smtp_server.sent_to("privacy@rundbrief.example")
    assert [m["To"] for m in smtp_server.messages] == ["privacy@rundbrief.example"]
    assert mail["Content-Language"] == "de"  # Acme Praxis is in Germany
    assert "Art. 19" in mail["Subject"]
    body = mail.get_content()
    assert "greta@example.org" in body  # how the recipient knows whom to erase
    assert "Greta" not in body and "Lindqvist" not in body and "1234567" not in body
    answered = ok(client.get(f"/api/v1/privacy/requests/{request['id']}"))
    [informed] = answered["result"]["recipients"]
    assert (informed["processor"], informed["status"]) == (mailer["id"], "informed") and informed["at"]
    with tenant_scope(cast.org_a):
        entry = AuditEntry.objects.get(action="privacy_request.inform_recipients")
        assert entry.extra == {"informed": [mailer["id"]], "failed": 0}
        # Nothing at rest holds the address any more.
        stored = json.dumps(list(PrivacyRequest.objects.values("email", "details", "result")))
        assert "greta@example.org" not in stored
    report = ok(client.get(f"/api/v1/privacy/requests/{request['id']}/report?format=json"))
    assert report["recipients"][0]["status"] == "informed"


def test_a_rectification_tells_only_the_corrected_values_and_nothing_goes_when_not_configured(cast, smtp_server):
    client = api_client(cast, cast.alice)
    _processor(client, "Rundbrief GmbH", "privacy@rundbrief.example")
    _greta(client)
    quiet = _verified(client, "rectification", details={"corrections": {"phone": "+49 30 7654321"}})
    assert "recipients" not in ok(_complete(client, quiet["id"]))["result"]  # inform_recipients is off

    ok(patch(client, "/api/v1/privacy/settings", {"inform_recipients": True}))
    request = _verified(client, "rectification")
    ok(_complete(client, request["id"], {"corrections": {"last_name": "Berg"}}))
    run_tasks()

    [mail] = smtp_server.sent_to("privacy@rundbrief.example")
    body = mail.get_content()
    assert "Berg" in body and "greta@example.org" in body
    assert "7654321" not in body and "Greta" not in body  # not what changed, not asked for


def test_a_recipient_whose_mail_fails_is_recorded_as_not_informed(cast, settings):
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": 9, "timeout": 1},
        }
    }
    client = api_client(cast, cast.alice)
    ok(patch(client, "/api/v1/privacy/settings", {"inform_recipients": True}))
    _processor(client, "Rundbrief GmbH", "privacy@rundbrief.example")
    _greta(client)
    request = _verified(client, "restriction")
    ok(_complete(client, request["id"]))

    run_tasks()

    [entry] = ok(client.get(f"/api/v1/privacy/requests/{request['id']}"))["result"]["recipients"]
    assert entry["status"] == "pending" and entry["retry_at"]  # refused: tried again then


def test_the_settings_carry_the_contact_for_privacy_matters_and_the_officer(cast):
    client = api_client(cast, cast.alice)

    before = ok(client.get("/api/v1/privacy/settings"))
    changed = ok(patch(client, "/api/v1/privacy/settings", {"controller_contact": "Hauptstr. 1\n10115 Berlin"}))
    refused = problem(patch(client, "/api/v1/privacy/settings", {"dpo_contact": 7, "controller_contact": "x"}), 422)

    assert (before["controller_contact"], before["dpo_contact"]) == ("", "")
    assert (changed["controller_contact"], changed["dpo_contact"]) == ("Hauptstr. 1\n10115 Berlin", "")
    assert [e["field"] for e in refused["errors"]] == ["dpo_contact"]
    assert ok(client.get("/api/v1/privacy/settings"))["controller_contact"] == "Hauptstr. 1\n10115 Berlin"
    assert api_client(cast, cast.bob, "read").get("/api/v1/privacy/settings").status_code == 403


def test_an_objection_on_grounds_of_a_particular_situation_is_weighed(cast):
    """Art. 21(1): upheld, the person's data is only stored from then on; or rejected with
    the compelling grounds the organisation has to go on."""
    client = api_client(cast, cast.alice)
    greta = _greta(client)
    grounds = "I moved after a stalking case and do not want my address used."

    upheld = _verified(client, "objection", details={"about": "situation", "note": grounds})
    answered = ok(_complete(client, upheld["id"]))
    refused = problem(
        post(
            client,
            "/api/v1/privacy/requests",
            {"kind": "objection", "email": "greta@example.org", "details": {"about": "all"}},
        ),
        422,
    )

    assert answered["status"] == "completed"
    with tenant_scope(cast.org_a):
        stored = PrivacyRequest.objects.get(pk=upheld["id"])
        assert stored.details == {"about": "situation", "note": grounds}
        assert stored.result["objection"] == "situation" and stored.result["restricted"] is True
        assert Contact.objects.get(pk=greta["id"]).subject.state == "restricted"
    assert [e["field"] for e in refused["errors"]] == ["details.about"]
