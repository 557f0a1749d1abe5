"""Turning two-factor sign-in on and off on the security pages."""

import pyotp
from django.contrib.auth.hashers import check_password

from custos.accounts.models import User
from custos.accounts.tests.helpers import a_wrong_code, add_member, audit_entries, find, html_text
from custos.testing import TOTP_SECRET, current_code, enable_two_factor, web_client

SECRET_ON_PAGE = r'id="totp-secret">([A-Z2-7 ]+)</code>'


def _shown_secret(page) -> str:
    return find(SECRET_ON_PAGE, html_text(page)).replace(" ", "")


def test_the_setup_page_shows_a_key_and_a_qr_code(cast):
    client = web_client(cast.sam)
    page = client.get("/account/two-factor/")
    assert page.status_code == 200
    secret = _shown_secret(page)
    assert len(secret) == 32
    assert "<svg" in html_text(page)
    sam = User.objects.get(pk=cast.sam.pk)
    assert not sam.has_two_factor
    assert secret not in sam.totp_secret  # kept sealed, not in clear


def test_a_valid_code_turns_two_factor_on_and_shows_ten_recovery_codes_once(cast):
    client = web_client(cast.sam)
    secret = _shown_secret(client.get("/account/two-factor/"))
    response = client.post("/account/two-factor/", {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 200
    codes = response.context["codes"]
    assert len(codes) == 10
    assert len(set(codes)) == 10
    for code in codes:
        assert f"<li>{code}</li>" in html_text(response)

    sam = User.objects.get(pk=cast.sam.pk)
    assert sam.has_two_factor
    assert len(sam.recovery_code_hashes) == 10
    assert not any(code in sam.recovery_code_hashes for code in codes)
    assert all(check_password(code, stored) for code, stored in zip(codes, sam.recovery_code_hashes, strict=True))
    assert [e.action for e in audit_entries(cast.org_a, "auth.two_factor_enable")] == ["auth.two_factor_enable"]

    again = client.get("/account/two-factor/")
    assert again.status_code == 302
    assert again["Location"] == "/account/security/"
    security = client.get("/account/security/")
    assert not any(code in html_text(security) for code in codes)
    assert "You have 10 unused recovery codes." in html_text(security)


def test_a_wrong_code_during_setup_leaves_two_factor_off(cast):
    client = web_client(cast.sam)
    secret = _shown_secret(client.get("/account/two-factor/"))
    response = client.post("/account/two-factor/", {"code": a_wrong_code(secret)})
    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["code"]
    assert not User.objects.get(pk=cast.sam.pk).has_two_factor
    assert audit_entries(cast.org_a, "auth.two_factor_enable") == []


def test_the_key_shown_after_a_wrong_code_is_the_same_key(cast):
    client = web_client(cast.sam)
    secret = _shown_secret(client.get("/account/two-factor/"))
    retry = client.post("/account/two-factor/", {"code": a_wrong_code(secret)})
    assert _shown_secret(retry) == secret
    client.post("/account/two-factor/", {"code": pyotp.TOTP(secret).now()})
    assert User.objects.get(pk=cast.sam.pk).has_two_factor


def test_an_admin_without_two_factor_is_sent_to_setup_from_every_page(cast):
    ada = add_member(cast, "ada@acme.example", "admin")
    client = web_client(ada)
    for path in ("/", "/account/", "/account/security/", "/account/tokens/", "/contacts/", "/settings/members/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"] == "/account/two-factor/", path
    assert client.post("/settings/members/", {"email": "x@acme.example"})["Location"] == "/account/two-factor/"


def test_after_setup_the_admin_reaches_every_page(cast):
    ada = add_member(cast, "ada@acme.example", "admin")
    client = web_client(ada)
    secret = _shown_secret(client.get("/account/two-factor/"))
    client.post("/account/two-factor/", {"code": pyotp.TOTP(secret).now()})
    for path in ("/", "/account/", "/account/tokens/", "/settings/members/"):
        assert client.get(path).status_code == 200, path


def test_an_owner_without_two_factor_is_sent_to_setup(cast):
    User.objects.filter(pk=cast.olive.pk).update(totp_confirmed_at=None, totp_secret="")
    response = web_client(cast.olive).get("/settings/roles/")
    assert response["Location"] == "/account/two-factor/"


def test_a_sales_member_is_not_forced_when_the_organisation_does_not_require_it(cast):
    assert web_client(cast.sam).get("/").status_code == 200


def test_an_organisation_that_requires_two_factor_forces_it_on_sales(cast):
    owner = web_client(cast.olive)
    response = owner.post(
        "/settings/organization/", {"name": "Acme Praxis", "country": "DE", "require_two_factor": "on"}
    )
    assert response.status_code == 302
    cast.org_a.refresh_from_db()
    assert cast.org_a.require_two_factor is True

    sam = web_client(cast.sam)
    for path in ("/", "/contacts/", "/account/"):
        assert sam.get(path)["Location"] == "/account/two-factor/", path
    assert sam.get("/account/two-factor/").status_code == 200


def test_turning_two_factor_off_is_refused_for_an_admin(cast):
    client = web_client(cast.alice)
    response = client.post("/account/security/two-factor/disable/", {"code": current_code()}, follow=True)
    assert response.redirect_chain == [("/account/security/", 302)]
    assert "Your role or organisation requires a second factor, so it cannot be turned off." in html_text(response)
    assert User.objects.get(pk=cast.alice.pk).has_two_factor
    assert audit_entries(cast.org_a, "auth.two_factor_disable") == []


def test_turning_two_factor_off_is_refused_when_the_organisation_requires_it(cast):
    enable_two_factor(cast.sam)
    cast.org_a.require_two_factor = True
    cast.org_a.save()
    client = web_client(cast.sam)
    response = client.post("/account/security/two-factor/disable/", {"code": current_code()})
    assert response["Location"] == "/account/security/"
    assert User.objects.get(pk=cast.sam.pk).has_two_factor


def test_a_sales_member_may_turn_two_factor_off_with_a_valid_code(cast):
    enable_two_factor(cast.sam)
    client = web_client(cast.sam)
    refused = client.post("/account/security/two-factor/disable/", {"code": a_wrong_code(TOTP_SECRET)})
    assert refused.status_code == 200
    assert refused.context["form"].errors == {"code": ["This code is not valid."]}
    assert User.objects.get(pk=cast.sam.pk).has_two_factor
    response = client.post("/account/security/two-factor/disable/", {"code": current_code()})
    assert response["Location"] == "/account/security/"
    sam = User.objects.get(pk=cast.sam.pk)
    assert (sam.has_two_factor, sam.totp_secret, sam.recovery_code_hashes) == (False, "", [])
    assert len(audit_entries(cast.org_a, "auth.two_factor_disable")) == 1
