"""Privacy pages: data-subject requests from receipt to download, purposes with their versions,
and one person's consents, restriction and erasure."""

import html
import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from custos.audit.models import AuditEntry
from custos.core.tenancy import tenant_scope
from custos.crm.models import Contact
from custos.crm.services.people import contact_create
from custos.privacy.models import ConsentEvent, PrivacyRequest, Purpose, Subject
from custos.privacy.services.consent import purpose_create
from custos.privacy.services.requests import request_create
from custos.testing import book_appointment, web_client


def _text(response):
    assert response.status_code == 200, response.status_code
    return html.unescape(response.content.decode())


def _contact(cast, email="ada@example.org", **data):
    with tenant_scope(cast.org_a):
        return contact_create(
            actor=cast.actor(cast.olive),
            data={"first_name": "Ada", "last_name": "Lovelace", "email": email, **data},
        )


def _purpose(cast, key="newsletter", name="Newsletter"):
    with tenant_scope(cast.org_a):
        return purpose_create(
            actor=cast.actor(cast.olive),
            data={"key": key, "legal_basis": "consent", "names": {"en": name}, "is_marketing": True},
        )


def _request(cast, kind="access", email="ada@example.org"):
    with tenant_scope(cast.org_a):
        return request_create(actor=cast.actor(cast.olive), kind=kind, email=email)


def _state(cast):
    with tenant_scope(cast.org_a):
        return {
            "requests": list(PrivacyRequest.objects.order_by("pk").values()),
            "purposes": list(Purpose.objects.order_by("pk").values()),
            "consents": ConsentEvent.objects.count(),
            "subjects": list(Subject.objects.order_by("pk").values_list("pk", "state")),
            "audit": AuditEntry.objects.count(),
        }


def test_the_pages_render_for_an_admin_and_the_navigation_names_them(cast):
    contact = _contact(cast)
    purpose = _purpose(cast)
    found = _request(cast)
    client = web_client(cast.alice)
    home = _text(client.get("/"))
    assert 'href="/privacy/requests/"' in home
    assert 'href="/privacy/purposes/"' in home
    for path in (
        "/privacy/requests/",
        "/privacy/requests/new/",
        f"/privacy/requests/{found.pk}/",
        "/privacy/purposes/",
        "/privacy/purposes/new/",
        f"/privacy/purposes/{purpose.pk}/",
        f"/privacy/subjects/{contact.subject_id}/",
    ):
        assert client.get(path).status_code == 200, path
    contact_page = _text(client.get(f"/contacts/{contact.pk}/"))
    assert f'href="/privacy/subjects/{contact.subject_id}/"' in contact_page


def test_read_only_and_other_tenants_get_no_privacy_pages_and_change_nothing(cast):
    contact = _contact(cast)
    purpose = _purpose(cast)
    found = _request(cast)
    before = _state(cast)
    bob = web_client(cast.bob)
    for path in ("/privacy/requests/", "/privacy/purposes/", f"/privacy/subjects/{contact.subject_id}/"):
        assert bob.get(path).status_code == 403, path
    assert bob.get(f"/privacy/requests/{found.pk}/").status_code == 403
    assert bob.post("/privacy/requests/new/", {"kind": "access", "email": "x@example.org"}).status_code == 403
    assert bob.post(f"/privacy/requests/{found.pk}/verify/", {"verify-reason": "ID"}).status_code == 403
    assert bob.post(f"/privacy/subjects/{contact.subject_id}/restrict/").status_code == 403
    assert bob.post(f"/privacy/purposes/{purpose.pk}/", {"legal_basis": "contract"}).status_code == 403
    # Bob sees the contact, but not its privacy link.
    assert "/privacy/subjects/" not in _text(bob.get(f"/contacts/{contact.pk}/"))

    mallory = web_client(cast.mallory)
    for path in (
        f"/privacy/requests/{found.pk}/",
        f"/privacy/requests/{found.pk}/complete/",
        f"/privacy/requests/{found.pk}/report/?format=pdf",
        f"/privacy/purposes/{purpose.pk}/",
        f"/privacy/subjects/{contact.subject_id}/",
    ):
        assert mallory.get(path).status_code == 404, path
    assert mallory.post(f"/privacy/requests/{found.pk}/verify/", {"verify-reason": "ID"}).status_code == 404
    assert mallory.post(f"/privacy/requests/{found.pk}/complete/", {"confirm": "yes"}).status_code == 404
    assert mallory.post(f"/privacy/subjects/{contact.subject_id}/restrict/").status_code == 404
    mallory_list = _text(mallory.get("/privacy/requests/"))
    assert str(found.pk) not in mallory_list
    assert _state(cast) == before


