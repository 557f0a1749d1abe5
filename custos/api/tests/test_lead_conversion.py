"""POST /api/v1/leads/{id}/convert: contact, company and deal in one step, the person kept."""

from custos.api.tests.helpers import created, entries, field_errors, ok, post, problem, snapshot, warmed
from custos.core.tenancy import tenant_scope
from custos.crm.models import Activity, Company, Contact, Deal, Lead
from custos.testing import api_client


def _lead(client, **data):
    return created(client, "/api/v1/leads", **data)


def _convert(client, lead, **body):
    return post(client, f"/api/v1/leads/{lead['id']}/convert", body)


def test_conversion_creates_contact_company_and_deal_and_keeps_the_person(cast):
    client = api_client(cast, cast.alice)
    lead = _lead(
        client,
        first_name="Greta",
        last_name="Lind",
        email="greta@nordwind.example",
        phone="030 1234567",
        company_name="Nordwind GmbH",
        tags=["fair-2026"],
        notes="Met at the fair",
        status="qualified",
    )
    call = created(client, "/api/v1/activities", kind="call", title="First call", lead=lead["id"])

    body = ok(_convert(client, lead, amount="1250.5", expected_close="2026-12-31"))

    with tenant_scope(cast.org_a):
        contact = Contact.objects.get()
        company = Company.objects.get()
        deal = Deal.objects.select_related("stage").get()
        converted = Lead.objects.get()
        activity = Activity.objects.get()
    assert body == {
        "contact": str(contact.pk),
        "company": str(company.pk),
        "deal": str(deal.pk),
        "lead": {
            **lead,
            "status": "converted",
            "converted_at": body["lead"]["converted_at"],
            "converted_contact": str(contact.pk),
            "converted_deal": str(deal.pk),
            "updated_at": body["lead"]["updated_at"],
        },
    }
    assert body["lead"]["converted_at"] == body["lead"]["updated_at"]
    assert converted.status == Lead.Status.CONVERTED
    # The same person: the contact takes over the lead's data subject, and its timeline.
    assert str(contact.subject_id) == lead["subject"]
    assert (contact.first_name, contact.last_name, contact.email, contact.phone) == (
        "Greta",
        "Lind",
        "greta@nordwind.example",
        "+49301234567",
    )
    assert (contact.company_id, contact.owner_id, contact.tags, contact.notes) == (
        company.pk,
        cast.alice.pk,
        ["fair-2026"],
        "Met at the fair",
    )
    assert (company.name, company.owner_id) == ("Nordwind GmbH", cast.alice.pk)
    assert (str(activity.pk), activity.contact_id, str(activity.lead_id)) == (call["id"], contact.pk, lead["id"])
    assert (deal.name, deal.contact_id, deal.company_id, deal.owner_id) == (
        "Nordwind GmbH",
        contact.pk,
        company.pk,
        cast.alice.pk,
    )
    assert (str(deal.amount), deal.currency, deal.expected_close.isoformat()) == ("1250.50", "EUR", "2026-12-31")
    assert (deal.stage.name, deal.status) == ("Qualification", "open")
    timeline = ok(client.get("/api/v1/activities", {"contact": str(contact.pk)}))
    assert [item["id"] for item in timeline["items"]] == [call["id"]]

    log = entries(cast.org_a)
    conversion = log[[e.action for e in log].index("activity.create") + 1 :]
    assert [(e.action, e.object_id) for e in conversion] == [
        ("company.create", str(company.pk)),
        ("contact.create", str(contact.pk)),
        ("pipeline.create", str(deal.pipeline_id)),  # the organisation's first deal
        ("deal.create", str(deal.pk)),
        ("lead.convert", lead["id"]),
    ]
    convert = conversion[-1]
    assert (convert.action, convert.actor_user_id, convert.via, convert.extra) == (
        "lead.convert",
        cast.alice.pk,
        "api",
        {"contact": str(contact.pk), "company": str(company.pk), "deal": str(deal.pk)},
    )


def test_the_deal_takes_the_name_and_fields_given(cast):
    client = api_client(cast, cast.alice)
    pipeline = created(
        client,
        "/api/v1/pipelines",
        name="Renewals",
        stages=[{"name": "Offer", "probability": 40}, {"name": "Signed", "probability": 100, "outcome": "won"}],
    )
    lead = _lead(client, first_name="Jonas", last_name="Berg")

    body = ok(
        _convert(
            client,
            lead,
            deal_name="Berg renewal",
            amount=99,
            currency="chf",
            pipeline=pipeline["id"],
            stage=pipeline["stages"][0]["id"],
        )
    )

    deal = ok(client.get(f"/api/v1/deals/{body['deal']}"))
    assert (deal["name"], deal["amount"], deal["currency"], deal["pipeline"], deal["stage"]) == (
        "Berg renewal",
        "99.00",
        "CHF",
        pipeline["id"],
        pipeline["stages"][0]["id"],
    )
    assert (body["company"], deal["company"], deal["contact"]) == (None, None, body["contact"])


