"""Staff hand out, mail and revoke privacy portal links from a person's privacy page, and set
what the portal shows and lets the person correct on the privacy settings page."""

import html
import re

from django.test import Client

from custos.audit.models import AuditEntry
from custos.core.tenancy import tenant_scope
from custos.crm.services.people import contact_create
from custos.privacy.models import PortalLink, PrivacySettings
from custos.testing import run_tasks, web_client

PORTAL = "/privacy/portal"


def _text(response, status=200):
    assert response.status_code == status, response.status_code
    return html.unescape(response.content.decode())


def _contact(cast, email="greta@example.org"):
    with tenant_scope(cast.org_a):
        return contact_create(
            actor=cast.actor(cast.olive),
            data={"first_name": "Greta", "last_name": "Lindqvist", "email": email, "phone": "+49 30 1234567"},
        )


def _state(cast):
    with tenant_scope(cast.org_a):
        return {
            "links": list(PortalLink.objects.order_by("pk").values()),
            "settings": list(PrivacySettings.objects.values()),
            "audit": AuditEntry.objects.count(),
        }


def test_staff_create_a_link_to_hand_out_see_it_once_and_it_opens_the_portal(cast):
    contact = _contact(cast)
    client = web_client(cast.alice)
    page = _text(client.get(f"/privacy/subjects/{contact.subject_id}/"))
    assert "No active portal links." in page
    assert 'name="days" value="7"' in page  # the organisation's default

    response = client.post(
        f"/privacy/subjects/{contact.subject_id}/portal-links/", {"days": "3", "language": "de", "action": "show"}
    )

    text = _text(response)
    [url] = re.findall(r'value="(http://[^"]+/privacy/portal/l/[^"]+/)"', text)
    secret = url.rstrip("/").rsplit("/", 1)[1]
    assert "no-store" in response["Cache-Control"]
    with tenant_scope(cast.org_a):
        link = PortalLink.objects.get()
        assert (link.language, link.created_by_id, (link.expires_at - link.created_at).days) == ("de", cast.alice.pk, 3)
        assert secret not in link.digest
        entry = AuditEntry.objects.get(action="portal_link.create")
        assert secret not in str(entry.extra) and entry.extra["days"] == 3
    # Never shown again: the page lists the link without its secret.
    again = _text(client.get(f"/privacy/subjects/{contact.subject_id}/"))
    assert secret not in again and "No active portal links." not in again

    visitor = Client()
    assert visitor.get("/" + url.split("://", 1)[1].split("/", 1)[1]).status_code == 302
    assert "Greta" in visitor.get(f"{PORTAL}/me/").content.decode()


def test_staff_mail_a_link_to_the_address_on_record_and_never_see_its_secret(cast, smtp_server):
    contact = _contact(cast)
    client = web_client(cast.alice)

    response = client.post(
        f"/privacy/subjects/{contact.subject_id}/portal-links/",
        {"days": "", "language": "en", "action": "email"},
        follow=True,
    )

    page = _text(response)
    assert "being mailed" in page
    assert "/privacy/portal/l/" not in page
    run_tasks()
    [mail] = smtp_server.sent_to("greta@example.org")
    [link_url] = re.findall(r"http://\S+/privacy/portal/l/\S+/", mail.get_content())
    secret = link_url.rstrip("/").rsplit("/", 1)[1]
    with tenant_scope(cast.org_a):
        link = PortalLink.objects.get()
        assert link.created_by_id == cast.alice.pk and (link.expires_at - link.created_at).days == 7
        from django_tasks_db.models import DBTaskResult

        assert secret not in str(list(DBTaskResult.objects.values_list("args_kwargs", flat=True)))
        assert secret not in str(list(AuditEntry.objects.values_list("extra", flat=True)))


def test_a_bad_validity_is_named_and_a_person_without_email_gets_a_clear_error(cast):
    contact = _contact(cast)
    with tenant_scope(cast.org_a):
        nameless = contact_create(actor=cast.actor(cast.olive), data={"first_name": "Hans", "last_name": "Ohne"})
    client = web_client(cast.alice)
    before = _state(cast)

    too_long = client.post(
        f"/privacy/subjects/{contact.subject_id}/portal-links/", {"days": "365", "language": "en", "action": "show"}
    )
    no_email = client.post(
        f"/privacy/subjects/{nameless.subject_id}/portal-links/", {"days": "7", "language": "en", "action": "email"}
    )

    assert "Enter a number from 1 to 90." in _text(too_long, 422)
    assert "There is no email address on record for this person." in _text(no_email, 422)
    assert _state(cast) == before


def test_staff_revoke_a_link_and_it_stops_working_at_once(cast):
    contact = _contact(cast)
    client = web_client(cast.alice)
    text = _text(client.post(f"/privacy/subjects/{contact.subject_id}/portal-links/", {"days": "7", "language": "en"}))
    [url] = re.findall(r'value="http://[^/"]+(/privacy/portal/l/[^"]+/)"', text)
    visitor = Client()
    visitor.get(url)
    with tenant_scope(cast.org_a):
        link = PortalLink.objects.get()

    response = client.post(
        f"/privacy/subjects/{contact.subject_id}/portal-links/revoke/", {"link": str(link.pk)}, follow=True
    )

    assert "The portal link is revoked" in _text(response)
    assert "No active portal links." in _text(response)
    assert visitor.get(f"{PORTAL}/me/").status_code == 410
    with tenant_scope(cast.org_a):
        assert AuditEntry.objects.filter(action="portal_link.revoke", object_id=str(contact.subject_id)).count() == 1


