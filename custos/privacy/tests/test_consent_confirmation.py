"""Double opt-in: the digest that finds a pending consent is cleared once the person confirms,
so a used link opens nothing and no lookup key for it stays at rest."""

import re

from django.test import Client

from custos.core.tenancy import tenant_scope
from custos.crm.tests.test_lead_forms import _post, _setup
from custos.privacy.models import ConsentEvent
from custos.testing import run_tasks


def test_the_confirmation_digest_is_cleared_once_used_and_the_link_then_opens_nothing(cast, smtp_server):
    form, newsletter, _callback = _setup(cast)
    assert _post(Client(), form, language="en", purposes=[str(newsletter.pk)]).status_code == 302
    run_tasks()
    [mail] = smtp_server.sent_to("ines@example.org")
    [link] = re.findall(r"http://\S+/forms/confirm/\S+/", mail.get_content())
    path = "/" + link.split("://", 1)[1].split("/", 1)[1]
    with tenant_scope(cast.org_a):
        pending = ConsentEvent.objects.get(purpose=newsletter)
        assert pending.confirmation_digest and pending.confirmed_at is None

    person = Client()
    assert person.post(path).status_code == 200

    with tenant_scope(cast.org_a):
        confirmed = ConsentEvent.objects.get(pk=pending.pk)
        assert confirmed.confirmed_at is not None
        assert confirmed.confirmation_digest == ""
    # Used: the link is unknown now, and following it again changes nothing.
    assert person.get(path).status_code == 404
    assert person.post(path).status_code == 404
    with tenant_scope(cast.org_a):
        assert ConsentEvent.objects.get(pk=pending.pk).confirmed_at == confirmed.confirmed_at
