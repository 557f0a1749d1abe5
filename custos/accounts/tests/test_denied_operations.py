"""Every administrative operation, tried by someone who may not: refused, nothing changed, nothing logged."""

import pytest
from django.test import Client

from custos.accounts.models import ApiToken, Membership, Role, Team, TeamMember
from custos.accounts.services import role_create, team_create
from custos.accounts.tests.helpers import add_member, audit_count, role
from custos.core.models import Organization
from custos.core.tenancy import tenant_scope
from custos.testing import api_client, enable_two_factor, web_client


def _state(cast):
    """Everything the operations below could change, across both organisations."""
    state = {
        "memberships": sorted((str(m.user_id), str(m.org_id), str(m.role_id)) for m in Membership.objects.all()),
        "orgs": sorted((o.name, o.country, o.require_two_factor) for o in Organization.objects.all()),
        "tokens": sorted((str(t.pk), str(t.revoked_at)) for t in ApiToken.objects.all()),
        "audit": (audit_count(cast.org_a), audit_count(cast.org_b)),
    }
    for org in (cast.org_a, cast.org_b):
        with tenant_scope(org):
            state[f"roles {org.slug}"] = sorted(
                (r.key, r.name, tuple(r.permissions), r.record_scope, tuple(r.hidden_fields))
                for r in Role.objects.all()
            )
            state[f"teams {org.slug}"] = sorted(t.name for t in Team.objects.all())
            state[f"team members {org.slug}"] = sorted(
                (str(m.team_id), str(m.user_id)) for m in TeamMember.objects.all()
            )
    return state


@pytest.fixture
def world(cast):
    """A custom role, a team and a token to aim at, made before the state is taken."""
    with tenant_scope(cast.org_a):
        actor = cast.actor(cast.olive)
        custom = role_create(
            actor=actor, name="Agent", permissions=["contact.view"], record_scope="own", hidden_fields=[]
        )
        team = team_create(actor=actor, name="North")
    api_client(cast, cast.sam, "read")
    return {"custom": custom, "team": team, "sales": role(cast.org_a, "sales"), "owner": role(cast.org_a, "owner")}


def _operations(cast, world):
    sam_m, olive_m = cast.membership(cast.sam), cast.membership(cast.olive)
    sams_token = ApiToken.objects.get(user=cast.sam)
    return {
        "add a member": ("/settings/members/", {"email": "eve@acme.example", "role": world["sales"].pk}),
        "change a role": (f"/settings/members/{sam_m.pk}/", {"role": world["owner"].pk}),
        "remove a member": (f"/settings/members/{sam_m.pk}/remove/", {}),
        "remove the owner": (f"/settings/members/{olive_m.pk}/remove/", {}),
        "create a role": ("/settings/roles/", {"name": "Mole", "record_scope": "all", "permissions": ["member.add"]}),
        "edit a role": (
            f"/settings/roles/{world['sales'].pk}/",
            {"name": "Sales", "record_scope": "all", "permissions": ["member.add"]},
        ),
        "delete a role": (f"/settings/roles/{world['custom'].pk}/", {"delete": "1"}),
        "create a team": ("/settings/teams/", {"name": "South"}),
        "change a team": (f"/settings/teams/{world['team'].pk}/", {"members": [str(cast.bob.pk)]}),
        "delete a team": (f"/settings/teams/{world['team'].pk}/", {"delete": "1"}),
        "change settings": ("/settings/organization/", {"name": "Owned", "country": "DE", "require_two_factor": ""}),
        "revoke a token": (f"/account/tokens/{sams_token.pk}/revoke/", {"back": "all"}),
    }


OPERATIONS = [
    "add a member",
    "change a role",
    "remove a member",
    "remove the owner",
    "create a role",
    "edit a role",
    "delete a role",
    "create a team",
    "change a team",
    "delete a team",
    "change settings",
]


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("who", ["bob", "sam", "manager", "privacy_officer"])
def test_a_member_without_the_permission_is_refused_and_nothing_changes(cast, world, who, operation):
    user = {"bob": cast.bob, "sam": cast.sam}.get(who) or add_member(cast, f"{who}@acme.example", who)
    enable_two_factor(user)  # managers and privacy officers export: past the second factor, then refused
    path, data = _operations(cast, world)[operation]
    client = web_client(user)
    before = _state(cast)
    response = client.post(path, data)
    assert response.status_code == 403, (who, operation)
    assert _state(cast) == before


def test_someone_elses_token_is_not_found_for_a_member_without_the_permission(cast, world):
    path, data = _operations(cast, world)["revoke a token"]
    before = _state(cast)
    response = web_client(cast.bob).post(path, data)
    assert response.status_code == 404
    assert _state(cast) == before


@pytest.mark.parametrize("operation", ["make someone owner", "remove the owner", "add an owner", "demote the owner"])
def test_an_admin_cannot_touch_ownership(cast, world, operation):
    operations = {
        "make someone owner": (f"/settings/members/{cast.membership(cast.sam).pk}/", {"role": world["owner"].pk}),
        "remove the owner": (f"/settings/members/{cast.membership(cast.olive).pk}/remove/", {}),
        "add an owner": ("/settings/members/", {"email": "eve@acme.example", "role": world["owner"].pk}),
        "demote the owner": (f"/settings/members/{cast.membership(cast.olive).pk}/", {"role": world["sales"].pk}),
    }
    path, data = operations[operation]
    before = _state(cast)
    response = web_client(cast.alice).post(path, data)
    assert response.status_code == 403
    assert _state(cast) == before


@pytest.mark.parametrize(
    "operation",
    [
        "change a role",
        "remove a member",
        "remove the owner",
        "edit a role",
        "delete a role",
        "change a team",
        "delete a team",
        "revoke a token",
    ],
)
def test_an_owner_of_another_organisation_finds_none_of_its_objects(cast, world, operation):
    path, data = _operations(cast, world)[operation]
    before = _state(cast)
    response = web_client(cast.mallory).post(path, data)
    assert response.status_code == 404, operation
    assert _state(cast) == before


@pytest.mark.parametrize("operation", [*OPERATIONS, "revoke a token"])
def test_an_anonymous_visitor_is_sent_to_sign_in_and_nothing_changes(cast, world, operation):
    path, data = _operations(cast, world)[operation]
    before = _state(cast)
    response = Client().post(path, data)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")
    assert _state(cast) == before
