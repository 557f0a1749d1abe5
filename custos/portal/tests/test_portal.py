"""The self-service privacy portal: links, the start page, and what a person does there."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.test import Client
from django.utils import timezone

from custos.audit.models import AuditEntry
from custos.core.tenancy import tenant_scope
from custos.crm.models import Contact
from custos.crm.services.people import contact_create
from custos.privacy.models import ConsentEvent, PortalLink, PrivacyRequest
from custos.privacy.services.consent import Proof, consent_give, purpose_create, shown_text
from custos.privacy.services.portal import portal_link_create, portal_link_revoke
from custos.privacy.services.reports import access_report, portability_data
from custos.privacy.services.requests import request_create
from custos.testing import api_client, run_tasks

PORTAL = "/privacy/portal"


@pytest.fixture
def greta(cast):
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        contact = contact_create(
            actor=actor,
            data={
                "first_name": "Greta",
                "last_name": "Lindqvist",
                "email": "greta@example.org",
                "phone": "+49 30 1234567",
                "city": "Berlin",
            },
        )
        purpose = purpose_create(
            actor=actor,
            data={
                "key": "newsletter",
                "legal_basis": "consent",
                "names": {"en": "Newsletter", "de": "Rundbrief", "ar": "النشرة"},
                "descriptions": {"en": "News once a month.", "de": "Einmal im Monat Neuigkeiten."},
                "is_marketing": True,
            },
        )
        consent_give(actor=actor, subject=contact.subject, purpose=purpose, proof=Proof(source="staff"))
    return contact


def new_link(cast, contact, language="en"):
    with tenant_scope(cast.org_a):
        return portal_link_create(actor=cast.actor(cast.alice), subject=contact.subject, language=language)


def opened(cast, contact, language="en"):
    """A browser session in the portal, opened with a fresh link."""
    link, secret = new_link(cast, contact, language)
    client = Client()
    response = client.get(f"{PORTAL}/l/{secret}/")
    assert response.status_code == 302
    assert response["Location"] == f"{PORTAL}/me/"
    return client, link


# Links --------------------------------------------------------------------------------


def test_a_valid_link_opens_the_portal_and_the_secret_stays_out_of_the_address(cast, greta):
    link, secret = new_link(cast, greta)
    assert len(secret) >= 40 and secret not in link.digest
    client = Client()

    landing = client.get(f"{PORTAL}/l/{secret}/")
    page = client.get(landing["Location"])

    assert landing.status_code == 302 and secret not in landing["Location"]
    assert page.status_code == 200
    body = page.content.decode()
    assert "Greta" in body and "Lindqvist" in body and "+49301234567" in body
    assert "no-store" in page["Cache-Control"]
    with tenant_scope(cast.org_a):
        link.refresh_from_db()
        assert link.last_used_at is not None
        assert AuditEntry.objects.filter(action="portal_link.open", via="portal", object_id=str(greta.subject_id))
        assert link.expires_at - link.created_at == dt.timedelta(days=7)


def test_an_expired_link_answers_410_also_for_a_session_already_open(cast, greta):
    client, _ = opened(cast, greta)
    _, other_secret = new_link(cast, greta)
    with tenant_scope(cast.org_a):
        PortalLink.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    landing = Client().get(f"{PORTAL}/l/{other_secret}/")
    page = client.get(f"{PORTAL}/me/")

    assert landing.status_code == 410 and page.status_code == 410
    assert "expired" in landing.content.decode()
    assert "Greta" not in landing.content.decode() + page.content.decode()


def test_a_revoked_link_answers_410_at_once(cast, greta):
    client, link = opened(cast, greta)
    with tenant_scope(cast.org_a):
        portal_link_revoke(actor=cast.actor(cast.alice), link=link)

    page = client.get(f"{PORTAL}/me/")

    assert page.status_code == 410
    assert "withdrawn" in page.content.decode()
    assert client.get(f"{PORTAL}/me/").status_code == 403  # the session forgot the link


def test_after_the_persons_erasure_their_link_says_why_it_may_no_longer_work(cast, greta):
    """Not only "ask for a new one": after an erasure none would come."""
    from custos.privacy.services.erasure import subject_erase

    client, _ = opened(cast, greta)
    _, secret = new_link(cast, greta)
    with tenant_scope(cast.org_a):
        subject_erase(actor=cast.actor(cast.alice), subject=greta.subject)

    page = client.get(f"{PORTAL}/me/")
    landing = Client().get(f"{PORTAL}/l/{secret}/", headers={"Accept-Language": "de"})

    assert "A link stops working once the data it showed has been erased." in page.content.decode()
    assert "sobald die Daten, die er gezeigt hat, gelöscht wurden" in landing.content.decode()
    assert "Greta" not in page.content.decode() + landing.content.decode()


def test_a_tampered_or_unknown_link_answers_404(cast, greta):
    _, secret = new_link(cast, greta)
    tampered = secret[:-1] + ("A" if secret[-1] != "A" else "B")

    for path in (f"{PORTAL}/l/{tampered}/", f"{PORTAL}/l/nothing-like-a-link/"):
        response = Client().get(path)
        assert response.status_code == 404
        assert "not complete or no longer valid" in response.content.decode()


def test_the_link_lifetime_follows_the_settings(cast, greta):
    from custos.privacy.models import PrivacySettings

    with tenant_scope(cast.org_a):
        PrivacySettings.objects.create(portal_link_days=2)
    link, _ = new_link(cast, greta)
    assert link.expires_at - link.created_at < dt.timedelta(days=2, seconds=5)


def test_without_a_session_the_pages_say_so(cast):
    response = Client().get(f"{PORTAL}/me/")
    assert response.status_code == 403
    assert "open the link" in response.content.decode().lower()


# The start page ------------------------------------------------------------------------


def _without_tokens(body: bytes) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", body.decode())


def test_known_and_unknown_emails_get_the_same_answer_and_only_the_known_one_a_mail(cast, greta, smtp_server):
    start = f"{PORTAL}/{cast.org_a.slug}/"
    known, unknown = Client(), Client()
    assert known.get(start).status_code == 200

    answers = [c.post(start, {"email": e}) for c, e in ((known, "greta@example.org"), (unknown, "nobody@example.org"))]

    assert [a.status_code for a in answers] == [302, 302]
    assert answers[0]["Location"] == answers[1]["Location"] == f"{start}sent/"
    pages = [_without_tokens(c.get(a["Location"]).content) for c, a in zip((known, unknown), answers, strict=True)]
    assert pages[0] == pages[1]
    assert "greta" not in pages[0]

    run_tasks()
    smtp_server.wait_for(1)
    assert [m["To"] for m in smtp_server.messages] == ["greta@example.org"]
    mail = smtp_server.messages[0].get_content()
    link = re.search(r"https?://\S+/privacy/portal/l/(\S+)/", mail)
    assert link is not None
    with tenant_scope(cast.org_a):
        stored = PortalLink.objects.get()
        assert link.group(1) not in stored.digest
        assert stored.subject_id == greta.subject_id
    page = Client().get(f"{PORTAL}/l/{link.group(1)}/", follow=True)
    assert page.status_code == 200 and "Lindqvist" in page.content.decode()


def test_known_and_unknown_emails_queue_the_same_work_while_the_person_waits(cast, greta, smtp_server):
    """Found by hunting: only a known address queued a task (an insert) before the answer, so
    the answer took measurably longer for a known address than for an unknown one."""
    from django.db import connection
    from django_tasks_db.models import DBTaskResult

    start = f"{PORTAL}/{cast.org_a.slug}/"
    queued = []
    for email in ("greta@example.org", "nobody@example.org"):
        before = DBTaskResult.objects.count()
        Client().post(start, {"email": email})
        while connection.run_on_commit:  # what the answer's own commit runs
            connection.run_on_commit.pop(0)[1]()
        queued.append(list(DBTaskResult.objects.order_by("enqueued_at").values_list("args_kwargs", flat=True)[before:]))

    assert [len(rows) for rows in queued] == [1, 1]
    assert "example.org" not in json.dumps(queued)
    run_tasks()
    assert [m["To"] for m in smtp_server.wait_for(1)] == ["greta@example.org"]


def test_an_invalid_address_is_told_and_nothing_is_sent(cast, greta, smtp_server):
    response = Client().post(f"{PORTAL}/{cast.org_a.slug}/", {"email": "not an address"})
    assert response.status_code == 422
    assert "valid email" in response.content.decode()
    assert run_tasks() == 0


def test_an_unknown_organisation_is_not_found(cast):
    assert Client().get(f"{PORTAL}/no-such-org/").status_code == 404


# What the person does -------------------------------------------------------------------


def test_correcting_the_phone_applies_at_once_as_a_completed_rectification(cast, greta):
    client, _ = opened(cast, greta)
    form = client.get(f"{PORTAL}/me/correct/")
    assert form.status_code == 200 and 'value="+49301234567"' in form.content.decode()

    response = client.post(
        f"{PORTAL}/me/correct/",
        {"first_name": "Greta", "last_name": "Lindqvist", "email": "greta@example.org", "phone": "030 7654321"},
    )

    assert response.status_code == 302
    with tenant_scope(cast.org_a):
        assert Contact.objects.get(pk=greta.pk).phone == "+49307654321"
        request = PrivacyRequest.objects.get()
        assert (request.kind, request.source, request.status, request.verification) == (
            "rectification",
            "portal",
            "completed",
            "email",
        )
        assert request.subject_id == greta.subject_id
        assert request.result["corrected"] == {"crm.Contact": ["phone"]}
        steps = list(AuditEntry.objects.filter(object_id=str(request.pk)).order_by("seq").values_list("action", "via"))
        assert steps == [
            ("privacy_request.create", "portal"),
            ("privacy_request.verify", "portal"),
            ("privacy_request.complete", "portal"),
        ]
        assert "7654321" not in json.dumps(list(AuditEntry.objects.values("extra", "fields")))


def test_a_chosen_value_is_not_offered_as_text_to_type(cast, greta):
    """The contact's language is one of a list ("de"), not a box where "Deutsch" is an error."""
    with tenant_scope(cast.org_a):
        Contact.objects.filter(pk=greta.pk).update(language="de")
    client, _ = opened(cast, greta)

    form = client.get(f"{PORTAL}/me/correct/").content.decode()

    assert 'id="field-city"' in form and 'id="field-language"' not in form


