"""Creating and revoking API tokens on the tokens page: shown once, stored as a hash only."""

import hashlib
import re

from django.db import connection
from django.test import Client

from custos.accounts.models import ApiToken
from custos.accounts.services import token_create
from custos.accounts.tests.helpers import audit_entries, html_text
from custos.core.tenancy import tenant_scope
from custos.testing import web_client

TOKEN_ON_PAGE = re.compile(r'<code class="secret" id="new-token">(cst_[A-Za-z0-9_-]+)</code>')


def _create(client, headers=None, **fields):
    data = {"name": "Invoice sync", "scopes": ["read"], "expires_days": "30", **fields}
    return client.post("/account/tokens/", data, headers=headers or {})


def _made_elsewhere(cast, user):
    """A token made by the service, for tests about what the page does with existing tokens."""
    with tenant_scope(cast.org_a):
        return token_create(actor=cast.actor(user), name="Invoice sync", scopes=["read"], expires_days=30)


def _plaintext(response) -> str:
    (token,) = TOKEN_ON_PAGE.findall(html_text(response))
    return token


def test_a_token_created_on_the_page_is_shown_once_and_works(cast):
    client = web_client(cast.sam)
    response = _create(client)
    assert response.status_code == 200
    plaintext = _plaintext(response)
    assert "<html" in html_text(response)

    (token,) = ApiToken.objects.filter(user=cast.sam)
    assert (token.name, token.scopes, token.org_id) == ("Invoice sync", ["read"], cast.org_a.pk)
    assert 29 <= (token.expires_at - token.created_at).days <= 30
    me = Client(headers={"Authorization": f"Bearer {plaintext}"}).get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["email"] == "sam@acme.example"

    again = client.get("/account/tokens/")
    assert plaintext not in html_text(again)
    assert f"cst_{token.prefix}…" in html_text(again)
    (entry,) = audit_entries(cast.org_a, "token.create")
    assert (entry.object_id, entry.actor_user_id) == (str(token.pk), cast.sam.pk)
    assert plaintext not in str(entry.extra)


def test_a_token_created_through_htmx_answers_with_the_panel_only(cast):
    client = web_client(cast.sam)
    response = _create(client, headers={"HX-Request": "true"})
    assert response.status_code == 200
    text = html_text(response)
    assert text.lstrip().startswith('<div id="token-panel">')
    assert "<html" not in text
    plaintext = _plaintext(response)
    assert Client(headers={"Authorization": f"Bearer {plaintext}"}).get("/api/v1/me").status_code == 200


def test_only_the_sha256_of_a_token_is_stored_and_the_token_appears_nowhere_in_the_database(cast):
    plaintext = _plaintext(_create(web_client(cast.sam)))
    token = ApiToken.objects.get(user=cast.sam)
    assert token.token_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    secret = plaintext.removeprefix("cst_")
    # Outside a tenant scope the login role reads every row (on PostgreSQL, past RLS too).
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        for table in tables:
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                text = " ".join(str(value) for value in row)
                assert secret not in text, table
                assert secret[-20:] not in text, table


def test_a_token_revoked_on_the_page_is_refused(cast):
    client = web_client(cast.sam)
    token, plaintext = _made_elsewhere(cast, cast.sam)
    response = client.post(f"/account/tokens/{token.pk}/revoke/", follow=True)
    assert response.redirect_chain == [("/account/tokens/", 302)]
    assert "The token “Invoice sync” is revoked." in html_text(response)
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert [e.object_id for e in audit_entries(cast.org_a, "token.revoke")] == [str(token.pk)]
    refused = Client(headers={"Authorization": f"Bearer {plaintext}"}).get("/api/v1/me")
    assert refused.status_code == 401


def test_another_members_token_cannot_be_revoked_without_the_right(cast):
    token, plaintext = _made_elsewhere(cast, cast.sam)
    before = len(audit_entries(cast.org_a))
    response = web_client(cast.bob).post(f"/account/tokens/{token.pk}/revoke/")
    assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None
    assert len(audit_entries(cast.org_a)) == before
    assert Client(headers={"Authorization": f"Bearer {plaintext}"}).get("/api/v1/me").status_code == 200


def test_an_admin_revokes_a_members_token_from_the_organisation_list(cast):
    token, _ = _made_elsewhere(cast, cast.sam)
    admin = web_client(cast.alice)
    assert "Invoice sync" in html_text(admin.get("/settings/tokens/"))
    response = admin.post(f"/account/tokens/{token.pk}/revoke/", {"back": "all"})
    assert response["Location"] == "/settings/tokens/"
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_an_unknown_scope_is_refused_naming_the_field(cast):
    response = _create(web_client(cast.sam), scopes=["everything"])
    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["scopes"]
    assert not ApiToken.objects.exists()


def test_a_token_without_a_name_is_refused_naming_the_field(cast):
    response = _create(web_client(cast.sam), name="  ")
    assert list(response.context["form"].errors) == ["name"]
    assert not ApiToken.objects.exists()


def test_an_expiry_outside_one_to_3650_days_is_refused_naming_the_field(cast):
    client = web_client(cast.sam)
    for days in ("0", "5000", "-1", "soon"):
        response = _create(client, expires_days=days)
        assert list(response.context["form"].errors) == ["expires_days"], days
    assert not ApiToken.objects.exists()
    assert audit_entries(cast.org_a, "token.create") == []


def test_an_empty_expiry_makes_a_token_that_does_not_expire(cast):
    _create(web_client(cast.sam), expires_days="")
    assert ApiToken.objects.get(user=cast.sam).expires_at is None


def test_a_member_without_administration_rights_cannot_create_an_admin_token(cast):
    response = _create(web_client(cast.sam), scopes=["admin"])
    assert response.context["form"].errors == {"scopes": ["Only administrators can create admin tokens."]}
    assert not ApiToken.objects.exists()


def test_the_page_shows_when_a_token_was_last_used(cast):
    client = web_client(cast.sam)
    _, plaintext = _made_elsewhere(cast, cast.sam)
    assert "<td>not used yet</td>" in _row(client, "Invoice sync")
    Client(headers={"Authorization": f"Bearer {plaintext}"}).get("/api/v1/me")
    assert "<td>not used yet</td>" not in _row(client, "Invoice sync")


def _row(client, name: str) -> str:
    page = html_text(client.get("/account/tokens/"))
    return page.split(f"<td>{name}</td>")[1].split("</tr>")[0]
