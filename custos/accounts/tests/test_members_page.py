"""Members on the members pages: add, change role, remove; each audited; tokens die with removal."""

from django.test import Client

from custos.accounts.models import ApiToken, Membership, User
from custos.accounts.tests.helpers import (
    add_member,
    audit_entries,
    find,
    messages_of,
    role,
    sign_in,
    signed_in_user_id,
)
from custos.testing import api_client, run_tasks, web_client


def _link_in(message) -> str:
    return find(r"(http://\S+/password-reset/\S+/)", message.get_content())


def test_an_admin_adds_a_new_person_who_chooses_a_password_from_the_invitation(cast, smtp_server):
    admin = web_client(cast.alice)
    response = admin.post("/settings/members/", {"email": "Nina@Acme.example", "role": role(cast.org_a, "sales").pk})
    assert (response.status_code, response["Location"]) == (302, "/settings/members/")
    page = admin.get("/settings/members/")
    assert "nina@acme.example is now a member. An email tells them how to sign in." in messages_of(page)

    nina = User.objects.get(email="nina@acme.example")
    assert not nina.has_usable_password()  # nobody, the admin included, knows a password of hers
    membership = Membership.objects.select_related("role").get(user=nina, org=cast.org_a)
    assert membership.role.key == "sales"
    (entry,) = audit_entries(cast.org_a, "member.add")[-1:]
    assert (entry.object_id, entry.extra, entry.actor_user_id) == (str(nina.pk), {"role": "sales"}, cast.alice.pk)

    run_tasks()
    (mail,) = smtp_server.sent_to("nina@acme.example")
    assert "Acme Praxis" in mail["Subject"]
    link = _link_in(mail).removeprefix("http://127.0.0.1:8000")
    client = Client()
    form_page = client.get(link, follow=True)
    new_password = "a-long-new-password-for-nina"
    client.post(form_page.redirect_chain[-1][0], {"new_password1": new_password, "new_password2": new_password})
    sign_in(Client(), "nina@acme.example", new_password)
    signed = Client()
    sign_in(signed, "nina@acme.example", new_password)
    assert signed_in_user_id(signed) == str(nina.pk)


def test_adding_a_person_with_an_account_elsewhere_looks_the_same_and_keeps_their_password(cast, smtp_server):
    admin = web_client(cast.alice)
    response = admin.post(
        "/settings/members/", {"email": "mallory@bravo.example", "role": role(cast.org_a, "support").pk}
    )
    assert (response.status_code, response["Location"]) == (302, "/settings/members/")
    assert messages_of(admin.get("/settings/members/")) == [
        "mallory@bravo.example is now a member. An email tells them how to sign in."
    ]
    assert Membership.objects.get(user=cast.mallory, org=cast.org_a).role_id == role(cast.org_a, "support").pk
    assert User.objects.get(pk=cast.mallory.pk).has_usable_password()
    run_tasks()
    (mail,) = smtp_server.sent_to("mallory@bravo.example")
    assert "/password-reset/" not in mail.get_content()
    assert f"/?org={cast.org_a.pk}" in mail.get_content()  # signed in, then in this organisation


def test_adding_an_existing_member_again_is_refused_naming_the_field(cast):
    response = web_client(cast.alice).post(
        "/settings/members/", {"email": "sam@acme.example", "role": role(cast.org_a, "admin").pk}
    )
    assert response.context["form"].errors == {"email": ["This person is already a member."]}
    assert Membership.objects.get(user=cast.sam, org=cast.org_a).role_id == role(cast.org_a, "sales").pk


def test_a_bad_email_or_a_foreign_role_is_refused_naming_the_field(cast):
    admin = web_client(cast.alice)
    bad_email = admin.post("/settings/members/", {"email": "not-an-email", "role": role(cast.org_a, "sales").pk})
    assert list(bad_email.context["form"].errors) == ["email"]
    foreign = admin.post("/settings/members/", {"email": "x@acme.example", "role": role(cast.org_b, "sales").pk})
    assert list(foreign.context["form"].errors) == ["role"]
    assert not User.objects.filter(email__in=["not-an-email", "x@acme.example"]).exists()
    assert len(audit_entries(cast.org_a, "member.add")) == 4  # the cast's own