def test_bad_input_is_named_and_changes_nothing(cast, greta):
    client, _ = opened(cast, greta)
    response = client.post(f"{PORTAL}/me/correct/", {"email": "broken", "phone": "030 7654321", "last_name": ""})
    assert response.status_code == 422
    body = response.content.decode()
    assert 'id="error-email"' in body and 'id="error-last_name"' in body
    with tenant_scope(cast.org_a):
        assert Contact.objects.get(pk=greta.pk).phone == "+49301234567"
        assert not PrivacyRequest.objects.exists()


def test_withdrawing_consent_lands_in_the_ledger_with_portal_proof(cast, greta):
    client, _ = opened(cast, greta)
    page = client.get(f"{PORTAL}/me/consents/")
    assert "Withdraw consent: Newsletter" in page.content.decode()

    response = client.post(
        f"{PORTAL}/me/consents/", {"purpose": "newsletter", "action": "withdraw"}, headers={"User-Agent": "Phone/1.0"}
    )

    assert response.status_code == 302
    with tenant_scope(cast.org_a):
        event = ConsentEvent.objects.order_by("-occurred_at", "-pk").first()
        assert (event.action, event.source, event.ip, event.user_agent) == (
            "withdrawn",
            "portal",
            "127.0.0.1",
            "Phone/1.0",
        )
        assert event.text_shown == shown_text(event.purpose, "en")
    assert "Give consent: Newsletter" in client.get(f"{PORTAL}/me/consents/").content.decode()