def test_portal_links_are_for_those_who_may_change_requests_in_their_own_organisation(cast):
    contact = _contact(cast)
    other = _contact(cast, email="hans@example.org")
    alice = web_client(cast.alice)
    text = _text(alice.post(f"/privacy/subjects/{contact.subject_id}/portal-links/", {"days": "7", "language": "en"}))
    assert "/privacy/portal/l/" in text
    with tenant_scope(cast.org_a):
        link = PortalLink.objects.get()
    before = _state(cast)
    create = f"/privacy/subjects/{contact.subject_id}/portal-links/"
    revoke = f"/privacy/subjects/{contact.subject_id}/portal-links/revoke/"

    assert Client().post(create, {"days": "7", "language": "en"}).status_code == 302  # to sign-in
    bob = web_client(cast.bob)  # read-only
    assert bob.post(create, {"days": "7", "language": "en"}).status_code == 403
    assert bob.post(revoke, {"link": str(link.pk)}).status_code == 403
    sam = web_client(cast.sam)  # sales: may add requests, not change them
    assert sam.post(create, {"days": "7", "language": "en", "action": "email"}).status_code == 403
    mallory = web_client(cast.mallory)
    assert mallory.post(create, {"days": "7", "language": "en"}).status_code == 404
    assert mallory.post(revoke, {"link": str(link.pk)}).status_code == 404
    # A link belongs to its person: it cannot be revoked through someone else's page.
    assert (
        alice.post(f"/privacy/subjects/{other.subject_id}/portal-links/revoke/", {"link": str(link.pk)}).status_code
        == 404
    )
    assert alice.post(revoke, {"link": "not-an-id"}).status_code == 404

    assert _state(cast) == before


# Privacy settings ----------------------------------------------------------------------


def test_the_settings_page_changes_what_the_portal_shows_and_lets_the_person_correct(cast):
    contact = _contact(cast)
    client = web_client(cast.alice)
    page = _text(client.get("/privacy/settings/"))
    assert "Data the portal shows the person" in page
    assert 'href="/privacy/settings/"' in _text(client.get("/privacy/requests/"))

    response = client.post(
        "/privacy/settings/",
        {
            "request_days": "30",
            "reminder_days": "7",
            "portal_link_days": "14",
            "request_keep_years": "3",
            "inform_recipients": "on",
            "portal_visible": ["identity", "special"],
            "portal_editable": ["identity"],
        },
        follow=True,
    )

    assert "The privacy settings are saved." in _text(response)
    with tenant_scope(cast.org_a):
        saved = PrivacySettings.objects.get()
        assert (saved.portal_link_days, saved.inform_recipients) == (14, True)
        assert (saved.portal_visible, saved.portal_editable) == (["identity", "special"], ["identity"])
        entry = AuditEntry.objects.get(action="privacy_settings.update")
        assert entry.fields == ["inform_recipients", "portal_editable", "portal_link_days", "portal_visible"]
    text = _text(client.post(f"/privacy/subjects/{contact.subject_id}/portal-links/", {"days": "", "language": "en"}))
    [url] = re.findall(r'value="http://[^/"]+(/privacy/portal/l/[^"]+/)"', text)
    visitor = Client()
    visitor.get(url)
    data = visitor.get(f"{PORTAL}/me/").content.decode()
    assert "Greta" in data
    assert "greta@example.org" not in data and "1234567" not in data  # contact details hidden
    assert "Some kinds of data are not shown here." in html.unescape(data)
    correct = visitor.get(f"{PORTAL}/me/correct/").content.decode()
    assert 'name="first_name"' in correct and 'name="phone"' not in correct
    # A field the person may not correct is ignored even when posted.
    visitor.post(f"{PORTAL}/me/correct/", {"first_name": "Greta", "phone": "+49 30 9999999"})
    with tenant_scope(cast.org_a):
        link = PortalLink.objects.get()
        assert (link.expires_at - link.created_at).days == 14
        contact.refresh_from_db()
        assert contact.phone == "+49301234567"
    exported = visitor.get(f"{PORTAL}/me/export/json/").content.decode()
    assert "Greta" in exported and "greta@example.org" not in exported


def test_bad_settings_are_named_and_change_nothing_and_only_officers_may_change_them(cast):
    client = web_client(cast.alice)
    before = _state(cast)
    response = client.post(
        "/privacy/settings/",
        {
            "request_days": "60",
            "reminder_days": "7",
            "portal_link_days": "7",
            "portal_visible": ["identity"],
            "portal_editable": ["identity", "contact"],
        },
    )
    text = _text(response, 422)
    assert "Enter a number from 1 to 31." in text
    assert "The person can only correct data the portal shows them." in text
    assert _state(cast) == before

    valid = {"request_days": "30", "reminder_days": "7", "portal_link_days": "7"}
    assert web_client(cast.bob).get("/privacy/settings/").status_code == 403
    assert web_client(cast.bob).post("/privacy/settings/", valid).status_code == 403
    support = web_client(cast.sam)
    assert support.post("/privacy/settings/", valid).status_code == 403
    assert _state(cast) == before
