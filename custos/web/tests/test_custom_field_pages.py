"""Custom fields in the staff UI: defined in the settings, filled in forms, shown on pages."""

from custos.audit.models import AuditEntry
from custos.core.tenancy import tenant_scope
from custos.crm.models import Contact, CustomField, Lead
from custos.crm.services.custom_fields import custom_field_create
from custos.crm.services.leads import lead_create
from custos.testing import web_client
from custos.web.tests.sales import fresh, in_org_a

DIAGNOSIS = "Sleep apnoea"


def _define(cast, object_type, key, kind, category="none", options=()):
    data = {"object_type": object_type, "key": key, "label": key.replace("_", " ").title(), "kind": kind}
    return in_org_a(cast, custom_field_create, data=data | {"category": category, "options": list(options)})


def test_an_owner_adds_a_field_in_the_settings_and_it_appears_in_the_form(cast):
    client = web_client(cast.olive)
    response = client.post(
        "/settings/custom-fields/",
        {
            "object_type": "contact",
            "label": "Plan",
            "key": "plan",
            "kind": "choice",
            "options": "Basic\r\nPlus\r\n",
            "category": "none",
        },
    )
    assert response.status_code == 302
    with tenant_scope(cast.org_a):
        field = CustomField.objects.get(key="plan")
    assert (field.object_type, field.options) == ("contact", ["Basic", "Plus"])
    form = client.get("/contacts/new/").content.decode()
    assert 'name="cf_plan"' in form and ">Plus</option>" in form