def test_consent_awaiting_confirmation_may_be_given_or_refused(cast, greta):
    """Withdrawn once, asked again by a web form with double opt-in; the person, in the
    portal, says no instead."""
    from custos.privacy.models import Purpose
    from custos.privacy.services.consent import consent_states, consent_withdraw

    with tenant_scope(cast.org_a):
        purpose = Purpose.objects.get(key="newsletter")
        consent_withdraw(actor=cast.actor(cast.alice), subject=greta.subject, purpose=purpose, proof=Proof("staff"))
        consent_give(
            actor=cast.actor(cast.alice),
            subject=greta.subject,
            purpose=purpose,
            proof=Proof(source="web_form"),
            double_opt_in=True,
        )
    client, _ = opened(cast, greta)
    page = client.get(f"{PORTAL}/me/consents/").content.decode()
    assert "awaiting your confirmation" in page
    assert "Give consent: Newsletter" in page and "Withdraw consent: Newsletter" in page

    client.post(f"{PORTAL}/me/consents/", {"purpose": "newsletter", "action": "withdraw"})

    with tenant_scope(cast.org_a):
        assert [s.status for s in consent_states(greta.subject)] == ["withdrawn"]


def test_consent_text_shown_is_in_the_portal_language(cast, greta):
    client, _ = opened(cast, greta, language="de")
    client.post(f"{PORTAL}/me/consents/", {"purpose": "newsletter", "action": "withdraw"})
    with tenant_scope(cast.org_a):
        assert ConsentEvent.objects.order_by("-occurred_at", "-pk").first().text_shown.startswith("Rundbrief")