def test_the_staff_flow_creates_verifies_completes_and_downloads_an_access_request(cast):
    _contact(cast)
    client = web_client(cast.alice)
    # A bad email is named by field, and nothing is recorded.
    before = _state(cast)
    response = client.post("/privacy/requests/new/", {"kind": "access", "email": "not-an-email", "language": "en"})
    assert "Enter a valid email address" in _text(response)
    assert _state(cast) == before

    response = client.post("/privacy/requests/new/", {"kind": "access", "email": "ada@example.org", "language": "de"})
    assert response.status_code == 302
    with tenant_scope(cast.org_a):
        found = PrivacyRequest.objects.get()
    assert response["Location"] == f"/privacy/requests/{found.pk}/"
    assert "ada@example.org" not in response["Location"]
    assert (found.kind, found.source, found.language, found.subject_id is not None) == ("access", "staff", "de", True)

    listing = _text(client.get("/privacy/requests/"))
    assert "Access" in listing
    assert "ada@example.org" not in listing  # the list shows no personal values
    assert "30 days left" in listing

    # Completing before verifying is refused with the reason.
    response = client.post(f"/privacy/requests/{found.pk}/complete/", follow=True)
    assert "Verify the requester's identity" in _text(response)
    response = client.post(f"/privacy/requests/{found.pk}/verify/", {"verify-reason": ""})
    assert "This field is required." in _text(response)
    response = client.post(f"/privacy/requests/{found.pk}/verify/", {"verify-reason": "ID card seen"}, follow=True)
    detail = _text(response)
    assert "Identity verified: confirmed by staff" in detail
    assert "ID card seen" in detail

    response = client.post(f"/privacy/requests/{found.pk}/complete/", follow=True)
    detail = _text(response)
    assert "The request is completed." in detail
    assert "2 records were reported." in detail  # the contact and the request itself
    for format in ("json", "xlsx", "pdf"):
        assert f"/privacy/requests/{found.pk}/report/?format={format}" in detail

    response = client.get(f"/privacy/requests/{found.pk}/report/?format=pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert "attachment" in response["Content-Disposition"]
    report = json.loads(client.get(f"/privacy/requests/{found.pk}/report/?format=json").content)
    assert report["schema"] == "custos.access-report/1"
    assert client.get(f"/privacy/requests/{found.pk}/report/?format=zip").status_code == 404
    with tenant_scope(cast.org_a):
        assert AuditEntry.objects.filter(action="privacy_request.report", object_id=str(found.pk)).count() == 2


def test_a_rectification_whose_phone_is_no_phone_is_refused_beside_the_field(cast):
    """Recorded as typed, it could never be completed from the pages: they take no corrections."""
    _contact(cast)
    client = web_client(cast.alice)
    before = _state(cast)

    response = client.post(
        "/privacy/requests/new/",
        {"kind": "rectification", "email": "ada@example.org", "language": "en", "phone": "call me"},
    )

    assert response.status_code == 200
    form = response.context["form"]
    assert list(form.errors) == ["phone"]
    assert _state(cast) == before


def test_a_download_waits_for_completion_and_an_extension_is_limited(cast):
    found = _request(cast)
    client = web_client(cast.alice)
    response = client.get(f"/privacy/requests/{found.pk}/report/?format=pdf", follow=True)
    assert "The request is not completed yet." in _text(response)
    before = _state(cast)
    response = client.post(f"/privacy/requests/{found.pk}/extend/", {"extend-days": "62", "extend-reason": "complex"})
    assert "Ensure this value is less than or equal to 61." in _text(response)
    assert _state(cast) == before
    due = found.due_at
    response = client.post(
        f"/privacy/requests/{found.pk}/extend/", {"extend-days": "30", "extend-reason": "many records"}, follow=True
    )
    assert "Deadline extended" in _text(response)
    with tenant_scope(cast.org_a):
        # Whole days on the local calendar, the same time of day across a change of clocks.
        assert PrivacyRequest.objects.get().due_at == timezone.localtime(due) + timedelta(days=30)
    response = client.post(
        f"/privacy/requests/{found.pk}/reject/", {"reject-reason": "manifestly unfounded"}, follow=True
    )
    text = _text(response)
    assert "Rejected" in text and "manifestly unfounded" in text
    with tenant_scope(cast.org_a):
        assert PrivacyRequest.objects.get().status == "rejected"


def test_the_overview_panels_show_overdue_and_soon_due_requests(cast):
    late = _request(cast, email="late@example.org")
    soon = _request(cast, kind="erasure", email="soon@example.org")
    later = _request(cast, kind="portability", email="later@example.org")
    with tenant_scope(cast.org_a):
        PrivacyRequest.objects.filter(pk=late.pk).update(due_at=timezone.now() - timedelta(days=3))
        PrivacyRequest.objects.filter(pk=soon.pk).update(due_at=timezone.now() + timedelta(days=2, hours=1))
    client = web_client(cast.alice)
    text = _text(client.get("/privacy/requests/"))
    overdue_panel = text.split('id="overdue-heading"')[1].split("</section>")[0]
    soon_panel = text.split('id="due-soon-heading"')[1].split("</section>")[0]
    assert f"/privacy/requests/{late.pk}/" in overdue_panel and "overdue by 3 days" in overdue_panel
    assert f"/privacy/requests/{soon.pk}/" in soon_panel and "2 days left" in soon_panel
    assert str(later.pk) not in overdue_panel + soon_panel
    filtered = _text(client.get("/privacy/requests/?overdue=1"))
    table = filtered.split("<table>")[1]
    assert str(late.pk) in table and str(soon.pk) not in table
    by_kind = _text(client.get("/privacy/requests/?kind=portability")).split("<table>")[1]
    assert str(later.pk) in by_kind and str(late.pk) not in by_kind


def test_an_erasure_from_the_web_shows_its_preview_then_its_summary_and_the_contact_is_nameless(cast):
    contact = _contact(cast, phone="030 12345678")
    found = _request(cast, kind="erasure")
    client = web_client(cast.alice)
    client.post(f"/privacy/requests/{found.pk}/verify/", {"verify-reason": "ID card seen"})

    # The detail page leads to the preview; a POST without the confirmation erases nothing.
    detail = _text(client.get(f"/privacy/requests/{found.pk}/"))
    assert f'href="/privacy/requests/{found.pk}/complete/"' in detail
    response = client.post(f"/privacy/requests/{found.pk}/complete/")
    assert response.status_code == 200
    preview = _text(response)
    assert "What the erasure will do" in preview
    assert "Contacts: 1" in preview
    with tenant_scope(cast.org_a):
        assert Subject.objects.get(pk=contact.subject_id).state == "active"

    response = client.post(f"/privacy/requests/{found.pk}/complete/", {"confirm": "yes"}, follow=True)
    summary = _text(response)
    assert "The request is completed." in summary
    assert "Anonymised" in summary and "Contacts: 1" in summary
    assert "Kept by law" in summary
    assert "ada@example.org" not in summary
    with tenant_scope(cast.org_a):
        assert Contact.objects.get(pk=contact.pk).first_name == ""
        assert PrivacyRequest.objects.get().email == ""
    result = json.loads(client.get(f"/privacy/requests/{found.pk}/report/?format=json").content)
    assert result["kind"] == "erasure" and result["anonymised"]["crm.Contact"] == 1

    page = _text(client.get(f"/contacts/{contact.pk}/"))
    assert "Ada" not in page and "Lovelace" not in page
    assert "Erased: this person's identifying data has been removed." in page


def test_a_restricted_person_has_a_banner_and_the_restriction_is_lifted_from_the_privacy_page(cast):
    contact = _contact(cast)
    client = web_client(cast.alice)
    response = client.post(f"/privacy/subjects/{contact.subject_id}/restrict/", follow=True)
    assert "Processing restricted: stored only, no changes" in _text(response)
    assert "Processing restricted: stored only, no changes" in _text(client.get(f"/contacts/{contact.pk}/"))
    response = client.post(f"/privacy/subjects/{contact.subject_id}/lift-restriction/", follow=True)
    assert "The restriction is lifted." in _text(response)
    assert "Processing restricted" not in _text(client.get(f"/contacts/{contact.pk}/"))


def test_the_pages_of_a_restricted_persons_deal_lead_and_appointment_carry_the_banner(cast):
    """Staff see the restriction where they would try the change it refuses, not only on the
    contact's page."""
    from custos.crm.services.deals import deal_create
    from custos.crm.services.leads import lead_create

    contact = _contact(cast)
    with tenant_scope(cast.org_a):
        actor = cast.actor(cast.olive)
        deal = deal_create(actor=actor, data={"name": "Chairs", "contact": str(contact.pk)})
        lead = lead_create(actor=actor, data={"first_name": "Ben", "last_name": "Lind"})
        appointment = book_appointment(actor, contact, cast.olive)
    client = web_client(cast.olive)
    pages = [f"/deals/{deal.pk}/", f"/appointments/{appointment.pk}/", f"/leads/{lead.pk}/"]
    banner = "Processing restricted: stored only, no changes"
    assert not [page for page in pages if banner in _text(client.get(page))]

    client.post(f"/privacy/subjects/{contact.subject_id}/restrict/")
    client.post(f"/privacy/subjects/{lead.subject_id}/restrict/")

    assert [page for page in pages if banner in _text(client.get(page))] == pages


def test_a_restricted_persons_pages_offer_no_change_and_an_erased_persons_only_removal(cast):
    """The action layer refuses changes to a restricted person's records (and their deletion,
    which a restriction is often asked to prevent) and changes to an erased person's remains:
    their pages do not offer what would then be refused."""
    from custos.crm.services.activities import activity_create
    from custos.crm.services.deals import deal_create
    from custos.crm.services.leads import lead_create
    from custos.privacy.services.erasure import subject_erase

    contact = _contact(cast)
    with tenant_scope(cast.org_a):
        actor = cast.actor(cast.olive)
        deal = deal_create(actor=actor, data={"name": "Chairs", "contact": str(contact.pk)})
        appointment = book_appointment(actor, contact, cast.olive)
        lead = lead_create(actor=actor, data={"last_name": "Lovelace", "email": "ada@example.org"})
        assert lead.subject_id == contact.subject_id  # one person
        activity_create(
            actor=actor,
            data={
                "kind": "task",
                "title": "Call back",
                "contact": str(contact.pk),
                "due_at": (timezone.now() + timedelta(days=1)).isoformat(),
            },
        )
    changes = {
        f"/contacts/{contact.pk}/": [
            reverse("web:contact-edit", args=[contact.pk]),
            reverse("web:contact-activity-add", args=[contact.pk]),
            "/deals/new/?contact=",
            f"/appointments/new/?contact={contact.pk}",
            "Mark done",
        ],
        f"/deals/{deal.pk}/": [reverse("web:deal-edit", args=[deal.pk]), reverse("web:deal-move", args=[deal.pk])],
        f"/leads/{lead.pk}/": [reverse("web:lead-edit", args=[lead.pk]), reverse("web:lead-convert", args=[lead.pk])],
        f"/appointments/{appointment.pk}/": [
            reverse("web:appointment-edit", args=[appointment.pk]),
            reverse("web:appointment-status", args=[appointment.pk]),
        ],
    }
    removals = {
        f"/contacts/{contact.pk}/": [reverse("web:contact-delete", args=[contact.pk])],
        f"/deals/{deal.pk}/": [reverse("web:deal-delete", args=[deal.pk])],
        f"/leads/{lead.pk}/": [reverse("web:lead-delete", args=[lead.pk])],
        f"/appointments/{appointment.pk}/": [],  # cancelled, not deleted
    }
    client = web_client(cast.olive)

    def offered(pages=tuple(changes)):
        shown = {page: _text(client.get(page)) for page in pages}
        return {page: [c for c in [*changes[page], *removals[page]] if c in text] for page, text in shown.items()}

    assert offered() == {page: [*changes[page], *removals[page]] for page in changes}

    client.post(f"/privacy/subjects/{contact.subject_id}/restrict/")
    assert offered() == {page: [] for page in changes}

    client.post(f"/privacy/subjects/{contact.subject_id}/lift-restriction/")
    with tenant_scope(cast.org_a):
        subject_erase(actor=cast.actor(cast.alice), subject=Subject.objects.get(pk=contact.subject_id))
    appointment_page = f"/appointments/{appointment.pk}/"
    assert client.get(appointment_page).status_code == 404  # erasure deletes appointments
    assert offered([page for page in changes if page != appointment_page]) == {
        page: removal for page, removal in removals.items() if page != appointment_page
    }


def test_a_purpose_is_created_and_its_new_wording_is_version_2(cast):
    client = web_client(cast.alice)
    before = _state(cast)
    response = client.post("/privacy/purposes/new/", {"key": "Bad Key", "legal_basis": "consent"})
    text = _text(response)
    assert "Use lower-case letters" in text
    assert "Write it in at least one language." in text
    assert _state(cast) == before

    response = client.post(
        "/privacy/purposes/new/",
        {"key": "newsletter", "legal_basis": "consent", "is_marketing": "on", "name_en": "Newsletter"},
    )
    assert response.status_code == 302
    with tenant_scope(cast.org_a):
        purpose = Purpose.objects.get()
    assert (purpose.version, purpose.is_marketing, purpose.is_active) == (1, True, True)

    form = _text(client.get(f"/privacy/purposes/{purpose.pk}/"))
    assert "Version 1." in form
    response = client.post(
        f"/privacy/purposes/{purpose.pk}/",
        {
            "legal_basis": "consent",
            "is_marketing": "on",
            "is_active": "on",
            "name_en": "Newsletter",
            "name_de": "Rundbrief",
            "description_de": "Einmal im Monat.",
        },
        follow=True,
    )
    assert "saved as version 2" in _text(response)
    with tenant_scope(cast.org_a):
        purpose.refresh_from_db()
    assert purpose.version == 2
    listing = _text(client.get("/privacy/purposes/"))
    assert "Newsletter" in listing and '<td class="num">2</td>' in listing
    response = client.post(f"/privacy/purposes/{purpose.pk}/", {"legal_basis": "consent", "is_active": "on"})
    assert "Write it in at least one language." in _text(response)
    with tenant_scope(cast.org_a):
        assert Purpose.objects.get().version == 2


def test_consent_recorded_by_staff_appears_in_the_state_and_the_history(cast):
    contact = _contact(cast)
    purpose = _purpose(cast)
    client = web_client(cast.alice)
    path = f"/privacy/subjects/{contact.subject_id}/"
    response = client.post(path + "consents/", {"purpose": str(purpose.pk), "action": "given"}, follow=True)
    text = _text(response)
    assert "The consent is recorded." in text
    history = text.split('class="consent-history"')[1].split("</table>")[0]
    assert "Newsletter" in history and "Staff" in history and "Given" in history
    state = text.split('id="consent-heading"')[1].split("</table>")[0]
    assert "given" in state
    with tenant_scope(cast.org_a):
        event = ConsentEvent.objects.get()
    assert (event.source, event.recorded_by_id, event.text_shown) == ("staff", cast.alice.pk, "Newsletter")

    response = client.post(path + "consents/", {"purpose": str(purpose.pk), "action": "withdrawn"}, follow=True)
    text = _text(response)
    assert "withdrawn" in text.split('id="consent-heading"')[1].split("</table>")[0]
    with tenant_scope(cast.org_a):
        assert ConsentEvent.objects.count() == 2

    before = _state(cast)
    response = client.post(path + "consents/", {"purpose": "nonsense", "action": "given"})
    assert "Select a valid choice" in _text(response)
    assert _state(cast) == before


@pytest.mark.parametrize("kind", ["restriction", "objection"])
def test_other_kinds_are_answered_with_a_readable_summary(cast, kind):
    contact = _contact(cast)
    found = _request(cast, kind=kind)
    client = web_client(cast.alice)
    client.post(f"/privacy/requests/{found.pk}/verify/", {"verify-reason": "known caller"})
    text = _text(client.post(f"/privacy/requests/{found.pk}/complete/", follow=True))
    expected = {
        "restriction": "Processing of the person's data is restricted",
        "objection": "The objection to direct marketing is recorded",
    }[kind]
    assert expected in text
    assert f"/privacy/requests/{found.pk}/report/?format=json" in text
    with tenant_scope(cast.org_a):
        state = Subject.objects.get(pk=contact.subject_id).state
    assert state == ("restricted" if kind == "restriction" else "active")
