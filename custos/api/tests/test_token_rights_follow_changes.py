"""A token's rights are its member's rights now: every change applies to the very next request.

Each test first uses the token (so that whatever the process remembers about it is warm),
then changes something through the actions the UI uses, then asks again. The changes are
committed, as in production: on PostgreSQL the triggers that stamp them run at commit.
"""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from custos.accounts.models import AccessVersion, ApiToken, Membership, Role
from custos.accounts.services import (
    member_change_role,
    member_remove,
    role_update,
    team_create,
    team_delete,
    team_set_members,
)
from custos.accounts.tests.helpers import add_member
from custos.core.tenancy import tenant_scope
from custos.crm.services.people import contact_create
from custos.testing import api_client

JSON = "application/json"

pytestmark = pytest.mark.django_db(transaction=True)


def _as_owner(cast):
    return cast.actor(cast.olive)


def _contact(cast, last_name, owner):
    with tenant_scope(cast.org_a):
        contact = contact_create(actor=_as_owner(cast), data={"last_name": last_name, "owner": str(owner.pk)})
    return str(contact.pk)


def _membership(cast, user):
    return Membership.objects.get(user=user, org=cast.org_a)


def test_removing_a_member_refuses_their_token_at_once(cast):
    client = api_client(cast, cast.sam, "read")
    assert client.get("/api/v1/me").status_code == 200
    with tenant_scope(cast.org_a):
        member_remove(actor=_as_owner(cast), membership=_membership(cast, cast.sam))
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"


def test_a_deactivated_membership_refuses_the_token_at_once(cast):
    client = api_client(cast, cast.sam, "read")
    assert client.get("/api/v1/me").status_code == 200
    Membership.objects.filter(user=cast.sam, org=cast.org_a).update(is_active=False)
    assert client.get("/api/v1/me").status_code == 401


def test_a_changed_role_applies_to_the_next_request(cast):
    client = api_client(cast, cast.sam, "write")
    assert client.post("/api/v1/contacts", {"last_name": "Nowak"}, content_type=JSON).status_code == 201
    with tenant_scope(cast.org_a):
        member_change_role(
            actor=_as_owner(cast), membership=_membership(cast, cast.sam), role=Role.objects.get(key="read_only")
        )
    assert client.get("/api/v1/me").json()["role"] == "read_only"
    response = client.post("/api/v1/contacts", {"last_name": "Lind"}, content_type=JSON)
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"


def test_narrowing_a_role_applies_to_the_next_request(cast):
    contact_id = _contact(cast, "Nowak", cast.sam)
    client = api_client(cast, cast.sam, "read")
    assert client.get(f"/api/v1/contacts/{contact_id}").json()["phone"] == ""
    with tenant_scope(cast.org_a):
        sales = Role.objects.get(key="sales")
        role_update(
            actor=_as_owner(cast),
            role=sales,
            name=sales.name,
            permissions=list(sales.permissions),
            record_scope=sales.record_scope,
            hidden_fields=["contact.phone"],
        )
    assert client.get(f"/api/v1/contacts/{contact_id}").json()["phone"] is None
    with tenant_scope(cast.org_a):
        role_update(
            actor=_as_owner(cast),
            role=sales,
            name=sales.name,
            permissions=[p for p in sales.permissions if p != "contact.view"],
            record_scope=sales.record_scope,
            hidden_fields=["contact.phone"],
        )
    assert client.get(f"/api/v1/contacts/{contact_id}").status_code == 403


def test_leaving_a_team_hides_the_team_mates_records_at_once(cast):
    mia = add_member(cast, "mia@acme.example", "manager")  # the manager role sees its teams' records
    tom = add_member(cast, "tom@acme.example", "sales")
    toms = _contact(cast, "Toms", tom)
    with tenant_scope(cast.org_a):
        team = team_create(actor=_as_owner(cast), name="North")
        team_set_members(actor=_as_owner(cast), team=team, user_ids={mia.pk, tom.pk})
    client = api_client(cast, mia, "read")
    assert client.get(f"/api/v1/contacts/{toms}").status_code == 200
    with tenant_scope(cast.org_a):
        team_set_members(actor=_as_owner(cast), team=team, user_ids={mia.pk})
    response = client.get(f"/api/v1/contacts/{toms}")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


