"""A contact's or lead's page shows the person's consents and objections at a glance, to those who may see them."""

import html

from custos.core.tenancy import tenant_scope
from custos.crm.services.people import contact_create
from custos.privacy.models import Subject
from custos.privacy.services.consent import Proof, consent_give, purpose_create, purpose_update
from custos.testing import web_client


def test_the_contact_page_says_who_consented_to_what_and_who_objected(cast):
    actor = cast.actor(cast.olive)
    with tenant_scope(cast.org_a):
        news, _survey, retired = (
            purpose_create(actor=actor, data={"key": key, "legal_basis": "consent", "names": {"en": name, "de": de}})
            for key, name, de in (
                ("newsletter", "Newsletter", "Rundbrief"),
                ("survey", "Satisfaction survey", "Umfrage"),
                ("fax", "Fax offers", "Faxangebote"),
            )
        )
        purpose_update(actor=actor, purpose=retired, data={"is_active": False})
        contact = contact_create(actor=actor, data={"first_name": "Ada", "email": "ada@example.org"})
        consent_give(
            actor=actor, subject=contact.subject, purpose=news, proof=Proof(source="staff", text_shown="Newsletter")
        )
        Subject.objects.filter(pk=contact.subject_id).update(objected_to_profiling_at="2026-01-02T03:04:05Z")

    page = html.unescape(web_client(cast.alice).get(f"/contacts/{contact.pk}/").content.decode())
    section = page.split('id="privacy-heading"')[1].split("</section>")[0]
    german = html.unescape(
        web_client(cast.alice).get(f"/contacts/{contact.pk}/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    )

    assert '<dt>Newsletter</dt><dd><span class="badge ok">given</span></dd>' in section
    assert '<dt>Satisfaction survey</dt><dd><span class="muted">none</span></dd>' in section
    assert "Fax offers" not in section  # no longer in use
    assert "Objected to profiling" in section and "Objected to direct marketing" not in section
    assert "Rundbrief" in german.split('id="privacy-heading"')[1]
    # The read-only role is not shown the consent ledger (consent.view).
    accountant = web_client(cast.bob).get(f"/contacts/{contact.pk}/").content.decode()
    assert "Newsletter" not in accountant and "Objected to profiling" not in accountant


def test_a_web_form_lead_shows_its_consent_and_links_to_the_privacy_page(cast):
    from custos.crm.services.leads import lead_create

    actor = cast.actor(cast.olive)
    with tenant_scope(cast.org_a):
        data = {"key": "newsletter", "legal_basis": "consent", "names": {"en": "News"}}
        news = purpose_create(actor=actor, data=data)
        lead = lead_create(actor=actor, data={"first_name": "Lena", "email": "lena@example.org"})
        consent_give(actor=actor, subject=lead.subject, purpose=news, proof=Proof(source="web_form"))

    page = html.unescape(web_client(cast.alice).get(f"/leads/{lead.pk}/").content.decode())
    section = page.split('id="privacy-heading"')[1].split("</section>")[0]

    assert '<dt>News</dt><dd><span class="badge ok">given</span></dd>' in section
    assert f'href="/privacy/subjects/{lead.subject_id}/"' in section
