"""The platform operators' admin sits behind Custos's own sign-in and second factor."""

from django.test import Client

from custos.accounts.models import User
from custos.testing import PASSWORD, enable_two_factor, web_client


def _operator(two_factor: bool) -> User:
    user = User.objects.create_user("operator@custos.example", PASSWORD, is_staff=True, is_superuser=True)
    if two_factor:
        enable_two_factor(user)
    return user


def test_the_admin_login_form_is_replaced_by_the_custos_sign_in(db):
    response = Client().get("/platform-admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/platform-admin/login/")
    login = Client().get(response["Location"])
    assert (login.status_code, login["Location"]) == (302, "/login/?next=%2Fplatform-admin%2F")
    # Django's own password form is never offered, so its lack of lockout and 2FA does not matter.
    assert (
        Client()
        .post("/platform-admin/login/", {"username": "operator@custos.example", "password": PASSWORD})
        .status_code
        == 302
    )


def test_an_operator_with_a_second_factor_gets_in(db):
    client = web_client(_operator(two_factor=True))
    assert client.get("/platform-admin/").status_code == 200
    assert client.get("/platform-admin/core/organization/").status_code == 200


def test_an_operator_without_a_second_factor_is_refused(db):
    client = web_client(_operator(two_factor=False))
    response = client.get("/platform-admin/", follow=True)
    assert response.status_code == 403


def test_a_tenant_owner_is_no_operator(cast):
    assert web_client(cast.olive).get("/platform-admin/", follow=True).status_code == 403


def test_the_admin_shows_no_tenant_data_and_cannot_add_organisations(db):
    client = web_client(_operator(two_factor=True))
    assert client.get("/platform-admin/crm/contact/").status_code == 404
    assert client.get("/platform-admin/core/organization/add/").status_code == 403
