"""The second sign-in step: TOTP codes (once each), recovery codes (once each), expiry."""

from django.test import Client

from custos.accounts.models import User
from custos.accounts.services import recovery_codes_regenerate
from custos.accounts.tests.helpers import a_wrong_code, audit_entries, html_text, sign_in, signed_in_user_id
from custos.testing import TOTP_SECRET, current_code
from custos.web.views.auth import PENDING, PENDING_SECONDS

CODE_REFUSED = "This code is not valid. Enter the current code from your app, or a recovery code."


def _password_step(client, email="olive@acme.example", **data):
    response = sign_in(client, email, **data)
    assert response.status_code == 302
    assert response["Location"] == "/login/code/"
    return response


def test_a_user_with_two_factor_gets_the_code_step_and_is_not_yet_signed_in(cast):
    client = Client()
    _password_step(client)
    assert signed_in_user_id(client) is None
    page = client.get("/login/code/")
    assert page.status_code == 200
    assert 'name="code"' in html_text(page)
    assert client.get("/").status_code == 302


def test_a_wrong_code_is_refused(cast):
    client = Client()
    _password_step(client)
    response = client.post("/login/code/", {"code": a_wrong_code(TOTP_SECRET)})
    assert response.status_code == 200
    assert response.context["form"].errors == {"code": [CODE_REFUSED]}
    assert signed_in_user_id(client) is None
    (entry,) = audit_entries(cast.org_a, "auth.second_factor_failed")
    assert entry.object_id == str(cast.olive.pk)


def test_the_current_code_signs_in(cast):
    client = Client()
    _password_step(client, next="/account/")
    response = client.post("/login/code/", {"code": current_code()})
    assert response.status_code == 302
    assert response["Location"] == "/account/"
    assert signed_in_user_id(client) == str(cast.olive.pk)
    assert PENDING not in client.session
    assert len(audit_entries(cast.org_a, "auth.sign_in")) == 1


def test_a_code_with_spaces_is_read_as_its_digits(cast):
    code = current_code()
    client = Client()
    _password_step(client)
    client.post("/login/code/", {"code": f"{code[:3]} {code[3:]}"})
    assert signed_in_user_id(client) == str(cast.olive.pk)


def test_a_code_cannot_be_used_twice(cast):
    code = current_code()
    first = Client()
    _password_step(first)
    first.post("/login/code/", {"code": code})
    assert signed_in_user_id(first) == str(cast.olive.pk)

    second = Client()
    _password_step(second)
    response = second.post("/login/code/", {"code": code})
    assert response.context["form"].errors == {"code": [CODE_REFUSED]}
    assert signed_in_user_id(second) is None


def test_a_recovery_code_signs_in_once(cast):
    codes = recovery_codes_regenerate(cast.olive)
    first = Client()
    _password_step(first)
    first.post("/login/code/", {"code": codes[3]})
    assert signed_in_user_id(first) == str(cast.olive.pk)
    assert len(User.objects.get(pk=cast.olive.pk).recovery_code_hashes) == 9

    second = Client()
    _password_step(second)
    response = second.post("/login/code/", {"code": codes[3]})
    assert response.context["form"].errors == {"code": [CODE_REFUSED]}
    assert signed_in_user_id(second) is None

    third = Client()
    _password_step(third)
    third.post("/login/code/", {"code": codes[4].upper()})
    assert signed_in_user_id(third) == str(cast.olive.pk)


def test_the_pending_step_expires(cast):
    client = Client()
    _password_step(client)
    session = client.session
    session[PENDING] = {**session[PENDING], "at": session[PENDING]["at"] - PENDING_SECONDS - 1}
    session.save()
    response = client.post("/login/code/", {"code": current_code()}, follow=True)
    assert response.redirect_chain == [("/login/", 302)]
    assert "Please sign in again." in html_text(response)
    assert signed_in_user_id(client) is None


def test_the_code_step_without_a_password_step_goes_back_to_sign_in(cast):
    response = Client().post("/login/code/", {"code": current_code()})
    assert response.status_code == 302
    assert response["Location"] == "/login/"


def test_failed_codes_count_towards_the_account_lock(cast, settings):
    settings.CUSTOS_LOGIN_MAX_FAILURES = 2
    client = Client()
    _password_step(client)
    wrong = a_wrong_code(TOTP_SECRET)
    client.post("/login/code/", {"code": wrong})
    client.post("/login/code/", {"code": wrong})
    response = client.post("/login/code/", {"code": current_code()})
    assert signed_in_user_id(client) is None
    assert "Too many failed sign-ins for this account." in html_text(response)