def test_the_json_export_is_the_access_report(cast, greta):
    client, _ = opened(cast, greta)

    response = client.get(f"{PORTAL}/me/export/json/")

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    exported = json.loads(response.content)
    with tenant_scope(cast.org_a):
        report = access_report(greta.subject, language="en")
        provided = portability_data(greta.subject)
        assert AuditEntry.objects.filter(action="subject.portal_export", via="portal").count() == 1
    exported.pop("generated_at"), report.pop("generated_at")
    assert exported == report
    contact_values = {
        f["name"]: f["value"] for r in exported["records"] if r["type"] == "crm.Contact" for f in r["fields"]
    }
    assert provided["crm.Contact"][0].items() - {("id", str(greta.pk))} <= contact_values.items()


def test_the_xlsx_export_is_a_workbook(cast, greta):
    client, _ = opened(cast, greta)
    response = client.get(f"{PORTAL}/me/export/xlsx/")
    assert response.status_code == 200
    assert response.content[:2] == b"PK"


def test_an_erasure_request_reaches_staff_received_and_verified(cast, greta):
    client, _ = opened(cast, greta)

    response = client.post(f"{PORTAL}/me/requests/", {"kind": "erasure", "note": "Please delete everything."})

    assert response.status_code == 302
    with tenant_scope(cast.org_a):
        request = PrivacyRequest.objects.get()
    staff = api_client(cast, cast.alice).get(f"/api/v1/privacy/requests/{request.pk}").json()
    assert (staff["kind"], staff["status"], staff["source"], staff["verification"]) == (
        "erasure",
        "verified",
        "portal",
        "email",
    )
    assert staff["received_at"]
    assert "Erasure" in client.get(f"{PORTAL}/me/requests/").content.decode()


def test_a_request_sent_twice_is_one_request_keeping_both_notes(cast, greta):
    client, _ = opened(cast, greta)

    client.post(f"{PORTAL}/me/requests/", {"kind": "erasure", "note": "Please delete everything."})
    client.post(f"{PORTAL}/me/requests/", {"kind": "erasure", "note": "Please delete everything."})
    client.post(f"{PORTAL}/me/requests/", {"kind": "erasure", "note": "Also the photos."})
    client.post(f"{PORTAL}/me/requests/", {"kind": "restriction"})

    with tenant_scope(cast.org_a):
        requests = list(PrivacyRequest.objects.order_by("received_at"))
    assert [r.kind for r in requests] == ["erasure", "restriction"]
    assert requests[0].details["note"] == "Please delete everything.\n\nAlso the photos."