def test_leaving_a_team_narrows_the_lists_at_once(cast):
    """The list filters by the Actor's team mates (the single read checks them in SQL)."""
    mia = add_member(cast, "mia@acme.example", "manager")
    tom = add_member(cast, "tom@acme.example", "sales")
    _contact(cast, "Toms", tom)
    with tenant_scope(cast.org_a):
        team = team_create(actor=_as_owner(cast), name="North")
        team_set_members(actor=_as_owner(cast), team=team, user_ids={mia.pk, tom.pk})
    client = api_client(cast, mia, "read")
    listed = [c["last_name"] for c in client.get("/api/v1/contacts").json()["items"]]
    assert listed == ["Toms"]
    assert client.get("/api/v1/contacts").json()["items"]  # served by the remembered Actor
    with tenant_scope(cast.org_a):
        team_set_members(actor=_as_owner(cast), team=team, user_ids={mia.pk})
    assert client.get("/api/v1/contacts").json()["items"] == []
    with tenant_scope(cast.org_a):
        team_set_members(actor=_as_owner(cast), team=team, user_ids={mia.pk, tom.pk})
    assert len(client.get("/api/v1/contacts").json()["items"]) == 1
    with tenant_scope(cast.org_a):
        team_delete(actor=_as_owner(cast), team=team)
    assert client.get("/api/v1/contacts").json()["items"] == []


def test_a_deactivated_user_or_an_expired_token_is_refused_at_once(cast):
    client = api_client(cast, cast.sam, "read")
    assert client.get("/api/v1/me").status_code == 200
    assert client.get("/api/v1/me").status_code == 200
    type(cast.sam).objects.filter(pk=cast.sam.pk).update(is_active=False)
    assert client.get("/api/v1/me").status_code == 401
    type(cast.sam).objects.filter(pk=cast.sam.pk).update(is_active=True)
    assert client.get("/api/v1/me").status_code == 200
    ApiToken.objects.filter(user=cast.sam).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get("/api/v1/me").status_code == 401


def test_a_token_expiring_soon_is_read_in_full_every_time(cast):
    client = api_client(cast, cast.sam, "read")
    ApiToken.objects.filter(user=cast.sam).update(expires_at=timezone.now() + timedelta(seconds=30))
    assert client.get("/api/v1/me").status_code == 200
    with CaptureQueriesContext(connection) as statements:
        assert client.get("/api/v1/me").status_code == 200
    reads_token = (ApiToken._meta.db_table, "custos_token_use")
    assert any(name in s["sql"] for s in statements.captured_queries for name in reads_token)


class _RolledBack(Exception):
    pass


def test_rights_seen_inside_a_rolled_back_change_are_never_used_afterwards(cast):
    """A change rolled back leaves no version behind that later changes could meet again."""
    client = api_client(cast, cast.sam, "write")
    assert client.post("/api/v1/contacts", {"last_name": "Nowak"}, content_type=JSON).status_code == 201
    try:
        with transaction.atomic(), tenant_scope(cast.org_a):
            member_change_role(
                actor=_as_owner(cast), membership=_membership(cast, cast.sam), role=Role.objects.get(key="read_only")
            )
            assert client.post("/api/v1/contacts", {"last_name": "Lind"}, content_type=JSON).status_code == 403
            seen_inside = _version(cast)
            raise _RolledBack
    except _RolledBack:
        pass
    for _ in range(3):  # unrelated changes, committed: none of them meets the version seen inside
        api_client(cast, cast.olive, "read")
        assert _version(cast) != seen_inside
        assert client.post("/api/v1/contacts", {"last_name": "Lind"}, content_type=JSON).status_code == 201


