"""How often a person may ask an organisation's portal for a link."""

from custos.core.tenancy import tenant_scope
from custos.crm.services.people import contact_create
from custos.privacy.models import PortalLink
from custos.privacy.services.portal import MAILS_PER_ADDRESS, portal_request_link
from custos.testing import run_tasks


def test_asking_one_organisations_portal_often_leaves_anothers_alone(cast, smtp_server):
    for org, owner in ((cast.org_a, cast.olive), (cast.org_b, cast.mallory)):
        with tenant_scope(org):
            contact_create(actor=cast.actor(owner, org), data={"first_name": "Ada", "email": "ada@example.org"})

    for _ in range(MAILS_PER_ADDRESS + 2):
        portal_request_link(org=cast.org_a, email="ada@example.org", language="en")
    portal_request_link(org=cast.org_b, email="ada@example.org", language="en")
    run_tasks()

    with tenant_scope(cast.org_a):
        assert PortalLink.objects.count() == MAILS_PER_ADDRESS  # the rest were over the limit
    with tenant_scope(cast.org_b):
        assert PortalLink.objects.count() == 1