def test_a_refused_request_keeps_what_the_person_wrote(cast, greta):
    client, _ = opened(cast, greta)

    page = client.post(f"{PORTAL}/me/requests/", {"kind": "erasure", "note": "x" * 2001})

    assert page.status_code == 422
    html = page.content.decode()
    assert 'value="erasure" checked' in html and "x" * 2001 + "</textarea>" in html
    with tenant_scope(cast.org_a):
        assert not PrivacyRequest.objects.exists()


def test_an_objection_to_profiling_is_recorded_as_such(cast, greta):
    client, _ = opened(cast, greta)
    client.post(f"{PORTAL}/me/requests/", {"kind": "objection_profiling"})
    unknown = client.post(f"{PORTAL}/me/requests/", {"kind": "everything"})
    assert unknown.status_code == 422
    with tenant_scope(cast.org_a):
        request = PrivacyRequest.objects.get()
        assert (request.kind, request.details) == ("objection", {"about": "profiling"})


def test_my_data_names_its_kinds_of_records_and_fields_in_the_persons_language(cast, greta):
    with tenant_scope(cast.org_a):
        Contact.objects.filter(pk=greta.pk).update(custom_fields={"kdnr": "K-1"})
    client, _ = opened(cast, greta, language="de")

    page = client.get(f"{PORTAL}/me/").content.decode()

    assert "<h2>Kontakt</h2>" in page and "<dt>Weitere Felder (kdnr)</dt>" in page
    assert "<h2>Contact</h2>" not in page and "<dt>Custom fields</dt>" not in page


def test_an_objection_for_reasons_of_a_particular_situation_waits_for_staff_with_its_grounds(cast, greta):
    client, _ = opened(cast, greta)

    page = client.get(f"{PORTAL}/me/requests/").content.decode()
    client.post(f"{PORTAL}/me/requests/", {"kind": "objection_situation", "note": "My address must stay private."})

    assert "for reasons of my particular situation" in page
    with tenant_scope(cast.org_a):
        request = PrivacyRequest.objects.get()
        assert (request.kind, request.status) == ("objection", "verified")  # the link proves who asks
        assert request.details == {"about": "situation", "note": "My address must stay private."}
    listed = client.get(f"{PORTAL}/me/requests/").content.decode()
    assert "processing, for reasons of your particular situation" in listed


def test_my_data_says_what_each_record_is(cast, greta):
    from custos.crm.services.people import company_create

    with tenant_scope(cast.org_a):
        firm = company_create(actor=cast.actor(cast.alice), data={"name": "Praxis Nord GmbH"})
        Contact.objects.filter(pk=greta.pk).update(company=firm)
    client, _ = opened(cast, greta, language="de")

    page = client.get(f"{PORTAL}/me/").content.decode()

    assert "<dt>Unternehmen</dt><dd>Praxis Nord GmbH</dd>" in page


def test_an_objection_to_marketing_is_honoured_at_once(cast, greta):
    """No weighing of interests for direct marketing (Art. 21(3)): the link proves who objects."""
    from custos.privacy.models import Subject

    client, _ = opened(cast, greta)

    response = client.post(f"{PORTAL}/me/requests/", {"kind": "objection_marketing"}, follow=True)

    assert "you will receive no more marketing from us" in response.content.decode()
    with tenant_scope(cast.org_a):
        request = PrivacyRequest.objects.get()
        assert (request.kind, request.status) == ("objection", "completed")
        assert Subject.objects.get(pk=greta.subject_id).objected_to_marketing_at is not None


def test_a_corrected_email_leaves_the_persons_earlier_requests_as_they_came(cast, greta):
    """A request is a record of who asked from which address: evidence, not the person's data."""
    with tenant_scope(cast.org_a):
        earlier = request_create(actor=cast.actor(cast.alice), kind="access", email="greta@example.org")
    client, _ = opened(cast, greta)

    client.post(
        f"{PORTAL}/me/correct/",
        {"first_name": "Greta", "last_name": "Lindqvist", "email": "new.greta@example.org", "phone": "+49301234567"},
    )

    with tenant_scope(cast.org_a):
        assert Contact.objects.get(pk=greta.pk).email == "new.greta@example.org"
        assert PrivacyRequest.objects.get(pk=earlier.pk).email == "greta@example.org"
        rectification = PrivacyRequest.objects.exclude(pk=earlier.pk).get()
        assert rectification.result["corrected"] == {"crm.Contact": ["email"]}


