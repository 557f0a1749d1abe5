"""After an erasure, the audit log keeps what happened, not where the person came from."""

from custos.audit.models import AuditEntry
from custos.core.tenancy import tenant_scope
from custos.crm.services.people import contact_create
from custos.privacy.services.erasure import subject_erase
from custos.privacy.services.portal import portal_link_create, portal_link_open


def test_the_visitors_address_and_browser_go_with_the_person(cast):
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        greta = contact_create(actor=actor, data={"first_name": "Greta", "email": "greta@example.org"})
        _link, secret = portal_link_create(actor=actor, subject=greta.subject, language="en")
    portal_link_open(secret, ip="203.0.113.77", user_agent="Greta's Firefox")
    with tenant_scope(cast.org_a):
        opened = AuditEntry.objects.get(action="portal_link.open")
        assert opened.ip == "203.0.113.77"

        subject_erase(actor=actor, subject=greta.subject)

        opened.refresh_from_db()
        assert opened.ip != "203.0.113.77"
        assert opened.user_agent == ""
        assert opened.identifier_salt == ""
    from django.core.management import call_command

    call_command("audit", "verify")  # the chain still holds
