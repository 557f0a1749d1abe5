"""A member of several organisations switches between them; nobody switches into a stranger's."""

from custos.accounts.models import User
from custos.accounts.tests.helpers import add_member, html_text
from custos.testing import web_client


def test_a_member_of_two_organisations_switches(cast):
    add_member(cast, "sam@acme.example", "sales", org=cast.org_b)
    client = web_client(cast.sam)
    assert client.get("/").context["current_organization"] == cast.org_a

    response = client.post("/organization/switch/", {"org": str(cast.org_b.pk)}, follow=True)
    assert response.redirect_chain == [("/", 302)]
    assert "You are now working in Bravo Handel." in html_text(response)
    assert response.context["current_organization"] == cast.org_b
    assert response.context["actor"].org_id == cast.org_b.pk
    assert client.session["org_id"] == str(cast.org_b.pk)
    assert User.objects.get(pk=cast.sam.pk).last_organization_id == cast.org_b.pk

    back = client.post("/organization/switch/", {"org": str(cast.org_a.pk)}, follow=True)
    assert back.context["current_organization"] == cast.org_a


def test_the_switcher_lists_only_the_users_organisations(cast):
    add_member(cast, "sam@acme.example", "sales", org=cast.org_b)
    page = web_client(cast.sam).get("/")
    assert page.context["organizations"] == [cast.org_a, cast.org_b]
    assert page.context["current_organization"] == cast.org_a
    assert web_client(cast.bob).get("/").context["organizations"] == [cast.org_a]


def test_the_last_organisation_is_where_the_next_session_starts(cast):
    add_member(cast, "sam@acme.example", "sales", org=cast.org_b)
    web_client(cast.sam).post("/organization/switch/", {"org": str(cast.org_b.pk)})
    later = web_client(User.objects.get(pk=cast.sam.pk))
    assert later.get("/").context["current_organization"] == cast.org_b


def test_switching_to_an_organisation_one_is_not_a_member_of_is_refused(cast):
    client = web_client(cast.sam)
    for org in (str(cast.org_b.pk), "not-an-id", ""):
        response = client.post("/organization/switch/", {"org": org}, follow=True)
        assert response.redirect_chain == [("/", 302)], org
        assert "You are not a member of that organisation." in html_text(response), org
        assert response.context["current_organization"] == cast.org_a, org
    assert client.session["org_id"] == str(cast.org_a.pk)
    assert User.objects.get(pk=cast.sam.pk).last_organization_id != cast.org_b.pk


def test_a_forged_session_organisation_falls_back_to_a_real_membership(cast):
    client = web_client(cast.sam)
    session = client.session
    session["org_id"] = str(cast.org_b.pk)
    session.save()
    page = client.get("/")
    assert page.context["current_organization"] == cast.org_a
    assert client.session["org_id"] == str(cast.org_a.pk)
