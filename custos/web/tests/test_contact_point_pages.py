"""Further emails and phones on the contact form and page, one per line with an optional label."""

from django.conf import settings

from custos.core.tenancy import tenant_scope
from custos.crm.models import Contact
from custos.crm.services.people import contact_create
from custos.testing import enable_two_factor, web_client
from custos.web.tests.sales import in_org_a

FORM = {"last_name": "Berg", "email": "berg@example.org", "phone": "", "country": "", "company": "", "language": ""}


def _points(contact):
    with tenant_scope(contact.org):
        return sorted(contact.points.values_list("email", "phone", "label"))


def test_lines_with_labels_are_saved_and_shown_in_the_users_language(cast):
    contact = in_org_a(cast, contact_create, data={"last_name": "Berg", "email": "berg@example.org"})
    enable_two_factor(cast.alice)
    client = web_client(cast.alice)

    saved = client.post(
        f"/contacts/{contact.pk}/edit/",
        {
            **FORM,
            "other_emails": "private: anna@home.example\nanna@uni.example",
            "other_phones": "Mobile: 0170 1234567",
        },
    )

    assert saved.status_code == 302
    assert _points(contact) == [
        ("", "+491701234567", "mobile"),
        ("anna@home.example", "", "private"),
        ("anna@uni.example", "", "other"),
    ]
    page = client.get(f"/contacts/{contact.pk}/").content.decode()
    assert "anna@home.example" in page and "+49 170 1234567" in page
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "de"
    form = client.get(f"/contacts/{contact.pk}/edit/").content.decode()
    assert "privat: anna@home.example" in form and "mobil: +491701234567" in form
    # …and read back as typed there.
    client.post(f"/contacts/{contact.pk}/edit/", {**FORM, "other_phones": "mobil: 0170 1234567"})
    assert ("", "+491701234567", "mobile") in _points(contact)


def test_a_bad_line_is_explained_and_nothing_changes(cast):
    contact = in_org_a(cast, contact_create, data={"last_name": "Berg", "email": "berg@example.org"})
    enable_two_factor(cast.alice)
    client = web_client(cast.alice)

    response = client.post(f"/contacts/{contact.pk}/edit/", {**FORM, "other_emails": "work: not-an-email"})

    assert response.status_code == 200
    assert "Enter a valid email address." in response.content.decode()
    assert _points(contact) == []
    with tenant_scope(cast.org_a):
        assert Contact.objects.get(pk=contact.pk).updated_at == contact.updated_at


# The company picker: typed, not chosen from a list of every company -------------------------


def _companies(cast):
    from custos.crm.services.people import company_create

    return {
        "north_hh": in_org_a(cast, company_create, data={"name": "Nordwind GmbH", "city": "Hamburg"}),
        "north_b": in_org_a(cast, company_create, data={"name": "Nordwind GmbH", "city": "Berlin"}),
        "praxis": in_org_a(cast, company_create, data={"name": "Praxis Dr. Weiss", "vat_id": "DE129273398"}),
    }


def test_the_picker_offers_matching_companies_and_tells_twins_apart(cast):
    from custos.crm.services.people import company_create

    _companies(cast)
    with tenant_scope(cast.org_b):
        from custos.core.actor import Via

        company_create(actor=cast.actor(cast.mallory, cast.org_b, Via.WEB), data={"name": "Nordwind Sp. z o.o."})
    enable_two_factor(cast.alice)
    client = web_client(cast.alice)

    options = client.get("/companies/options/", {"company": "nord"}, HTTP_HX_REQUEST="true").content.decode()

    assert 'value="Nordwind GmbH · Berlin"' in options and 'value="Nordwind GmbH · Hamburg"' in options
    assert "Sp. z o.o." not in options  # another organisation's
    assert client.get("/companies/options/", {"company": "n"}, HTTP_HX_REQUEST="true").content.decode().strip() == ""


def test_a_contact_gets_its_company_by_label_name_or_vat_id(cast):
    companies = _companies(cast)
    enable_two_factor(cast.alice)
    client = web_client(cast.alice)

    for typed, expected in (
        ("Nordwind GmbH · Berlin", "north_b"),
        ("praxis dr. weiss", "praxis"),
        ("DE 129 273 398", "praxis"),
    ):
        response = client.post("/contacts/new/", {**FORM, "email": "", "company": typed, "save_anyway": "1"})
        assert response.status_code == 302, typed
        with tenant_scope(cast.org_a):
            contact = Contact.objects.order_by("-created_at").first()
            assert contact.company_id == companies[expected].pk, typed
    edit = client.get(f"/contacts/{contact.pk}/edit/").content.decode()
    assert 'value="Praxis Dr. Weiss"' in edit


def test_an_ambiguous_or_unknown_company_is_explained_and_nothing_is_saved(cast):
    _companies(cast)
    enable_two_factor(cast.alice)
    client = web_client(cast.alice)

    ambiguous = client.post("/contacts/new/", {**FORM, "company": "Nordwind GmbH", "save_anyway": "1"})
    unknown = client.post("/contacts/new/", {**FORM, "company": "Südwind AG", "save_anyway": "1"})

    assert "Several companies have this name" in ambiguous.content.decode()
    assert "No company of this name" in unknown.content.decode()
    with tenant_scope(cast.org_a):
        assert not Contact.objects.exists()


def test_a_deal_gets_its_company_by_name_and_the_edit_form_shows_it(cast):
    from custos.crm.models import Deal
    from custos.web.tests.sales import stages_of

    companies = _companies(cast)
    stages = stages_of(cast)
    enable_two_factor(cast.alice)
    client = web_client(cast.alice)
    # "New deal" from a company's page names the company by id: the form shows its label.
    form = client.get("/deals/new/", {"company": str(companies["north_b"].pk)}).content.decode()
    assert 'value="Nordwind GmbH · Berlin"' in form

    created = client.post(
        "/deals/new/",
        {"name": "Chairs", "stage": str(stages["Proposal"].pk), "currency": "EUR", "company": "Praxis Dr. Weiss"},
    )
    refused = client.post(
        "/deals/new/",
        {"name": "Desks", "stage": str(stages["Proposal"].pk), "currency": "EUR", "company": "Nordwind GmbH"},
    )

    assert created.status_code == 302
    assert "Several companies have this name" in refused.content.decode()
    with tenant_scope(cast.org_a):
        deal = Deal.objects.get()
        assert deal.company_id == companies["praxis"].pk
    assert 'value="Praxis Dr. Weiss"' in client.get(f"/deals/{deal.pk}/edit/").content.decode()