def test_conversion_without_a_deal(cast):
    client = api_client(cast, cast.alice)
    lead = _lead(client, last_name="Lind", company_name="Nordwind GmbH")

    body = ok(_convert(client, lead, create_deal=False))

    assert (body["deal"], body["lead"]["converted_deal"]) == (None, None)
    with tenant_scope(cast.org_a):
        assert not Deal.objects.exists()
        assert Contact.objects.get().pk == Lead.objects.get().converted_contact_id


def test_an_existing_company_of_the_same_name_is_used(cast):
    client = api_client(cast, cast.alice)
    company = created(client, "/api/v1/companies", name="Nordwind GmbH")
    lead = _lead(client, last_name="Lind", company_name="NORDWIND gmbh")

    body = ok(_convert(client, lead, create_deal=False))

    assert body["company"] == company["id"]
    assert len(entries(cast.org_a, "company.create")) == 1


def test_a_converted_lead_cannot_be_converted_again(cast):
    client = api_client(cast, cast.alice)
    lead = _lead(client, last_name="Lind")
    ok(_convert(client, lead))
    before = snapshot(cast.org_a)

    response = _convert(client, lead)

    assert problem(response, 409)["detail"] == "This lead is converted already."
    assert snapshot(cast.org_a) == before


def test_a_disqualified_lead_is_not_converted(cast):
    client = warmed(api_client(cast, cast.alice))
    lead = _lead(client, last_name="Lind", status="disqualified", disqualified_reason="Competitor")
    before = snapshot(cast.org_a)

    response = _convert(client, lead)

    assert problem(response, 409)["detail"] == "A disqualified lead cannot be converted; qualify it first."
    assert snapshot(cast.org_a) == before


def test_bad_deal_fields_change_nothing(cast):
    client = warmed(api_client(cast, cast.alice))
    lead = _lead(client, last_name="Lind", company_name="Nordwind GmbH")
    ok(client.get("/api/v1/pipelines"))  # the default pipeline exists before the snapshot
    before = snapshot(cast.org_a)

    invalid = _convert(client, lead, amount="12.345", currency="EURO", expected_close="31/12/2026", stage="nope")
    long_name = _convert(client, lead, deal_name="x" * 201)
    wrong_types = _convert(client, lead, create_deal="yes", amount=True, colour="red")
    contradictory = _convert(client, lead, create_deal=False, deal_name="Fleet", amount="10")

    assert field_errors(invalid) == [
        {"field": "stage", "message": "Choose an existing stage."},
        {"field": "amount", "message": "Enter an amount with at most two decimals."},
        {"field": "currency", "message": "Use a three-letter currency code such as EUR."},
        {"field": "expected_close", "message": "Enter a date such as 2026-11-22 or 22.11.2026."},
    ]
    assert field_errors(long_name) == [
        {"field": "deal_name", "message": "Use at most 200 characters (this text has 201)."}
    ]
    assert field_errors(wrong_types) == [
        {"field": "create_deal", "message": "Enter true or false."},
        {"field": "amount", "message": "Enter an amount such as 1250.50."},
        {"field": "colour", "message": "Unknown field."},
    ]
    assert field_errors(contradictory) == [
        {"field": "deal_name", "message": "Leave this out when no deal is created."},
        {"field": "amount", "message": "Leave this out when no deal is created."},
    ]
    assert snapshot(cast.org_a) == before


def test_a_sales_member_converts_own_leads(cast):
    sam = api_client(cast, cast.sam, "write")
    lead = _lead(sam, last_name="Lind", company_name="Nordwind GmbH")

    body = ok(_convert(sam, lead, amount="500"))

    for path in (f"/api/v1/contacts/{body['contact']}", f"/api/v1/companies/{body['company']}"):
        assert ok(sam.get(path))["owner"] == str(cast.sam.pk)
    assert ok(sam.get(f"/api/v1/deals/{body['deal']}"))["owner"] == str(cast.sam.pk)


def test_a_read_only_member_cannot_convert(cast):
    lead = _lead(api_client(cast, cast.alice), last_name="Lind")
    bob = warmed(api_client(cast, cast.bob, "write"))
    before = snapshot(cast.org_a)

    assert problem(_convert(bob, lead), 403)
    assert snapshot(cast.org_a) == before
