"""A contact's further companies on the contact's and the company's pages, and in a merge."""

from custos.core.tenancy import tenant_scope
from custos.crm.duplicates import contact_merge
from custos.crm.models import Affiliation
from custos.crm.services.people import affiliation_add, company_create, contact_create
from custos.testing import enable_two_factor, web_client
from custos.web.tests.sales import in_org_a


def test_a_company_added_on_the_contact_page_shows_on_both_pages(cast):
    second = in_org_a(cast, company_create, data={"name": "Zahnklinik Süd"})
    contact = in_org_a(cast, contact_create, data={"last_name": "Berg"})
    enable_two_factor(cast.alice)
    client = web_client(cast.alice)

    added = client.post(f"/contacts/{contact.pk}/affiliations/", {"company": "zahnklinik süd", "role": "Consultant"})
    contact_page = client.get(f"/contacts/{contact.pk}/").content.decode()
    company_page = client.get(f"/companies/{second.pk}/").content.decode()

    assert added.status_code == 302
    assert "Zahnklinik Süd" in contact_page and "Consultant" in contact_page
    assert "Berg" in company_page and "Consultant" in company_page


def test_a_bad_company_is_explained_and_nothing_is_added(cast):
    contact = in_org_a(cast, contact_create, data={"last_name": "Berg"})
    enable_two_factor(cast.alice)
    client = web_client(cast.alice)

    response = client.post(f"/contacts/{contact.pk}/affiliations/", {"company": "nope"}, follow=True)

    assert "No company of this name" in response.content.decode()
    with tenant_scope(cast.org_a):
        assert not Affiliation.objects.exists()


def test_removing_it_leaves_the_company(cast):
    second = in_org_a(cast, company_create, data={"name": "Zahnklinik Süd"})
    contact = in_org_a(cast, contact_create, data={"last_name": "Berg"})
    affiliation = in_org_a(cast, affiliation_add, contact=contact, data={"company": str(second.pk)})
    enable_two_factor(cast.alice)

    response = web_client(cast.alice).post(f"/contacts/{contact.pk}/affiliations/{affiliation.pk}/remove/")

    assert response.status_code == 302
    with tenant_scope(cast.org_a):
        assert not Affiliation.objects.exists()
        assert second.__class__.objects.filter(pk=second.pk).exists()


def test_a_merge_keeps_each_company_once(cast):
    shared = in_org_a(cast, company_create, data={"name": "Shared"})
    only_other = in_org_a(cast, company_create, data={"name": "Only other"})
    keep = in_org_a(cast, contact_create, data={"last_name": "Berg"})
    other = in_org_a(cast, contact_create, data={"last_name": "Berg"})
    in_org_a(cast, affiliation_add, contact=keep, data={"company": str(shared.pk), "role": "Owner"})
    in_org_a(cast, affiliation_add, contact=other, data={"company": str(shared.pk), "role": "Guest"})
    in_org_a(cast, affiliation_add, contact=other, data={"company": str(only_other.pk)})

    with tenant_scope(cast.org_a):
        contact_merge(actor=cast.actor(cast.olive), keep=keep, other=other)
        held = sorted(Affiliation.objects.filter(contact=keep).values_list("company__name", "role"))

    assert held == [("Only other", ""), ("Shared", "Owner")]
