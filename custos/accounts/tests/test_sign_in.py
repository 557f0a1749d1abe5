"""Signing in with email and password: sessions, the same answer for every failure, audit."""

from django.test import Client

from custos.accounts.tests.helpers import add_member, audit_entries, html_text, sign_in, signed_in_user_id
from custos.testing import PASSWORD

WRONG = "The email or the password is wrong."


def test_the_right_password_signs_in(cast):
    client = Client()
    response = sign_in(client, "sam@acme.example")
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert signed_in_user_id(client) == str(cast.sam.pk)
    assert client.get("/").status_code == 200


def test_the_email_is_matched_without_regard_to_case(cast):
    client = Client()
    sign_in(client, "  Sam@ACME.example")
    assert signed_in_user_id(client) == str(cast.sam.pk)


def test_a_wrong_password_is_refused_and_signs_nothing_in(cast):
    client = Client()
    response = sign_in(client, "sam@acme.example", "not-the-password")
    assert response.status_code == 200
    assert WRONG in html_text(response)
    assert signed_in_user_id(client) is None
    assert client.get("/").status_code == 302


def test_an_unknown_email_gets_the_same_answer_as_a_wrong_password(cast):
    unknown = sign_in(Client(), "nobody@acme.example", "not-the-password")
    wrong = sign_in(Client(), "sam@acme.example", "not-the-password")
    assert unknown.status_code == wrong.status_code == 200
    assert WRONG in html_text(unknown)
    assert list(unknown.context["form"].non_field_errors()) == list(wrong.context["form"].non_field_errors()) == [WRONG]


def test_an_inactive_account_cannot_sign_in(cast):
    cast.sam.is_active = False
    cast.sam.save()
    client = Client()
    response = sign_in(client, "sam@acme.example")
    assert WRONG in html_text(response)
    assert signed_in_user_id(client) is None


def test_a_successful_sign_in_is_audited_with_the_address_and_no_credentials(cast):
    sign_in(Client(), "sam@acme.example", ip="198.51.100.23", user_agent="Firefox/140")
    (entry,) = audit_entries(cast.org_a, "auth.sign_in")
    assert (entry.actor_user_id, entry.object_type, entry.object_id) == (cast.sam.pk, "user", str(cast.sam.pk))
    assert entry.ip == "198.51.100.23"
    assert entry.via == "web"
    assert entry.user_agent == "Firefox/140"
    _assert_no_credentials(entry)
    assert audit_entries(cast.org_b, "auth.sign_in") == []


def test_a_failed_sign_in_is_audited_with_the_address_and_no_credentials(cast):
    sign_in(Client(), "sam@acme.example", "a-guess-123", ip="198.51.100.24")
    (entry,) = audit_entries(cast.org_a, "auth.sign_in_failed")
    assert (entry.object_type, entry.object_id, entry.ip) == ("user", str(cast.sam.pk), "198.51.100.24")
    _assert_no_credentials(entry, "a-guess-123")
    assert audit_entries(cast.org_a, "auth.sign_in") == []


def test_a_sign_in_is_audited_where_the_person_works_not_where_someone_added_them(cast):
    """Any organisation can add an existing account: it must not learn from it where and when
    the person signs in, or fails to, elsewhere."""
    add_member(cast, "sam@acme.example", "sales", org=cast.org_b)
    sign_in(Client(), "sam@acme.example", ip="198.51.100.25")
    sign_in(Client(), "sam@acme.example", "a-guess-123", ip="203.0.113.9")
    assert [e.ip for e in audit_entries(cast.org_a, "auth.sign_in")] == ["198.51.100.25"]
    assert [e.ip for e in audit_entries(cast.org_a, "auth.sign_in_failed")] == ["203.0.113.9"]
    assert audit_entries(cast.org_b, "auth.sign_in") == audit_entries(cast.org_b, "auth.sign_in_failed") == []


def _assert_no_credentials(entry, *extra_secrets):
    stored = " ".join(
        str(v) for v in (entry.object_id, entry.fields, entry.extra, entry.user_agent, entry.action, entry.object_type)
    )
    for secret in ("sam@acme.example", PASSWORD, *extra_secrets):
        assert secret not in stored


def test_next_leads_to_a_page_on_this_site(cast):
    client = Client()
    response = sign_in(client, "sam@acme.example", next="/account/")
    assert response["Location"] == "/account/"


def test_next_from_the_query_string_is_followed_too(cast):
    client = Client()
    response = client.post(
        "/login/?next=/account/tokens/", {"email": "sam@acme.example", "password": PASSWORD}, REMOTE_ADDR="127.0.0.1"
    )
    assert response["Location"] == "/account/tokens/"


def test_next_never_leads_to_another_site(cast):
    for target in ("https://evil.example/", "//evil.example/path", "http://testserver.evil.example/", "javascript:x"):
        client = Client()
        response = sign_in(client, "sam@acme.example", next=target)
        assert response["Location"] == "/", target
        assert signed_in_user_id(client) == str(cast.sam.pk)


def test_a_next_that_is_no_path_leads_home(cast):
    """Found by the form fuzzing: Django's `redirect` took "-1" for a view's name (a 500)."""
    for target in ("-1", "home", "web:home"):
        client = Client()
        response = sign_in(client, "sam@acme.example", next=target)
        assert response["Location"] == "/", target


def test_a_page_that_needs_sign_in_sends_there_with_next(cast):
    response = Client().get("/account/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/account/"
