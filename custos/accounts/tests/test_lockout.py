"""Lockout after repeated failed sign-ins, per account and per network address."""

import pytest
from django.test import Client

from custos.accounts.tests.helpers import audit_entries, html_text, sign_in, signed_in_user_id

ACCOUNT_LOCKED = (
    "Too many failed sign-ins for this account. It is locked for 15 minutes; try again later or reset your password."
)
NETWORK_LOCKED = "Too many failed sign-ins from your network. Try again in 15 minutes."


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.CUSTOS_LOGIN_MAX_FAILURES = 3
    settings.CUSTOS_LOGIN_MAX_FAILURES_PER_IP = 5
    settings.CUSTOS_LOGIN_LOCKOUT_SECONDS = 15 * 60


def _fail(email, times, ip):
    for n in range(times):
        response = sign_in(Client(), email, f"wrong-{n}", ip=ip)
        assert "The email or the password is wrong." in html_text(response)


def test_an_account_is_locked_after_the_allowed_failures_even_for_the_right_password(cast):
    _fail("sam@acme.example", 3, ip="198.51.100.1")
    client = Client()
    response = sign_in(client, "sam@acme.example", ip="198.51.100.2")
    assert response.status_code == 200
    assert list(response.context["form"].non_field_errors()) == [ACCOUNT_LOCKED]
    assert signed_in_user_id(client) is None


def test_failures_below_the_limit_do_not_lock(cast):
    _fail("sam@acme.example", 2, ip="198.51.100.1")
    client = Client()
    sign_in(client, "sam@acme.example", ip="198.51.100.1")
    assert signed_in_user_id(client) == str(cast.sam.pk)


def test_a_successful_sign_in_clears_the_account_count(cast):
    _fail("sam@acme.example", 2, ip="198.51.100.1")
    sign_in(Client(), "sam@acme.example", ip="198.51.100.1")
    _fail("sam@acme.example", 2, ip="198.51.100.3")
    client = Client()
    sign_in(client, "sam@acme.example", ip="198.51.100.3")
    assert signed_in_user_id(client) == str(cast.sam.pk)


def test_a_locked_account_does_not_lock_other_accounts(cast):
    _fail("sam@acme.example", 3, ip="198.51.100.1")
    client = Client()
    sign_in(client, "bob@acme.example", ip="198.51.100.9")
    assert signed_in_user_id(client) == str(cast.bob.pk)


def test_a_refused_attempt_on_a_locked_account_is_not_checked_against_the_password(cast):
    _fail("sam@acme.example", 3, ip="198.51.100.1")
    before = len(audit_entries(cast.org_a, "auth.sign_in_failed"))
    sign_in(Client(), "sam@acme.example", ip="198.51.100.1")
    assert len(audit_entries(cast.org_a, "auth.sign_in_failed")) == before == 3
    assert audit_entries(cast.org_a, "auth.sign_in") == []


def test_an_address_is_locked_after_the_allowed_failures_across_accounts(cast):
    for n in range(5):
        sign_in(Client(), f"guess{n}@acme.example", "wrong-password", ip="203.0.113.7")
    client = Client()
    response = sign_in(client, "bob@acme.example", ip="203.0.113.7")
    assert list(response.context["form"].non_field_errors()) == [NETWORK_LOCKED]
    assert signed_in_user_id(client) is None


def test_an_address_lock_does_not_touch_other_addresses(cast):
    for n in range(5):
        sign_in(Client(), f"guess{n}@acme.example", "wrong-password", ip="203.0.113.7")
    client = Client()
    sign_in(client, "bob@acme.example", ip="203.0.113.8")
    assert signed_in_user_id(client) == str(cast.bob.pk)


def test_unknown_emails_count_towards_their_own_lock(cast):
    _fail("nobody@acme.example", 3, ip="198.51.100.1")
    response = sign_in(Client(), "nobody@acme.example", "anything-at-all", ip="198.51.100.2")
    assert list(response.context["form"].non_field_errors()) == [ACCOUNT_LOCKED]
