"""Processors as Art. 19 recipients: a contact address and the "inform of changes" mark, set
on the processor's form."""

import html
import re

from custos.core.tenancy import tenant_scope
from custos.privacy.models import Processor
from custos.testing import web_client

FORM = {"name": "Rundbrief GmbH", "service": "newsletter delivery", "location": "DE", "safeguard": "none_needed"}


def test_a_processor_is_marked_to_be_informed_with_its_address(cast):
    client = web_client(cast.alice)
    page = html.unescape(client.get("/privacy/processors/new/").content.decode())
    assert "Inform of rectification, erasure and restriction (Art. 19 GDPR)" in page

    refused = client.post("/privacy/processors/new/", {**FORM, "is_active": "on", "inform_of_changes": "on"})
    assert refused.status_code == 200
    assert "Enter the address to inform the processor at." in html.unescape(refused.content.decode())
    bad = client.post(
        "/privacy/processors/new/", {**FORM, "contact_email": "not-an-address", "inform_of_changes": "on"}
    )
    assert "Enter a valid email address." in html.unescape(bad.content.decode())
    with tenant_scope(cast.org_a):
        assert not Processor.objects.exists()

    saved = client.post(
        "/privacy/processors/new/",
        {**FORM, "is_active": "on", "contact_email": "privacy@rundbrief.example", "inform_of_changes": "on"},
    )
    assert saved.status_code == 302
    with tenant_scope(cast.org_a):
        processor = Processor.objects.get()
        assert (processor.contact_email, processor.inform_of_changes) == ("privacy@rundbrief.example", True)
    edit = client.get(f"/privacy/processors/{processor.pk}/").content.decode()
    assert 'value="privacy@rundbrief.example"' in edit
    assert re.search(r'<input[^>]*name="inform_of_changes"[^>]*checked', edit)