def test_signing_out_ends_the_portal_session(cast, greta):
    client, _ = opened(cast, greta)
    assert client.post(f"{PORTAL}/sign-out/").status_code == 200
    assert client.get(f"{PORTAL}/me/").status_code == 403


# Languages, privacy of the pages ----------------------------------------------------------


def test_arabic_pages_are_right_to_left(cast, greta):
    client, _ = opened(cast, greta, language="ar")
    for path in ("me/", "me/correct/", "me/consents/", "me/requests/"):
        body = client.get(f"{PORTAL}/{path}").content.decode()
        assert 'lang="ar" dir="rtl"' in body, path
    english = Client()
    english.post(f"{PORTAL}/language/", {"language": "ar", "next": f"{PORTAL}/{cast.org_a.slug}/"})
    assert 'dir="rtl"' in english.get(f"{PORTAL}/{cast.org_a.slug}/").content.decode()


@pytest.mark.parametrize("language", ["en", "de", "pl", "ar"])
def test_the_language_switch_changes_the_pages(cast, greta, language):
    client, _ = opened(cast, greta)
    response = client.post(f"{PORTAL}/language/", {"language": language, "next": f"{PORTAL}/me/"})
    assert response["Location"] == f"{PORTAL}/me/"
    page = client.get(f"{PORTAL}/me/")
    assert f'lang="{language}"' in page.content.decode()
    assert page["Content-Language"] == language


def test_no_page_loads_anything_from_elsewhere_or_inline(cast, greta):
    client, _ = opened(cast, greta)
    _, expired_secret = new_link(cast, greta)
    with tenant_scope(cast.org_a):
        PortalLink.objects.filter(pk=PortalLink.objects.order_by("-created_at").first().pk).update(
            expires_at=timezone.now() - dt.timedelta(seconds=1)
        )
    bodies = [
        client.get(f"{PORTAL}/{p}").content.decode()
        for p in (
            "me/",
            "me/correct/",
            "me/consents/",
            "me/requests/",
            f"{cast.org_a.slug}/",
            f"{cast.org_a.slug}/sent/",
        )
    ]
    bodies.append(Client().get(f"{PORTAL}/l/{expired_secret}/").content.decode())
    bodies.append(Client().get(f"{PORTAL}/l/unknown/").content.decode())
    bodies.append(client.post(f"{PORTAL}/sign-out/").content.decode())
    for body in bodies:
        assert not re.search(r"""(src|href|action)=["']?(https?:)?//""", body), body[:300]
        assert "<script" not in body and "style=" not in body and "<style" not in body
        assert not re.search(r"https?://(?!testserver)", body)


def test_the_portal_of_one_organisation_never_shows_another(cast, greta):
    """Mallory, signed in to org B in the same browser, opens a link of org A: org A's person only."""
    from custos.testing import web_client

    client = web_client(cast.mallory)
    _, secret = new_link(cast, greta)
    page = client.get(f"{PORTAL}/l/{secret}/", follow=True)
    assert page.status_code == 200 and "Lindqvist" in page.content.decode()
    assert "Bravo" not in page.content.decode()


def test_the_public_privacy_notice_is_generated_in_the_chosen_language(cast):
    with tenant_scope(cast.org_a):
        purpose_create(
            actor=cast.actor(cast.alice),
            data={"key": "recall", "legal_basis": "contract", "names": {"en": "Check-up reminders", "de": "Recall"}},
        )
    client = Client()

    english = client.get(f"/privacy/portal/{cast.org_a.slug}/notice/")
    unknown = client.get("/privacy/portal/no-such-organisation/notice/")

    assert english.status_code == 200
    assert "Check-up reminders" in english.content.decode()
    assert unknown.status_code == 404
