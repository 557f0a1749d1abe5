"""Requests nearing their deadline remind their handlers once, by mail, without personal data."""

from datetime import timedelta

from django.utils import timezone

from custos.core.tenancy import tenant_scope
from custos.privacy.models import PrivacyRequest
from custos.privacy.services.requests import request_create
from custos.privacy.tasks import remind_request_deadlines
from custos.testing import run_tasks


def test_a_request_due_soon_reminds_the_people_who_handle_requests_once(cast, smtp_server):
    with tenant_scope(cast.org_a):
        soon = request_create(actor=cast.actor(cast.alice), kind="erasure", email="greta@example.org")
        later = request_create(actor=cast.actor(cast.alice), kind="access", email="hans@example.org")
        PrivacyRequest.objects.filter(pk=soon.pk).update(due_at=timezone.now() + timedelta(days=3))

    remind_request_deadlines.call()
    run_tasks()
    remind_request_deadlines.call()
    run_tasks()

    # Olive (owner) and Alice (admin) may handle requests; Bob (read-only) and Sam (sales) may not.
    recipients = sorted(m["To"] for m in smtp_server.wait_for(2))
    assert recipients == ["alice@acme.example", "olive@acme.example"]
    message = smtp_server.messages[0]
    body = message.get_content()
    assert "Erasure" in message["Subject"]
    assert f"/privacy/requests/{soon.pk}/?org={cast.org_a.pk}" in body
    assert "greta" not in body.lower()
    with tenant_scope(cast.org_a):
        assert PrivacyRequest.objects.get(pk=later.pk).reminded_at is None


def test_a_handled_request_reminds_its_handler_only(cast, smtp_server):
    with tenant_scope(cast.org_a):
        request = request_create(actor=cast.actor(cast.alice), kind="access", email="greta@example.org")
        PrivacyRequest.objects.filter(pk=request.pk).update(
            due_at=timezone.now() + timedelta(days=1), handler=cast.alice
        )

    remind_request_deadlines.call()
    run_tasks()

    assert [m["To"] for m in smtp_server.wait_for(1)] == ["alice@acme.example"]
