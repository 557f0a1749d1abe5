"""A member of several organisations switches between them; nobody switches into a stranger's."""

from urllib.parse import parse_qsl, urlsplit

from django.test import Client

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


def _task_in_bravo(cast):
    """A task in Bravo assigned to Sam, who is a member of Acme and Bravo and works in Acme."""
    from custos.core.tenancy import tenant_scope
    from custos.crm.services.activities import activity_create
    from custos.crm.services.people import contact_create

    sam = add_member(cast, "sam@acme.example", "sales", org=cast.org_b)
    with tenant_scope(cast.org_b):
        actor = cast.actor(cast.mallory, cast.org_b)
        contact = contact_create(actor=actor, data={"last_name": "Nowak", "owner": str(sam.pk)})
        return activity_create(
            actor=actor,
            data={
                "kind": "task",
                "title": "Ring back",
                "contact": str(contact.pk),
                "owner": str(sam.pk),
                "due_at": "2030-01-02T10:00:00+01:00",
            },
        )


def _path(link: str) -> str:
    """A mail's absolute link as the test client asks for it."""
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


def test_a_mails_link_opens_its_page_in_its_own_organisation(cast):
    from custos.core.net import staff_link

    task = _task_in_bravo(cast)
    client = web_client(cast.sam)
    assert client.get(f"/activities/{task.pk}/edit/").status_code == 404  # working in Acme

    link = staff_link(cast.org_b.pk, f"/activities/{task.pk}/edit/")
    response = client.get(f"{_path(link)}&next=%2Ftasks%2F", follow=True)
    assert response.redirect_chain == [(f"/activities/{task.pk}/edit/?next=%2Ftasks%2F", 302)]
    assert response.status_code == 200
    assert "You are now working in Bravo Handel." in html_text(response)
    assert response.context["current_organization"] == cast.org_b
    assert User.objects.get(pk=cast.sam.pk).last_organization_id == cast.org_b.pk
    # Already there: straight to the page, no message.
    again = client.get(_path(link), follow=True)
    assert again.redirect_chain == [(f"/activities/{task.pk}/edit/", 302)]
    assert "You are now working in" not in html_text(again)


def test_a_link_naming_an_organisation_one_is_not_a_member_of_switches_nothing(cast):
    from custos.core.net import staff_link

    client = web_client(cast.sam)
    response = client.get(_path(staff_link(cast.org_b.pk, "/contacts/")), follow=True)
    assert response.redirect_chain == [("/contacts/", 302)]
    assert "You are not a member of that organisation." in html_text(response)
    assert response.context["current_organization"] == cast.org_a
    assert client.session["org_id"] == str(cast.org_a.pk)
    assert User.objects.get(pk=cast.sam.pk).last_organization_id != cast.org_b.pk


def test_only_a_link_this_server_signed_switches(cast):
    """Another site may link to any page with any organisation's id: nobody is switched by
    that, nor by a signature made for another page or organisation."""
    from custos.core.net import staff_link

    task = _task_in_bravo(cast)
    client = web_client(cast.sam)
    assert client.get("/").context["current_organization"] == cast.org_a
    page = f"/activities/{task.pk}/edit/"
    signature = dict(parse_qsl(urlsplit(staff_link(cast.org_b.pk, "/contacts/")).query))["sig"]
    for query in (
        f"org={cast.org_b.pk}",
        f"org={cast.org_b.pk}&sig=",
        f"org={cast.org_b.pk}&sig={signature}",  # another page's
        "org=",
    ):
        response = client.get(f"{page}?{query}", follow=True)
        assert response.redirect_chain == [(page, 302)], query
        assert response.status_code == 404, query  # the task is Bravo's; Sam works in Acme
        assert client.session["org_id"] == str(cast.org_a.pk), query


def test_a_link_never_leads_off_the_site(cast):
    """A path that would read as another host once redirected to ("//evil.example/") stays a
    path of this site, and an encoded path is not decoded into another one."""
    client = web_client(cast.sam)
    for path, expected in (
        ("//evil.example/", "/%2Fevil.example/"),
        ("/contacts/?q=x/", "/contacts/%3Fq%3Dx/"),  # "/contacts/%3Fq%3Dx/" as the server decodes it
    ):
        response = client.get("/", {"org": str(cast.org_a.pk)}, PATH_INFO=path)  # as the server hands it on
        assert (response.status_code, response["Location"]) == (302, expected), path


def test_an_image_or_frame_on_another_site_switches_nobody(cast):
    from custos.core.net import staff_link

    task = _task_in_bravo(cast)
    client = web_client(cast.sam)
    assert client.get("/").context["current_organization"] == cast.org_a
    link = _path(staff_link(cast.org_b.pk, f"/activities/{task.pk}/edit/"))
    for destination in ("image", "iframe", "script", "empty"):
        client.get(link, headers={"Sec-Fetch-Dest": destination})
        assert client.session["org_id"] == str(cast.org_a.pk), destination
    client.get(link, headers={"Sec-Fetch-Dest": "document"})
    assert client.session["org_id"] == str(cast.org_b.pk)


def test_an_invitation_to_a_further_organisation_signs_in_there(cast, smtp_server):
    from custos.accounts.tasks import send_invitation

    add_member(cast, "sam@acme.example", "sales", org=cast.org_b)
    send_invitation.call(str(cast.sam.pk), str(cast.org_b.pk))
    (message,) = smtp_server.wait_for(1)
    body = message.get_payload(decode=True).decode()
    link = next(word for word in body.split() if word.startswith("http"))
    assert _path(link).startswith(f"/?org={cast.org_b.pk}&sig=")

    signing_in = Client().get(_path(link))
    assert signing_in.status_code == 302 and signing_in["Location"].startswith("/login/?next=/%3Forg%3D")
    home = web_client(cast.sam).get(_path(link), follow=True)
    assert home.context["current_organization"] == cast.org_b
