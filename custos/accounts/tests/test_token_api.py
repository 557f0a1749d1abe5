"""Using API tokens: who they speak for, revocation, expiry, scopes, last use, audit."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from custos.accounts.access import actor_for
from custos.accounts.models import ApiToken
from custos.accounts.services import token_create, token_revoke
from custos.accounts.tests.helpers import add_member, audit_count, audit_entries
from custos.core.actor import Via
from custos.core.errors import ValidationFailed
from custos.core.tenancy import tenant_scope
from custos.crm.models import Contact
from custos.testing import api_client


def _token(cast, user, scopes=("read",), expires_days=90):
    with tenant_scope(cast.org_a):
        return token_create(
            actor=actor_for(cast.membership(user), via=Via.CLI),
            name="t",
            scopes=list(scopes),
            expires_days=expires_days,
        )


def _bearer(plaintext):
    return Client(headers={"Authorization": f"Bearer {plaintext}"})


def _contacts(org):
    with tenant_scope(org):
        return Contact.objects.count()


def test_a_token_speaks_for_its_member_and_organisation(cast):
    _, plaintext = _token(cast, cast.sam, ["write"])
    response = _bearer(plaintext).get("/api/v1/me")
    assert response.status_code == 200
    body = response.json()
    assert (body["user"], body["email"], body["organization"], body["role"]) == (
        str(cast.sam.pk),
        "sam@acme.example",
        cast.org_a.slug,
        "sales",
    )
    assert "contact.add" in body["permissions"]
    assert "member.add" not in body["permissions"]


def test_no_token_or_an_unknown_token_is_refused_with_401(cast):
    for headers in ({}, {"Authorization": "Bearer cst_not-a-real-token"}, {"Authorization": "Basic abc"}):
        response = Client(headers=headers).get("/api/v1/me")
        assert response.status_code == 401, headers
        assert response["Content-Type"].startswith("application/problem+json")
        assert response["WWW-Authenticate"] == 'Bearer realm="custos"'


def test_a_revoked_token_is_refused(cast):
    token, plaintext = _token(cast, cast.sam)
    assert _bearer(plaintext).get("/api/v1/me").status_code == 200
    with tenant_scope(cast.org_a):
        token_revoke(actor=cast.actor(cast.sam), token=token)
    assert _bearer(plaintext).get("/api/v1/me").status_code == 401


def test_an_expired_token_is_refused(cast):
    token, plaintext = _token(cast, cast.sam, expires_days=1)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = _bearer(plaintext).get("/api/v1/me")
    assert response.status_code == 401


def test_a_token_of_a_deactivated_user_is_refused(cast):
    _, plaintext = _token(cast, cast.sam)
    cast.sam.is_active = False
    cast.sam.save()
    assert _bearer(plaintext).get("/api/v1/me").status_code == 401


def test_a_read_token_cannot_write_and_the_refusal_changes_nothing(cast):
    client = api_client(cast, cast.sam, "read")
    assert client.get("/api/v1/contacts").status_code == 200  # first use is audited as token.use
    contacts, entries = _contacts(cast.org_a), audit_count(cast.org_a)
    response = client.post("/api/v1/contacts", {"last_name": "Nowak"}, content_type="application/json")
    assert response.status_code == 403
    assert response["Content-Type"].startswith("application/problem+json")
    assert _contacts(cast.org_a) == contacts
    assert audit_count(cast.org_a) == entries


def test_a_write_token_can_write(cast):
    client = api_client(cast, cast.sam, "write")
    response = client.post("/api/v1/contacts", {"last_name": "Nowak"}, content_type="application/json")
    assert response.status_code == 201
    assert response.json()["owner"] == str(cast.sam.pk)
    assert _contacts(cast.org_a) == 1


def test_an_area_scope_reaches_only_its_area(cast):
    client = api_client(cast, cast.alice, "finance:write")
    me = client.get("/api/v1/me").json()
    assert "invoice.add" in me["permissions"]
    assert "contact.view" not in me["permissions"]
    assert client.get("/api/v1/contacts").status_code == 403


def test_scopes_narrow_a_members_rights_and_never_widen_them(cast):
    me = api_client(cast, cast.bob, "write").get("/api/v1/me").json()
    assert me["role"] == "read_only"
    assert not any(p.endswith((".add", ".change", ".delete")) for p in me["permissions"])
    assert (
        api_client(cast, cast.bob, "write")
        .post("/api/v1/contacts", {"last_name": "Nowak"}, content_type="application/json")
        .status_code
        == 403
    )


def test_using_a_token_records_its_last_use_and_an_audit_entry(cast):
    token, plaintext = _token(cast, cast.sam)
    assert token.last_used_at is None
    before = timezone.now()
    _bearer(plaintext).get("/api/v1/me", headers={"User-Agent": "sync/1.0"}, REMOTE_ADDR="192.0.2.44")
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert token.last_used_at >= before
    (entry,) = audit_entries(cast.org_a, "token.use")
    assert (entry.object_type, entry.object_id, entry.actor_user_id, entry.via) == (
        "token",
        str(token.pk),
        cast.sam.pk,
        "api",
    )
    assert (entry.ip, entry.user_agent) == ("192.0.2.44", "sync/1.0")


def test_use_within_a_minute_is_recorded_once(cast):
    _, plaintext = _token(cast, cast.sam)
    client = _bearer(plaintext)
    for _ in range(3):
        client.get("/api/v1/me")
    assert len(audit_entries(cast.org_a, "token.use")) == 1


@pytest.mark.parametrize(
    ("scopes", "expires_days", "field"),
    [
        (["everything"], 30, "scopes"),
        ([], 30, "scopes"),
        (["read"], 0, "expires_days"),
        (["read"], 5000, "expires_days"),
    ],
)
def test_bad_token_input_names_the_field_and_creates_nothing(cast, scopes, expires_days, field):
    with pytest.raises(ValidationFailed) as raised:
        _token(cast, cast.sam, scopes, expires_days=expires_days)
    assert [e.field for e in raised.value.errors] == [field]
    assert not ApiToken.objects.exists()
    assert audit_entries(cast.org_a, "token.create") == []


def test_a_token_without_a_name_is_refused(cast):
    with tenant_scope(cast.org_a), pytest.raises(ValidationFailed) as raised:
        token_create(actor=cast.actor(cast.sam), name=" ", scopes=["read"])
    assert [e.field for e in raised.value.errors] == ["name"]


def test_a_token_of_one_organisation_does_not_reach_another(cast):
    add_member(cast, "sam@acme.example", "sales", org=cast.org_b)
    _, plaintext = _token(cast, cast.sam, ["write"])
    assert _bearer(plaintext).get("/api/v1/me").json()["organization"] == cast.org_a.slug