def test_an_admin_changes_a_members_role(cast):
    membership = cast.membership(cast.sam)
    response = web_client(cast.alice).post(
        f"/settings/members/{membership.pk}/", {"role": role(cast.org_a, "manager").pk}
    )
    assert response["Location"] == "/settings/members/"
    membership.refresh_from_db()
    assert membership.role_id == role(cast.org_a, "manager").pk
    (entry,) = audit_entries(cast.org_a, "member.role_change")
    assert (entry.object_id, entry.extra) == (str(cast.sam.pk), {"from": "sales", "to": "manager"})


def test_a_role_change_takes_effect_on_the_next_request(cast):
    client = api_client(cast, cast.sam, "write")
    assert client.get("/api/v1/me").json()["role"] == "sales"
    web_client(cast.alice).post(
        f"/settings/members/{cast.membership(cast.sam).pk}/", {"role": role(cast.org_a, "read_only").pk}
    )
    me = client.get("/api/v1/me").json()
    assert me["role"] == "read_only"
    assert "contact.add" not in me["permissions"]


def test_an_admin_removes_a_member_whose_tokens_are_revoked(cast):
    sams_api = api_client(cast, cast.sam, "write")
    assert sams_api.get("/api/v1/me").status_code == 200
    sams_browser = web_client(cast.sam)
    membership = cast.membership(cast.sam)

    response = web_client(cast.alice).post(f"/settings/members/{membership.pk}/remove/", follow=True)
    assert "The member is removed." in messages_of(response)
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert all(t.revoked_at is not None for t in ApiToken.objects.filter(user=cast.sam))
    assert sams_api.get("/api/v1/me").status_code == 401
    after = sams_browser.get("/contacts/")
    assert after.status_code == 403
    assert "You are not a member of any organisation" in after.content.decode()
    (entry,) = audit_entries(cast.org_a, "member.remove")
    assert (entry.object_id, entry.actor_user_id) == (str(cast.sam.pk), cast.alice.pk)
    User.objects.get(pk=cast.sam.pk)  # the account itself stays; it may belong to other organisations


def test_removal_revokes_only_that_organisations_tokens(cast):
    add_member(cast, "sam@acme.example", "sales", org=cast.org_b)
    in_b = api_client(cast, cast.sam, "read", org=cast.org_b)
    web_client(cast.alice).post(f"/settings/members/{cast.membership(cast.sam).pk}/remove/")
    assert in_b.get("/api/v1/me").json()["organization"] == cast.org_b.slug


def test_the_last_owner_cannot_be_demoted(cast):
    owner = web_client(cast.olive)
    membership = cast.membership(cast.olive)
    response = owner.post(f"/settings/members/{membership.pk}/", {"role": role(cast.org_a, "admin").pk})
    assert response.status_code == 200
    assert response.context["form"].errors == {"role": ["An organisation needs at least one owner."]}
    membership.refresh_from_db()
    assert membership.role_id == role(cast.org_a, "owner").pk
    assert audit_entries(cast.org_a, "member.role_change") == []


def test_the_last_owner_cannot_be_removed(cast):
    membership = cast.membership(cast.olive)
    response = web_client(cast.olive).post(f"/settings/members/{membership.pk}/remove/", follow=True)
    assert "An organisation needs at least one owner." in messages_of(response)
    assert Membership.objects.filter(pk=membership.pk).exists()
    assert audit_entries(cast.org_a, "member.remove") == []


def test_with_a_second_owner_an_owner_may_step_down(cast):
    owner = web_client(cast.olive)
    owner.post(f"/settings/members/{cast.membership(cast.alice).pk}/", {"role": role(cast.org_a, "owner").pk})
    response = owner.post(
        f"/settings/members/{cast.membership(cast.olive).pk}/", {"role": role(cast.org_a, "admin").pk}
    )
    assert response["Location"] == "/settings/members/"
    assert cast.membership(cast.olive).role.key == "admin"
    assert cast.membership(cast.alice).role.key == "owner"


def test_the_members_page_says_when_each_last_signed_in(cast):
    """An access review starts here: who has not signed in for months may not need access."""
    sign_in(Client(), "sam@acme.example")

    page = web_client(cast.alice).get("/settings/members/").content.decode()

    rows = {row.split("</td>")[0].split(">")[-1]: row for row in page.split("<tr>")[2:]}
    assert "never" not in rows["sam@acme.example"]
    assert ">never</td>" in rows["bob@acme.example"]
