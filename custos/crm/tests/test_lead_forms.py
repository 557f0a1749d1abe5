"""Web-to-lead forms: a visitor's submission becomes a scored, assigned lead with consent proof."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from custos.accounts.models import ThrottleCounter
from custos.audit.models import AuditEntry
from custos.core.tenancy import tenant_scope
from custos.crm.models import Lead, LeadForm, LeadFormSubmission
from custos.crm.services.forms import SUBMISSIONS_PER_ADDRESS, lead_form_create, lead_form_update
from custos.crm.services.rules import assignment_rule_create, scoring_rule_create
from custos.privacy.models import ConsentEvent, Purpose
from custos.privacy.services.consent import consent_states, purpose_create, purpose_update
from custos.testing import run_tasks


def _setup(cast):
    """A contact form with a marketing purpose and a plain one, the rules that score and assign."""
    admin = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        newsletter = purpose_create(
            actor=admin,
            data={
                "key": "newsletter",
                "legal_basis": "consent",
                "is_marketing": True,
                "names": {"en": "Newsletter", "de": "Rundbrief"},
                "descriptions": {"en": "Monthly news by email.", "de": "Monatliche Neuigkeiten per E-Mail."},
            },
        )
        callback = purpose_create(
            actor=admin,
            data={"key": "callback", "legal_basis": "consent", "names": {"en": "Call me back", "de": "Rückruf"}},
        )
        scoring_rule_create(actor=admin, data={"name": "Form", "condition": "came_from_form", "points": 10})
        scoring_rule_create(actor=admin, data={"name": "Fair", "condition": "tag", "value": "fair", "points": 5})
        assignment_rule_create(actor=admin, data={"name": "Everyone", "reps": [str(cast.sam.pk)]})
        form = lead_form_create(
            actor=admin,
            data={
                "name": "Contact us",
                "fields": [
                    {"name": "first_name", "required": False},
                    {"name": "last_name", "required": True},
                    {"name": "email", "required": True},
                    {"name": "company_name", "required": False},
                ],
                "purposes": [str(newsletter.pk), str(callback.pk)],
                "thank_you": {"en": "Thanks, we call you soon.", "de": "Danke, wir melden uns."},
                "tags": ["fair"],
            },
        )
    return form, newsletter, callback


def _url(form: LeadForm, language: str = "") -> str:
    return f"/forms/{form.public_key}/" + (f"?language={language}" if language else "")


def _post(client: Client, form: LeadForm, language: str = "en", **data):
    body = {"first_name": "Ines", "last_name": "Lind", "email": "ines@example.org", "language": language}
    return client.post(_url(form), {**body, **data}, REMOTE_ADDR="203.0.113.7", HTTP_USER_AGENT="Firefox/140")


def test_a_submission_becomes_a_scored_assigned_lead_with_consent_proof(cast):
    form, _newsletter, callback = _setup(cast)
    response = _post(Client(), form, purposes=[str(callback.pk)])
    assert response.status_code == 302
    assert response["Location"] == f"/forms/{form.public_key}/thanks/?language=en"
    assert "Thanks, we call you soon." in Client().get(response["Location"]).content.decode()
    with tenant_scope(cast.org_a):
        lead = Lead.objects.get(email="ines@example.org")
        assert lead.source == Lead.Source.WEB_FORM
        assert (lead.first_name, lead.last_name, lead.tags) == ("Ines", "Lind", ["fair"])
        assert lead.score == 15
        assert {r["name"] for r in lead.score_reasons} == {"Form", "Fair"}
        assert lead.owner_id == cast.sam.pk and lead.assigned_because == Lead.AssignedBecause.NEXT_IN_TURN
        [event] = ConsentEvent.objects.filter(subject=lead.subject)
        assert event.purpose == callback and event.purpose_version == 1
        assert (event.source, event.ip, event.user_agent) == ("web_form", "203.0.113.7", "Firefox/140")
        assert event.text_shown == "Call me back"
        assert event.form == f"{form.pk} Contact us"
        assert not event.requires_confirmation
        submission = LeadFormSubmission.objects.get(form=form)
        assert (submission.lead, submission.ip) == (lead, "203.0.113.7")
        actions = list(AuditEntry.objects.filter(org=cast.org_a).values_list("action", flat=True))
        assert {"lead.create", "lead.assign", "consent.given", "lead_form.submit"} <= set(actions)


def test_the_proof_keeps_the_text_shown_at_its_version_in_the_visitors_language(cast):
    form, _newsletter, callback = _setup(cast)
    with tenant_scope(cast.org_a):
        purpose_update(actor=cast.actor(cast.alice), purpose=callback, data={"names": {"de": "Bitte zurückrufen"}})
    page = Client().get(_url(form, "de")).content.decode()
    assert "Bitte zurückrufen" in page and 'lang="de"' in page
    assert _post(Client(), form, language="de", purposes=[str(callback.pk)]).status_code == 302
    with tenant_scope(cast.org_a):
        event = ConsentEvent.objects.get(purpose=callback)
        assert (event.purpose_version, event.text_shown) == (2, "Bitte zurückrufen")


def test_a_consent_reworded_while_the_form_was_open_is_read_again_before_it_counts(cast):
    """The proof must hold the text the visitor saw, not the one that replaced it meanwhile."""
    form, _newsletter, callback = _setup(cast)
    page = Client().get(_url(form)).content.decode()
    [shown] = re.findall(rf'name="shown" value="({callback.pk}:\d+)"', page)
    with tenant_scope(cast.org_a):
        purpose_update(actor=cast.actor(cast.alice), purpose=callback, data={"names": {"en": "Call me and partners"}})

    again = _post(Client(), form, purposes=[str(callback.pk)], shown=[shown])
    body = again.content.decode()

    assert again.status_code == 422
    assert "please read it again" in body and "Call me and partners" in body
    assert f'value="{callback.pk}" checked' not in body  # to be ticked anew, once read
    with tenant_scope(cast.org_a):
        assert not ConsentEvent.objects.filter(purpose=callback).exists()
        assert not Lead.objects.exists()
    shown_now = re.findall(rf'name="shown" value="({callback.pk}:\d+)"', body)
    assert _post(Client(), form, purposes=[str(callback.pk)], shown=shown_now).status_code == 302


def test_an_error_on_a_field_the_form_does_not_ask_for_is_shown_all_the_same(cast):
    """A purpose made a marketing one after the form was built needs an email it cannot take."""
    form, _newsletter, callback = _setup(cast)
    admin = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        lead_form_update(
            actor=admin,
            form=form,
            data={"fields": [{"name": "last_name", "required": True}], "purposes": [str(callback.pk)]},
        )
        purpose_update(actor=admin, purpose=callback, data={"is_marketing": True})

    response = _post(Client(), form, purposes=[str(callback.pk)])

    assert response.status_code == 422
    assert "Enter your email address" in response.content.decode()


def test_an_interest_written_on_several_lines_is_taken(cast):
    """The hosted form asks for the interest in a textarea; browsers send its lines as CR LF."""
    form, *_ = _setup(cast)
    with tenant_scope(cast.org_a):
        lead_form_update(
            actor=cast.actor(cast.alice),
            form=form,
            data={"fields": [*form.fields, {"name": "interest", "required": False}]},
        )

    response = _post(Client(), form, interest="Implants\r\nand a second opinion")

    assert response.status_code == 302
    with tenant_scope(cast.org_a):
        assert Lead.objects.get().interest == "Implants\r\nand a second opinion"


def test_the_honeypot_answers_like_success_and_stores_nothing(cast):
    form, *_ = _setup(cast)
    response = _post(Client(), form, website="http://spam.example")
    assert response.status_code == 302 and "/thanks/" in response["Location"]
    with tenant_scope(cast.org_a):
        assert not Lead.objects.exists()
        assert not ConsentEvent.objects.exists()
        assert not LeadFormSubmission.objects.exists()


def test_too_many_submissions_from_one_address_get_429(cast):
    form, *_ = _setup(cast)
    client = Client()
    for number in range(SUBMISSIONS_PER_ADDRESS):
        assert _post(client, form, email=f"p{number}@example.org").status_code == 302
    response = _post(client, form, email="one.more@example.org")
    assert response.status_code == 429
    assert "Too many submissions" in response.content.decode()
    with tenant_scope(cast.org_a):
        assert Lead.objects.count() == SUBMISSIONS_PER_ADDRESS
    # The counter is a keyed hash: it holds no address.
    assert not ThrottleCounter.objects.filter(key__contains="203.0.113.7").exists()
    # Another address is not held back.
    other = client.post(_url(form), {"last_name": "Other", "email": "other@example.org"}, REMOTE_ADDR="198.51.100.2")
    assert other.status_code == 302


def test_an_ipv6_network_counts_as_one_address(cast):
    """Anyone given a /64 can take a new address in it for every submission."""
    form, *_ = _setup(cast)
    client = Client()
    answers = [
        client.post(
            _url(form), {"last_name": f"L{n}", "email": f"p{n}@example.org"}, REMOTE_ADDR=f"2001:db8:1:2::{n + 1:x}"
        ).status_code
        for n in range(SUBMISSIONS_PER_ADDRESS + 1)
    ]
    other = client.post(_url(form), {"last_name": "Other", "email": "o@example.org"}, REMOTE_ADDR="2001:db8:1:3::1")

    assert answers == [302] * SUBMISSIONS_PER_ADDRESS + [429]
    assert other.status_code == 302


def test_an_invalid_email_is_a_field_error_in_the_visitors_language_and_stores_nothing(cast):
    form, newsletter, _callback = _setup(cast)
    response = _post(Client(), form, language="de", email="not-an-address", last_name="", purposes=[str(newsletter.pk)])
    assert response.status_code == 422
    page = response.content.decode()
    assert "Geben Sie eine gültige E-Mail-Adresse ein." in page
    assert "Dieses Feld ist erforderlich." in page
    assert 'value="not-an-address"' in page  # what was typed stays
    with tenant_scope(cast.org_a):
        assert not Lead.objects.exists()
        assert not ConsentEvent.objects.exists()
        assert not LeadFormSubmission.objects.exists()


def test_marketing_consent_is_confirmed_by_the_mailed_link(cast, smtp_server):
    form, newsletter, _callback = _setup(cast)
    assert _post(Client(), form, language="de", purposes=[str(newsletter.pk)]).status_code == 302
    with tenant_scope(cast.org_a):
        lead = Lead.objects.get()
        event = ConsentEvent.objects.get(purpose=newsletter)
        assert event.requires_confirmation and event.confirmed_at is None
        assert event.text_shown == "Rundbrief\n\nMonatliche Neuigkeiten per E-Mail."
        [state] = [s for s in consent_states(lead.subject) if s.purpose == newsletter]
        assert state.status == "pending"
    run_tasks()
    [mail] = smtp_server.sent_to("ines@example.org")
    body = mail.get_content()
    assert "Rundbrief" in body  # the purpose named in the visitor's language
    [link] = re.findall(r"http://\S+/forms/confirm/\S+/", body)
    path = link.split("://", 1)[1].split("/", 1)[1]
    # The secret is nowhere at rest: only its digest is stored.
    secret = path.rstrip("/").rsplit(".", 1)[1]
    with tenant_scope(cast.org_a):
        assert not ConsentEvent.objects.filter(confirmation_digest=secret).exists()
        assert secret not in str(list(AuditEntry.objects.values_list("extra", flat=True)))
    visitor = Client()
    response = visitor.get("/" + path)  # a mail scanner following the link confirms nothing
    assert response.status_code == 200
    with tenant_scope(cast.org_a):
        event.refresh_from_db()
        assert event.confirmed_at is None
    response = visitor.post("/" + path)  # the person's click does
    assert response.status_code == 200
    with tenant_scope(cast.org_a):
        event.refresh_from_db()
        assert event.confirmed_at is not None
        [state] = [s for s in consent_states(lead.subject) if s.purpose == newsletter]
        assert state.granted
    assert Client().get(f"/forms/confirm/{form.public_key}.not-the-secret/").status_code == 404
    assert Client().get("/forms/confirm/nothing/").status_code == 404


def _links(smtp_server, count):
    """The paths of the confirmation links mailed so far."""
    run_tasks()
    bodies = [m.get_content() for m in smtp_server.wait_for(count)]
    links = [re.findall(r"http://\S+/forms/confirm/\S+/", body)[0] for body in bodies]
    return [link.split("://", 1)[1].split("/", 1)[1] for link in links]


def _newsletter_state(cast, newsletter):
    with tenant_scope(cast.org_a):
        subject = Lead.objects.order_by("created_at").first().subject
        return next(s.status for s in consent_states(subject) if s.purpose == newsletter)


def test_a_confirmed_consent_is_not_undone_by_someone_submitting_the_address_again(cast, smtp_server):
    """Anyone may type a person's address into a public form: only the person's click counts."""
    form, newsletter, _callback = _setup(cast)
    _post(Client(), form, purposes=[str(newsletter.pk)])
    [first] = _links(smtp_server, 1)
    Client().post("/" + first)
    _post(Client(), form, purposes=[str(newsletter.pk)])  # a stranger, or the person again

    assert _newsletter_state(cast, newsletter) == "given"


def test_the_older_of_two_mailed_links_confirms_too(cast, smtp_server):
    form, newsletter, _callback = _setup(cast)
    _post(Client(), form, purposes=[str(newsletter.pk)])
    _post(Client(), form, purposes=[str(newsletter.pk)])
    first, _second = _links(smtp_server, 2)

    response = Client().post("/" + first)

    assert response.status_code == 200
    assert _newsletter_state(cast, newsletter) == "given"


def test_a_link_confirms_after_its_form_is_deleted_but_not_after_the_persons_erasure(cast, smtp_server):
    from custos.crm.services.forms import lead_form_delete
    from custos.privacy.services.erasure import subject_erase

    form, newsletter, _callback = _setup(cast)
    _post(Client(), form, purposes=[str(newsletter.pk)])
    _post(Client(), form, purposes=[str(newsletter.pk)], email="other@example.org", last_name="Other")
    ines_link, other_link = _links(smtp_server, 2)
    with tenant_scope(cast.org_a):
        lead_form_delete(actor=cast.actor(cast.alice), form=form)
        other = Lead.objects.get(email="other@example.org")
        subject_erase(actor=cast.actor(cast.alice), subject=other.subject)

    assert Client().post("/" + ines_link).status_code == 200
    assert _newsletter_state(cast, newsletter) == "given"
    assert Client().get("/" + other_link).status_code == 404
    assert Client().post("/" + other_link).status_code == 404
    with tenant_scope(cast.org_a):
        assert not ConsentEvent.objects.filter(subject=other.subject).exclude(confirmation_digest="").exists()


def test_a_link_confirms_for_30_days(cast, smtp_server):
    from datetime import timedelta

    from django.utils import timezone

    form, newsletter, _callback = _setup(cast)
    _post(Client(), form, purposes=[str(newsletter.pk)])
    [link] = _links(smtp_server, 1)
    with tenant_scope(cast.org_a):
        ConsentEvent.objects.update(occurred_at=timezone.now() - timedelta(days=31))

    assert Client().post("/" + link).status_code == 404
    assert _newsletter_state(cast, newsletter) == "none"  # nothing waits any more


def test_a_link_no_longer_confirms_what_the_person_refused_since(cast, smtp_server):
    from custos.privacy.services.consent import Proof, consent_withdraw

    form, newsletter, _callback = _setup(cast)
    _post(Client(), form, purposes=[str(newsletter.pk)])
    [link] = _links(smtp_server, 1)
    with tenant_scope(cast.org_a):
        subject = Lead.objects.get().subject
        consent_withdraw(actor=cast.actor(cast.alice), subject=subject, purpose=newsletter, proof=Proof("portal"))

    assert Client().post("/" + link).status_code == 404
    assert _newsletter_state(cast, newsletter) == "withdrawn"


def test_the_hosted_form_may_be_framed_by_any_site_but_nothing_else_may(cast):
    form, *_ = _setup(cast)
    response = Client().get(_url(form))
    assert response.status_code == 200
    assert "X-Frame-Options" not in response
    assert "frame-ancestors *" in response["Content-Security-Policy"]
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in Client().get("/login/")["Content-Security-Policy"]


def test_an_inactive_or_unknown_form_is_not_found(cast):
    form, *_ = _setup(cast)
    with tenant_scope(cast.org_a):
        lead_form_update(actor=cast.actor(cast.alice), form=form, data={"is_active": False})
    assert Client().get(_url(form)).status_code == 404
    assert Client().get("/forms/unknown-key/").status_code == 404


def test_a_closed_form_says_so_inside_the_frame_in_the_visitors_language(cast):
    """The embedding site still frames the page: the staff 404 (framing denied) would be a browser error there."""
    from custos.crm.services.forms import lead_form_delete

    form, *_ = _setup(cast)
    with tenant_scope(cast.org_a):
        lead_form_update(actor=cast.actor(cast.alice), form=form, data={"is_active": False})
    thanks = f"/forms/{form.public_key}/thanks/?language=de"
    answers = [Client().get(_url(form, "de")), Client().get(thanks), _post(Client(), form, language="de")]
    with tenant_scope(cast.org_a):
        lead_form_delete(actor=cast.actor(cast.alice), form=form)
    answers += [Client().get(_url(form, "de")), Client().get(thanks)]

    for response in answers:
        assert response.status_code == 404
        assert "X-Frame-Options" not in response
        assert "frame-ancestors *" in response["Content-Security-Policy"]
        assert response["Content-Language"] == "de"
        page = response.content.decode()
        assert '<html lang="de"' in page and "<h1>" in page
        assert 'class="narrow lead-form-public"' in page and "<nav" not in page  # not the staff layout
    with tenant_scope(cast.org_a):
        assert not Lead.objects.exists()


def test_a_form_asking_marketing_consent_must_require_the_email(cast, as_tenant):
    from custos.core.errors import ValidationFailed

    admin = cast.actor(cast.alice)
    marketing = purpose_create(
        actor=admin, data={"key": "offers", "legal_basis": "consent", "is_marketing": True, "names": {"en": "Offers"}}
    )
    with pytest.raises(ValidationFailed) as raised:
        lead_form_create(
            actor=admin,
            data={
                "name": "No mail",
                "fields": [{"name": "last_name", "required": True}],
                "purposes": [str(marketing.pk)],
            },
        )
    assert raised.value.errors[0].field == "fields"
    assert not LeadForm.objects.exists()
    assert Purpose.objects.count() == 1


def test_a_form_that_requires_nothing_a_lead_needs_is_refused(cast, as_tenant):
    """Every submission of it would be refused for a name, email or company it never shows."""
    from custos.core.errors import ValidationFailed

    admin = cast.actor(cast.alice)
    with pytest.raises(ValidationFailed) as raised:
        lead_form_create(
            actor=admin,
            data={
                "name": "Call me",
                "fields": [{"name": "phone", "required": True}, {"name": "interest", "required": True}],
            },
        )
    assert [(e.field, e.message) for e in raised.value.errors] == [
        (
            "fields",
            "Ask for the first name, the last name, the email address or the company, as required: "
            "a lead needs one of them.",
        )
    ]
    assert not LeadForm.objects.exists()

    form = lead_form_create(actor=admin, data={"name": "Call me", "fields": [{"name": "email", "required": True}]})
    with pytest.raises(ValidationFailed):
        lead_form_update(actor=admin, form=form, data={"fields": [{"name": "email", "required": False}]})
    # A form saved before the rule may still be switched off, but not on, as it stands.
    LeadForm.objects.filter(pk=form.pk).update(fields=[{"name": "phone", "required": True}])
    form.refresh_from_db()
    lead_form_update(actor=admin, form=form, data={"is_active": False})
    with pytest.raises(ValidationFailed):
        lead_form_update(actor=admin, form=form, data={"is_active": True})
    form.refresh_from_db()
    assert (form.fields, form.is_active) == ([{"name": "phone", "required": True}], False)


def test_a_submission_is_found_from_its_person_and_erased_with_them(cast):
    from custos.privacy.registry import records_of
    from custos.privacy.services.erasure import subject_erase

    form, _newsletter, callback = _setup(cast)
    assert _post(Client(), form, purposes=[str(callback.pk)]).status_code == 302
    with tenant_scope(cast.org_a):
        lead = Lead.objects.get()
        found = {r.declaration.model._meta.label: list(r.queryset) for r in records_of(lead.subject)}
        assert found["crm.LeadFormSubmission"] == [LeadFormSubmission.objects.get()]
        subject_erase(actor=cast.actor(cast.olive), subject=lead.subject)
        assert not LeadFormSubmission.objects.exists()
        assert ConsentEvent.objects.get().ip is None  # the proof stays, the address goes


def test_a_restricted_persons_address_is_answered_like_any_other_and_stores_nothing(cast):
    from custos.crm.services.people import contact_create
    from custos.privacy.services.restriction import subject_restrict

    form, _newsletter, _callback = _setup(cast)
    with tenant_scope(cast.org_a):
        greta = contact_create(actor=cast.actor(cast.alice), data={"first_name": "Greta", "email": "greta@example.org"})
        subject_restrict(actor=cast.actor(cast.alice), subject=greta.subject)
        before = Lead.objects.count()

    response = Client().post(_url(form), {"email": "greta@example.org", "last_name": "Lind"})

    assert response.status_code == 302
    assert "/thanks/" in response["Location"]
    with tenant_scope(cast.org_a):
        assert Lead.objects.count() == before
