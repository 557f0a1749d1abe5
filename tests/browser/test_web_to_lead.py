"""From a visitor's web form to a won deal: the hosted form makes a lead that the rules
score and assign, staff convert it, move the deal to won on the board, and the overview
counts it."""

import re

import pytest
from browser_support import csp_violations, new_context
from playwright.sync_api import expect

from custos.core.tenancy import tenant_scope
from custos.crm.models import Deal, Lead
from custos.crm.services.forms import lead_form_create
from custos.crm.services.rules import assignment_rule_create, scoring_rule_create
from custos.privacy.models import ConsentEvent
from custos.privacy.services.consent import purpose_create


def _form(cast):
    admin = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        callback = purpose_create(
            actor=admin,
            data={
                "key": "callback",
                "legal_basis": "consent",
                "names": {"en": "Call me back"},
                "descriptions": {"en": "We call you about your enquiry."},
            },
        )
        scoring_rule_create(
            actor=admin, data={"name": "Came from the website", "condition": "came_from_form"} | {"points": 25}
        )
        assignment_rule_create(actor=admin, data={"name": "Website leads", "reps": [str(cast.alice.pk)]})
        return lead_form_create(
            actor=admin,
            data={
                "name": "Ask for an offer",
                "fields": [
                    {"name": "first_name", "required": False},
                    {"name": "last_name", "required": True},
                    {"name": "email", "required": True},
                    {"name": "company_name", "required": False},
                ],
                "purposes": [str(callback.pk)],
                "thank_you": {"en": "Thank you! We call you within a day."},
            },
        )


@pytest.mark.browser
def test_a_web_form_lead_becomes_a_won_deal_on_the_overview(live_server, cast, browser, page, sign_in, diagnostics):
    form = _form(cast)

    # A visitor, with no account and no session, fills in the hosted form.
    visitor_context = new_context(browser)
    visitor = visitor_context.new_page()
    visitor.goto(f"{live_server.url}/forms/{form.public_key}/?language=en")
    visitor.get_by_label("Last name").fill("Brandt")
    visitor.get_by_label("Email").fill("not-an-address")
    visitor.get_by_role("button", name="Send").click()
    expect(visitor.get_by_text("Enter a valid email address.")).to_be_visible()
    visitor.get_by_label("First name").fill("Lena")
    visitor.get_by_label("Email").fill("lena.brandt@example.org")
    visitor.get_by_label("Company").fill("Brandt Bau GmbH")
    visitor.get_by_label("Call me back").check()
    visitor.get_by_role("button", name="Send").click()
    expect(visitor.get_by_text("Thank you! We call you within a day.")).to_be_visible()
    assert csp_violations(visitor) == []
    visitor_context.close()
    with tenant_scope(cast.org_a):
        lead = Lead.objects.get(email="lena.brandt@example.org")
        assert ConsentEvent.objects.filter(subject=lead.subject, source="web_form").count() == 1

    # Staff see it scored and assigned, with the reasons.
    sign_in(page, "alice@acme.example")
    page.goto(f"{live_server.url}/leads/{lead.pk}/")
    expect(page.get_by_text("Came from the website")).to_be_visible()
    expect(page.get_by_text("by rule “Website leads”: next in turn")).to_be_visible()

    # Convert it into contact, company and deal.
    page.get_by_role("link", name="Convert").click()
    page.get_by_label("Amount").fill("4800")
    page.get_by_role("button", name="Convert").click()
    page.wait_for_url(re.compile(r"/contacts/[0-9a-f-]+/$"))
    with tenant_scope(cast.org_a):
        deal = Deal.objects.get(contact__email="lena.brandt@example.org")

    # Won, with the board's keyboard form.
    page.goto(f"{live_server.url}/deals/")
    card = page.locator(f"#deal-{deal.pk}")
    card.get_by_label(re.compile("Move .* to")).select_option(label="Won")
    card.get_by_role("button", name="Move").click()
    expect(page.get_by_text("is now in Won")).to_be_visible()
    with tenant_scope(cast.org_a):
        assert Deal.objects.get(pk=deal.pk).status == "won"

    # The overview counts it.
    page.goto(live_server.url + "/")
    expect(page.locator("#win-rate")).to_contain_text("1 won of 1 deal closed")
    assert csp_violations(page) == []
    assert diagnostics.console_errors == [] and diagnostics.page_errors == []
