"""Retention pages: policies with their counts, a preview before enabling, runs, and legal holds."""

import html
from datetime import timedelta

from django.utils import timezone

from custos.audit.models import AuditEntry
from custos.core.tenancy import tenant_scope
from custos.crm.models import Contact
from custos.crm.services.people import contact_create
from custos.privacy.models import LegalHold, RetentionPolicy, RetentionRun, Subject
from custos.privacy.services.retention import retention_policy_create
from custos.testing import web_client


def _text(response):
    assert response.status_code == 200, response.status_code
    return html.unescape(response.content.decode())


def _idle_contact(cast, email, days=400):
    with tenant_scope(cast.org_a):
        contact = contact_create(actor=cast.actor(cast.olive), data={"last_name": "Idle", "email": email})
        then = timezone.now() - timedelta(days=days)
        Contact.objects.filter(pk=contact.pk).update(created_at=then, updated_at=then)
        return Contact.objects.get(pk=contact.pk)


def _policy(cast, **data):
    with tenant_scope(cast.org_a):
        return retention_policy_create(
            actor=cast.actor(cast.olive),
            data={"key": "contact.inactive", "condition": "inactive", "days": 365, "action": "anonymise"} | data,
        )


def _state(cast):
    with tenant_scope(cast.org_a):
        return {
            "policies": list(RetentionPolicy.objects.order_by("pk").values()),
            "runs": list(RetentionRun.objects.order_by("pk").values()),
            "holds": list(LegalHold.objects.order_by("pk").values()),
            "contacts": list(Contact.objects.order_by("pk").values_list("pk", "email")),
            "audit": AuditEntry.objects.count(),
        }


def test_a_policy_is_created_previewed_enabled_and_run_from_the_pages(cast):
    due = _idle_contact(cast, "due@example.org")
    client = web_client(cast.alice)
    page = _text(client.get("/"))
    assert 'href="/privacy/retention/"' in page

    form = _text(client.get("/privacy/retention/new/"))
    assert "Contacts (contact.inactive)" in form
    response = client.post(
        "/privacy/retention/new/",
        {"key": "contact.inactive", "condition": "inactive", "days": "365", "action": "anonymise"},
    )
    with tenant_scope(cast.org_a):
        policy = RetentionPolicy.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/privacy/retention/{policy.pk}/preview/"
    assert not policy.is_enabled

    listing = _text(client.get("/privacy/retention/"))
    assert "Anonymise 365 days after the last change" in listing
    assert "switched off" in listing

    # Enabling without a preview is refused with the reason.
    response = client.post(f"/privacy/retention/{policy.pk}/enable/", follow=True)
    assert "Preview the policy first" in _text(response)
    with tenant_scope(cast.org_a):
        assert not RetentionPolicy.objects.get().is_enabled

    preview = _text(client.get(f"/privacy/retention/{policy.pk}/preview/"))
    assert "Records a run would change now" in preview
    assert response.status_code == 200
    response = client.post(f"/privacy/retention/{policy.pk}/enable/")
    assert response.status_code == 302
    with tenant_scope(cast.org_a):
        assert RetentionPolicy.objects.get().is_enabled

    response = client.post(f"/privacy/retention/{policy.pk}/run/", follow=True)
    text = _text(response)
    assert "Records changed: 1; kept by legal holds: 0." in text
    with tenant_scope(cast.org_a):
        assert Contact.objects.get(pk=due.pk).email == ""
        run = RetentionRun.objects.get(is_preview=False)
    assert (run.matched, run.processed) == (1, 1)
    runs = _text(client.get(f"/privacy/retention/{policy.pk}/runs/"))
    assert '<td class="num">1</td>' in runs


def test_a_changed_policy_is_switched_off_and_bad_input_is_shown_by_field(cast):
    policy = _policy(cast)
    client = web_client(cast.alice)
    client.get(f"/privacy/retention/{policy.pk}/preview/")
    client.post(f"/privacy/retention/{policy.pk}/enable/")
    before = _state(cast)
    response = client.post(
        f"/privacy/retention/{policy.pk}/",
        {"key": "contact.inactive", "condition": "inactive", "days": "0", "action": "anonymise"},
    )
    assert response.status_code == 200
    assert "Ensure this value is greater than or equal to 1." in _text(response)
    assert _state(cast) == before
    response = client.post(
        f"/privacy/retention/{policy.pk}/",
        {"key": "contact.inactive", "condition": "created", "days": "30", "action": "delete"},
        follow=True,
    )
    assert "switched off" in _text(response)
    with tenant_scope(cast.org_a):
        policy = RetentionPolicy.objects.get()
    assert (policy.condition, policy.days, policy.action, policy.is_enabled) == ("created", 30, "delete", False)


def test_legal_holds_are_put_and_released_from_the_pages(cast):
    contact = _idle_contact(cast, "held@example.org")
    with tenant_scope(cast.org_a):
        reference = Subject.objects.get(pk=contact.subject_id).reference
    client = web_client(cast.alice)
    response = client.post("/privacy/legal-holds/new/", {"subject": "S-NOBODY", "reason": "case"})
    assert "Choose an existing person" in _text(response)
    response = client.post("/privacy/legal-holds/new/", {"subject": reference, "reason": "tax audit"}, follow=True)
    listing = _text(response)
    assert reference in listing
    assert "tax audit" in listing
    with tenant_scope(cast.org_a):
        hold = LegalHold.objects.get()
    response = client.post(f"/privacy/legal-holds/{hold.pk}/release/", follow=True)
    assert "The legal hold is released." in _text(response)
    with tenant_scope(cast.org_a):
        assert LegalHold.objects.get().released_at is not None


def test_people_without_the_right_see_no_retention_pages_and_change_nothing(cast):
    policy = _policy(cast)
    before = _state(cast)
    for user in (cast.bob, cast.sam):
        client = web_client(user)
        assert 'href="/privacy/retention/"' not in _text(client.get("/"))
        assert client.get("/privacy/retention/").status_code == 403
        assert client.get(f"/privacy/retention/{policy.pk}/preview/").status_code == 403
        assert client.post(f"/privacy/retention/{policy.pk}/run/").status_code == 403
        assert client.post(f"/privacy/retention/{policy.pk}/delete/").status_code == 403
    assert _state(cast) == before
    mallory = web_client(cast.mallory)
    assert mallory.get(f"/privacy/retention/{policy.pk}/preview/").status_code == 404
    assert str(policy.pk) not in _text(mallory.get("/privacy/retention/"))


def test_the_form_offers_lost_deals_and_contract_end_and_the_preview_says_so(cast):
    client = web_client(cast.alice)
    form = _text(client.get("/privacy/retention/new/"))
    assert "time since the person's deals were lost" in form
    assert "time since the person's contract ended" in form
    response = client.post(
        "/privacy/retention/new/",
        {"key": "deal.closed", "condition": "deal_lost", "days": "730", "action": "delete"},
    )
    assert response.status_code == 302
    preview = _text(client.get(response["Location"]))
    assert "Delete 730 days after the person's deals were lost" in preview
    with tenant_scope(cast.org_a):
        policy = RetentionPolicy.objects.get()
    client.post(
        f"/privacy/retention/{policy.pk}/",
        {"key": "deal.closed", "condition": "contract_end", "days": "1", "action": "delete"},
    )
    preview = _text(client.get(f"/privacy/retention/{policy.pk}/preview/"))
    assert "Delete 1 day after the person's contract ended" in preview