def test_a_bad_definition_is_shown_on_its_field_and_nothing_is_added(cast):
    response = web_client(cast.olive).post(
        "/settings/custom-fields/",
        {"object_type": "company", "label": "Health", "key": "Health!", "kind": "text", "category": "special"},
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Start with a lower-case letter" in body and "add it to contacts, leads or deals" in body
    with tenant_scope(cast.org_a):
        assert not CustomField.objects.exists()


def test_members_without_the_settings_right_cannot_open_the_settings(cast):
    assert web_client(cast.sam).get("/settings/custom-fields/").status_code == 403


def test_a_contact_form_writes_checked_values_and_the_page_shows_them(cast):
    _define(cast, "contact", "member", "yes_no")
    _define(cast, "contact", "since", "date")
    _define(cast, "contact", "topics", "multi_choice", options=["Implants", "Hygiene"])
    client = web_client(cast.alice)
    response = client.post(
        "/contacts/new/",
        {
            "last_name": "Lind",
            "street": "Hauptstraße 5",
            "postcode": "10115",
            "city": "Berlin",
            "country": "DE",
            "cf_member": "true",
            "cf_since": "2024-02-01",
            "cf_topics": ["Hygiene"],
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    with tenant_scope(cast.org_a):
        contact = Contact.objects.get(last_name="Lind")
    assert contact.custom_fields == {"member": True, "since": "2024-02-01", "topics": ["Hygiene"]}
    assert (contact.street, contact.city, contact.country) == ("Hauptstraße 5", "Berlin", "DE")
    page = client.get(response["Location"]).content.decode()
    assert "Hauptstraße 5" in page and "Germany" in page and "Hygiene" in page

    # An edit that touches one value leaves the others; clearing one removes it.
    edit = client.post(
        f"/contacts/{contact.pk}/edit/",
        {"last_name": "Lind", "street": "Hauptstraße 5", "postcode": "10115", "city": "Berlin", "country": "DE"}
        | {"cf_member": "", "cf_since": "2024-02-01", "cf_topics": ["Hygiene"]},
    )
    assert edit.status_code == 302
    assert fresh(cast, contact).custom_fields == {"since": "2024-02-01", "topics": ["Hygiene"]}


def test_a_wrong_value_is_shown_on_its_own_field(cast):
    _define(cast, "contact", "shoe_size", "number")
    response = web_client(cast.alice).post("/contacts/new/", {"last_name": "Lind", "cf_shoe_size": "large"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Enter a number." in body and 'aria-invalid="true"' in body
    with tenant_scope(cast.org_a):
        assert not Contact.objects.filter(last_name="Lind").exists()


def test_special_category_values_on_a_lead_are_hidden_until_opened_and_the_opening_is_logged(cast):
    _define(cast, "lead", "diagnosis", "text", category="special")
    lead = in_org_a(cast, lead_create, data={"last_name": "Nowak", "custom_fields": {"diagnosis": DIAGNOSIS}})
    client = web_client(cast.alice)
    page = client.get(f"/leads/{lead.pk}/").content.decode()
    assert DIAGNOSIS not in page and "?reveal=special" in page
    opened = client.get(f"/leads/{lead.pk}/?reveal=special").content.decode()
    assert DIAGNOSIS in opened
    with tenant_scope(cast.org_a):
        [entry] = AuditEntry.objects.filter(action="lead.read_special")
    assert entry.fields == ["custom_fields.diagnosis"]
    # A sales rep neither sees the field in the form nor the value on the page.
    in_org_a(cast, lambda actor: Lead.objects.filter(pk=lead.pk).update(owner=cast.sam))
    sam = web_client(cast.sam)
    assert "cf_diagnosis" not in sam.get(f"/leads/{lead.pk}/edit/").content.decode()
    assert DIAGNOSIS not in sam.get(f"/leads/{lead.pk}/?reveal=special").content.decode()


def test_a_role_that_may_not_see_custom_fields_sees_none_on_pages_or_in_forms(cast):
    """Found by the bug hunt: the API hid them, the pages showed the values and filled the
    edit form's `cf_*` inputs."""
    from custos.accounts.models import Role
    from custos.crm.services.people import company_create, contact_create

    _define(cast, "contact", "plan", "choice", options=["Basic", "Premium"])
    _define(cast, "company", "branch", "text")
    contact = in_org_a(cast, contact_create, data={"last_name": "Lind", "custom_fields": {"plan": "Premium"}})
    company = in_org_a(cast, company_create, data={"name": "Nordwind", "custom_fields": {"branch": "Dentistry"}})
    with tenant_scope(cast.org_a):
        Role.objects.filter(key="admin").update(hidden_fields=["contact.custom_fields", "company.custom_fields"])
    client = web_client(cast.alice)

    for path, value in [
        (f"/contacts/{contact.pk}/", "Premium"),
        (f"/contacts/{contact.pk}/edit/", "Premium"),
        (f"/companies/{company.pk}/", "Dentistry"),
        (f"/companies/{company.pk}/edit/", "Dentistry"),
    ]:
        body = client.get(path).content.decode()
        assert value not in body and 'name="cf_' not in body, path
    saved = client.post(f"/contacts/{contact.pk}/edit/", {"last_name": "Lindqvist"})
    assert saved.status_code == 302
    assert fresh(cast, contact).custom_fields == {"plan": "Premium"}


def test_an_option_no_longer_offered_stays_on_the_record_when_another_field_is_edited(cast):
    """Found by the bug hunt: the form could not show a stored option the field no longer
    offers, so saving any change erased it."""
    from custos.crm.services.custom_fields import custom_field_update
    from custos.crm.services.people import contact_create

    plan = _define(cast, "contact", "plan", "choice", options=["Basic", "Gold"])
    topics = _define(cast, "contact", "topics", "multi_choice", options=["Implants", "Whitening"])
    contact = in_org_a(
        cast,
        contact_create,
        data={"last_name": "Lind", "custom_fields": {"plan": "Gold", "topics": ["Implants", "Whitening"]}},
    )
    in_org_a(cast, custom_field_update, field=plan, data={"options": ["Basic", "Plus"]})
    in_org_a(cast, custom_field_update, field=topics, data={"options": ["Implants", "Hygiene"]})
    client = web_client(cast.alice)

    form = client.get(f"/contacts/{contact.pk}/edit/").content.decode()
    renamed = client.post(
        f"/contacts/{contact.pk}/edit/",
        {"last_name": "Lindqvist", "cf_plan": "Gold", "cf_topics": ["Implants", "Whitening"]},
    )
    narrowed = client.post(
        f"/contacts/{contact.pk}/edit/", {"last_name": "Lindqvist", "cf_plan": "Gold", "cf_topics": ["Whitening"]}
    )

    assert '<option value="Gold" selected>Gold (no longer offered)</option>' in form
    assert 'value="Whitening"' in form and "Whitening (no longer offered)" in form
    assert (renamed.status_code, narrowed.status_code) == (302, 302)
    assert fresh(cast, contact).last_name == "Lindqvist"
    assert fresh(cast, contact).custom_fields == {"plan": "Gold", "topics": ["Whitening"]}


def test_the_special_data_card_lists_only_special_category_fields(cast):
    """Found by the bug hunt: opened, the health notes card listed every custom field."""
    from custos.crm.services.people import contact_create

    _define(cast, "contact", "plan", "choice", options=["Basic", "Premium"])
    _define(cast, "contact", "diagnosis", "text", category="special")
    contact = in_org_a(
        cast, contact_create, data={"last_name": "Lind", "custom_fields": {"plan": "Basic", "diagnosis": DIAGNOSIS}}
    )

    page = web_client(cast.olive).get(f"/contacts/{contact.pk}/?reveal=special").content.decode()

    card = page[page.index('id="special-heading"') :]
    card = card[: card.index("</section>")]
    assert DIAGNOSIS in card and "Plan" not in card
    assert page.count("<dt>Plan</dt>") == 1


def test_a_value_its_field_cannot_read_is_shown_as_stored_not_a_failed_page(cast):
    """A value kept from before its key's field was defined again (another kind) fails no page."""
    from custos.crm.services.people import contact_create

    _define(cast, "contact", "since", "date")
    _define(cast, "contact", "visits", "number")
    contact = in_org_a(cast, contact_create, data={"last_name": "Lind"})
    with tenant_scope(cast.org_a):
        Contact.objects.filter(pk=contact.pk).update(custom_fields={"since": 12, "visits": "many"})

    response = web_client(cast.alice).get(f"/contacts/{contact.pk}/")

    assert response.status_code == 200
    body = response.content.decode()
    assert "<dd>12</dd>" in body and "<dd>many</dd>" in body