def test_a_token_never_reaches_another_organisation_even_when_remembered(cast):
    client = api_client(cast, cast.sam, "read")
    assert client.get("/api/v1/me").json()["organization"] == cast.org_a.slug
    mallorys = _contact_in_b(cast)
    assert client.get(f"/api/v1/contacts/{mallorys}").status_code == 404


def test_a_session_cookie_does_not_sign_anyone_in_to_the_api(cast):
    browser = Client()
    browser.force_login(cast.alice)
    response = browser.get("/api/v1/me")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"


def _contact_in_b(cast):
    with tenant_scope(cast.org_b):
        contact = contact_create(actor=cast.actor(cast.mallory), data={"last_name": "Mallorys"})
    return str(contact.pk)


# The Actor a process remembers for a token, and the access version that retires it ---------


def _version(cast):
    return AccessVersion.objects.get(org_id=cast.org_a.pk).version


def _statements_of(client, path):
    with CaptureQueriesContext(connection) as statements:
        response = client.get(path)
    assert response.status_code == 200
    return [s["sql"] for s in statements.captured_queries if not s["sql"].lstrip().startswith("PREPARE")]


def test_a_token_used_again_reads_only_the_access_version_with_its_contact(cast):
    client = api_client(cast, cast.olive, "read")
    contact_id = _contact(cast, "Nowak", cast.olive)
    first = _statements_of(client, f"/api/v1/contacts/{contact_id}")  # the token's use is recorded
    again = _statements_of(client, f"/api/v1/contacts/{contact_id}")
    assert len(again) == 1, again
    # The token's tables are not read again (on PostgreSQL each statement is a prepared one's name).
    reads_token = (ApiToken._meta.db_table, "custos_token_use")
    assert not any(name in again[0] for name in reads_token)
    assert any(name in again[0] for name in (AccessVersion._meta.db_table, "custos_known_token"))
    assert any(name in first[0] for name in reads_token)
    assert len(_statements_of(client, "/api/v1/me")) >= 1


def test_every_change_a_tokens_rights_come_from_changes_its_organisations_version_only(cast):
    """What the triggers watch, each change made as the application makes it or in bulk."""
    mia = add_member(cast, "mia@acme.example", "manager")
    membership = _membership(cast, mia)
    api_client(cast, cast.mallory, "read")  # the other organisation has a version too
    other = AccessVersion.objects.get(org_id=cast.org_b.pk).version
    changes = {
        "token created": lambda: api_client(cast, mia, "read"),
        "token narrowed": lambda: ApiToken.objects.filter(user=mia).update(scopes=["crm:read"]),
        "token revoked": lambda: ApiToken.objects.filter(user=mia).update(revoked_at=timezone.now()),
        "token deleted": lambda: ApiToken.objects.filter(user=mia).delete(),
        "membership changed": lambda: Membership.objects.filter(pk=membership.pk).update(is_active=False),
        "role changed": lambda: Role.objects.filter(org=cast.org_a, key="manager").update(hidden_fields=["x"]),
        "user deactivated": lambda: type(mia).objects.filter(pk=mia.pk).update(is_active=False),
    }
    for what, change in changes.items():
        before = _version(cast)
        with tenant_scope(cast.org_a):
            change()
        assert _version(cast) != before, what
    with tenant_scope(cast.org_a):
        team = team_create(actor=_as_owner(cast), name="North")
        before = _version(cast)
        team_set_members(actor=_as_owner(cast), team=team, user_ids={mia.pk})
        assert _version(cast) != before, "team members"
        before = _version(cast)
        team_delete(actor=_as_owner(cast), team=team)
        assert _version(cast) != before, "team deleted"
    assert AccessVersion.objects.get(org_id=cast.org_b.pk).version == other


def test_a_tokens_use_and_a_sign_in_leave_the_access_version_alone(cast):
    client = api_client(cast, cast.olive, "read")
    before = _version(cast)
    assert client.get("/api/v1/me").status_code == 200  # records the token's first use
    assert ApiToken.objects.get(user=cast.olive).last_used_at is not None
    type(cast.olive).objects.filter(pk=cast.olive.pk).update(last_login=timezone.now())
    assert _version(cast) == before
