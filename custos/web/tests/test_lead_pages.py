"""Lead pages: list with status filter and search, detail, forms, disqualify, convert."""

from custos.core.tenancy import tenant_scope
from custos.crm.models import Company, Contact, Deal, Lead
from custos.crm.services.leads import lead_create
from custos.crm.services.people import company_create
from custos.testing import web_client
from custos.web.tests.sales import audit_actions, crm_state, fresh, in_org_a, stages_of


def _lead(cast, **data):
    return in_org_a(cast, lead_create, data={"first_name": "Ada", "last_name": "Lind", **data})


def test_every_lead_page_renders_for_an_admin(cast):
    lead = _lead(cast, email="ada@example.com", company_name="Lind Dental")
    client = web_client(cast.alice)
    for path in (
        "/leads/",
        "/leads/?status=qualified",
        "/leads/new/",
        f"/leads/{lead.pk}/",
        f"/leads/{lead.pk}/edit/",
        f"/leads/{lead.pk}/disqualify/",
        f"/leads/{lead.pk}/convert/",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        if path.endswith(("/disqualify/", "/convert/", f"{lead.pk}/")):
            assert "Ada Lind" in response.content.decode(), path


def test_a_lead_is_created_and_edited_through_the_forms(cast):
    client = web_client(cast.alice)
    response = client.post(
        "/leads/new/",
        {"first_name": "Ada", "last_name": "Lind", "email": "ada@example.com", "source": "event", "status": "new"},
    )
    assert response.status_code == 302
    with tenant_scope(cast.org_a):
        lead = Lead.objects.get()
    assert (lead.email, lead.source, lead.owner_id) == ("ada@example.com", "event", cast.alice.pk)
    form = {"first_name": "Ada", "last_name": "Lind", "email": "ada@example.com", "source": "event"}
    response = client.post(f"/leads/{lead.pk}/edit/", {**form, "status": "qualified", "owner": str(cast.alice.pk)})
    assert response.status_code == 302
    assert fresh(cast, lead).status == "qualified"
    assert audit_actions(cast, lead.pk) == ["lead.create", "lead.update"]


def test_a_lead_needs_someone_to_reach(cast):
    before = crm_state(cast)
    response = web_client(cast.alice).post("/leads/new/", {"status": "new", "source": "manual"})
    assert response.status_code == 200
    assert "Enter a name, an email address or a company." in response.content.decode()
    assert crm_state(cast) == before


def test_the_list_filters_by_status_and_searches_by_post(cast):
    new = _lead(cast, last_name="Neumann")
    qualified = _lead(cast, last_name="Quast", status="qualified")
    client = web_client(cast.alice)
    body = client.get("/leads/?status=qualified").content.decode()
    assert str(qualified.pk) in body and str(new.pk) not in body
    assert '<a href="/leads/?status=qualified" aria-current="page">' in body
    body = client.post("/leads/", {"q": "Neumann"}, headers={"HX-Request": "true"}).content.decode()
    assert str(new.pk) in body and str(qualified.pk) not in body
    body = client.post("/leads/", {"q": "Neumann", "status": "qualified"}).content.decode()
    assert str(new.pk) not in body


def test_disqualifying_needs_a_reason(cast):
    lead = _lead(cast)
    client = web_client(cast.alice)
    before = crm_state(cast)
    response = client.post(f"/leads/{lead.pk}/disqualify/", {"reason": ""})
    assert response.status_code == 200 and "This field is required." in response.content.decode()
    assert crm_state(cast) == before
    response = client.post(f"/leads/{lead.pk}/disqualify/", {"reason": "No budget"})
    assert response.status_code == 302
    disqualified = fresh(cast, lead)
    assert (disqualified.status, disqualified.disqualified_reason) == ("disqualified", "No budget")
    body = client.get(f"/leads/{lead.pk}/").content.decode()
    assert "No budget" in body and f"/leads/{lead.pk}/convert/" not in body


def test_the_convert_page_says_what_will_be_created(cast):
    in_org_a(cast, company_create, data={"name": "Lind Dental"})
    existing = _lead(cast, company_name="lind dental")
    new = _lead(cast, company_name="Berg Praxis")
    client = web_client(cast.alice)
    assert "An existing company:" in client.get(f"/leads/{existing.pk}/convert/").content.decode()
    assert "A new company “Berg Praxis”." in client.get(f"/leads/{new.pk}/convert/").content.decode()


def test_converting_creates_contact_company_and_deal_and_lands_on_the_contact(cast):
    stages = stages_of(cast)
    lead = _lead(cast, email="ada@example.com", company_name="Lind Dental", owner=str(cast.sam.pk))
    pipeline_id = str(stages["Proposal"].pipeline_id)
    client = web_client(cast.alice)
    response = client.post(
        f"/leads/{lead.pk}/convert/",
        {
            "create_deal": "on",
            "deal_name": "Lind Dental: chairs",
            "amount": "12500",
            "currency": "EUR",
            "pipeline": pipeline_id,
        },
    )
    assert response.status_code == 302
    converted = fresh(cast, lead)
    assert response["Location"] == f"/contacts/{converted.converted_contact_id}/"
    with tenant_scope(cast.org_a):
        contact = Contact.objects.get(pk=converted.converted_contact_id)
        deal = Deal.objects.get(pk=converted.converted_deal_id)
        company = Company.objects.get()
    assert converted.status == "converted"
    assert (contact.subject_id, contact.email, contact.company_id) == (lead.subject_id, "ada@example.com", company.pk)
    assert (deal.name, str(deal.amount), deal.contact_id, deal.company_id) == (
        "Lind Dental: chairs",
        "12500.00",
        contact.pk,
        company.pk,
    )
    assert company.name == "Lind Dental"
    assert "lead.convert" in audit_actions(cast, lead.pk)
    body = client.get(response["Location"]).content.decode()
    assert "The lead is converted." in body and "Lind Dental: chairs" in body


def test_converting_links_the_existing_company_and_may_leave_out_the_deal(cast):
    company = in_org_a(cast, company_create, data={"name": "Lind Dental"})
    lead = _lead(cast, company_name="LIND DENTAL")
    response = web_client(cast.alice).post(f"/leads/{lead.pk}/convert/", {"deal_name": "", "currency": "EUR"})
    assert response.status_code == 302
    converted = fresh(cast, lead)
    assert converted.converted_deal_id is None
    with tenant_scope(cast.org_a):
        assert Contact.objects.get(pk=converted.converted_contact_id).company_id == company.pk
        assert Company.objects.count() == 1 and Deal.objects.count() == 0


def test_a_bad_deal_currency_converts_nothing(cast):
    stages_of(cast)  # the default pipeline exists before
    lead = _lead(cast, company_name="Lind Dental")
    before = crm_state(cast)
    response = web_client(cast.alice).post(
        f"/leads/{lead.pk}/convert/", {"create_deal": "on", "deal_name": "X", "currency": "XXQ"}
    )
    assert response.status_code == 200
    assert "Use a three-letter currency code such as EUR." in response.content.decode()
    assert crm_state(cast) == before


def test_a_converted_lead_is_not_converted_twice(cast):
    stages_of(cast)
    lead = _lead(cast)
    client = web_client(cast.alice)
    client.post(f"/leads/{lead.pk}/convert/", {})
    before = crm_state(cast)
    response = client.post(f"/leads/{lead.pk}/convert/", {})
    assert response.status_code == 302 and response["Location"].startswith("/contacts/")
    assert client.get(f"/leads/{lead.pk}/edit/").status_code == 302
    assert crm_state(cast) == before


def test_read_only_cannot_change_leads_and_nothing_changes(cast):
    lead = _lead(cast)
    before = crm_state(cast)
    bob = web_client(cast.bob)
    assert bob.get(f"/leads/{lead.pk}/").status_code == 200
    assert bob.post("/leads/new/", {"last_name": "X"}).status_code == 403
    assert bob.post(f"/leads/{lead.pk}/edit/", {"last_name": "X"}).status_code == 403
    assert bob.post(f"/leads/{lead.pk}/disqualify/", {"reason": "X"}).status_code == 403
    assert bob.post(f"/leads/{lead.pk}/convert/", {}).status_code == 403
    assert bob.post(f"/leads/{lead.pk}/delete/").status_code == 403
    assert web_client(cast.sam).post(f"/leads/{lead.pk}/delete/").status_code == 404  # not his lead
    assert crm_state(cast) == before


def test_a_sales_rep_sees_own_leads_only_and_converts_them(cast):
    own = _lead(cast, last_name="Sams", owner=str(cast.sam.pk))
    other = _lead(cast, last_name="Alices", owner=str(cast.alice.pk))
    sam = web_client(cast.sam)
    body = sam.get("/leads/").content.decode()
    assert str(own.pk) in body and str(other.pk) not in body
    assert sam.get(f"/leads/{other.pk}/").status_code == 404
    assert sam.post(f"/leads/{own.pk}/convert/", {}).status_code == 302
    assert fresh(cast, own).status == "converted"
