"""Nobody hands out more rights than they hold: not to a role, not to a member, not to themselves."""

import pytest

from custos.accounts.models import Membership, Role
from custos.accounts.services import member_add, member_change_role, role_create, role_update
from custos.accounts.tests.helpers import add_member, audit_entries, role
from custos.core.errors import PermissionDenied
from custos.core.tenancy import tenant_scope


@pytest.fixture
def role_keeper(cast):
    """A member whose custom role may edit roles and members, and read contacts."""
    with tenant_scope(cast.org_a):
        keeper_role = role_create(
            actor=cast.actor(cast.olive),
            name="Role keeper",
            permissions=[
                "role.view",
                "role.change",
                "role.add",
                "member.view",
                "member.add",
                "member.change",
                "contact.view",
            ],
            record_scope="own",
            hidden_fields=[],
        )
    user = add_member(cast, "keeper@acme.example", "read_only")
    with tenant_scope(cast.org_a):
        member_change_role(actor=cast.actor(cast.olive), membership=cast.membership(user), role=keeper_role)
    return user, keeper_role


def test_a_role_editor_cannot_grant_its_own_role_more(cast, role_keeper):
    user, keeper_role = role_keeper
    before = audit_entries(cast.org_a, "role.change")
    with tenant_scope(cast.org_a), pytest.raises(PermissionDenied):
        role_update(
            actor=cast.actor(user),
            role=keeper_role,
            name="Role keeper",
            permissions=[*keeper_role.permissions, "special_category.view"],
            record_scope="all",
            hidden_fields=[],
        )
    with tenant_scope(cast.org_a):
        assert "special_category.view" not in Role.objects.get(pk=keeper_role.pk).permissions
    assert audit_entries(cast.org_a, "role.change") == before


def test_a_role_editor_cannot_create_a_wider_role(cast, role_keeper):
    user, _ = role_keeper
    with tenant_scope(cast.org_a), pytest.raises(PermissionDenied):
        role_create(
            actor=cast.actor(user),
            name="Everything",
            permissions=["contact.view", "contact.delete"],
            record_scope="own",
            hidden_fields=[],
        )


def test_a_member_editor_cannot_make_itself_or_others_admin(cast, role_keeper):
    user, _ = role_keeper
    admin = role(cast.org_a, "admin")
    with tenant_scope(cast.org_a):
        for target in (cast.membership(user), cast.membership(cast.bob)):
            with pytest.raises(PermissionDenied):
                member_change_role(actor=cast.actor(user), membership=target, role=admin)
        with pytest.raises(PermissionDenied):
            member_add(actor=cast.actor(user), email="new@acme.example", role=admin)
    assert Membership.objects.get(user=user, org=cast.org_a).role.name == "Role keeper"
    assert not Membership.objects.filter(user__email="new@acme.example").exists()


def test_a_member_editor_can_still_hand_out_what_it_holds(cast, role_keeper):
    user, keeper_role = role_keeper
    with tenant_scope(cast.org_a):
        membership = member_add(actor=cast.actor(user), email="helper@acme.example", role=keeper_role)
    assert membership.role_id == keeper_role.pk


def test_stepping_down_to_a_narrower_role_is_allowed_but_not_to_a_wider_one(cast, role_keeper):
    user, _ = role_keeper
    with tenant_scope(cast.org_a):
        narrower = role_create(
            actor=cast.actor(cast.olive),
            name="Reader",
            permissions=["contact.view"],
            record_scope="own",
            hidden_fields=[],
        )
        with pytest.raises(PermissionDenied):  # read-only also sees companies, which the keeper does not
            member_change_role(
                actor=cast.actor(user), membership=cast.membership(user), role=role(cast.org_a, "read_only")
            )
        member_change_role(actor=cast.actor(user), membership=cast.membership(user), role=narrower)
    assert Membership.objects.get(user=user, org=cast.org_a).role.name == "Reader"


def test_a_team_keeper_cannot_join_a_team_to_see_its_records(cast):
    """With a team's record scope, joining a team is seeing its records."""
    from custos.accounts.models import TeamMember
    from custos.accounts.services import team_create, team_set_members

    with tenant_scope(cast.org_a):
        keeper_role = role_create(
            actor=cast.actor(cast.olive),
            name="Team keeper",
            permissions=["team.view", "team.change", "contact.view"],
            record_scope="team",
            hidden_fields=[],
        )
    keeper = add_member(cast, "teams@acme.example", "read_only")
    with tenant_scope(cast.org_a):
        member_change_role(actor=cast.actor(cast.olive), membership=cast.membership(keeper), role=keeper_role)
        sales = team_create(actor=cast.actor(cast.olive), name="Sales")
        team_set_members(actor=cast.actor(cast.olive), team=sales, user_ids={cast.sam.pk})
        actor = cast.actor(keeper)

        with pytest.raises(PermissionDenied):
            team_set_members(actor=actor, team=sales, user_ids={cast.sam.pk, keeper.pk})
        team_set_members(actor=actor, team=sales, user_ids={cast.sam.pk, cast.bob.pk})  # others: as before

        assert set(TeamMember.objects.filter(team=sales).values_list("user_id", flat=True)) == {
            cast.sam.pk,
            cast.bob.pk,
        }
