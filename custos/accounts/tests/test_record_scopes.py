"""Record scopes: own, team and all decide which contacts a member sees, in the API and the UI."""

from custos.accounts.access import actor_for
from custos.accounts.services import role_update, team_create, team_set_members
from custos.accounts.tests.helpers import add_member, html_text, role
from custos.core.actor import Via
from custos.core.tenancy import tenant_scope
from custos.crm.services.people import contact_create
from custos.testing import api_client, web_client


def _contact(cast, last_name, owner):
    with tenant_scope(cast.org_a):
        return contact_create(actor=cast.actor(cast.olive), data={"last_name": last_name, "owner": str(owner.pk)})


def _listed(client) -> list[str]:
    response = client.get("/api/v1/contacts")
    assert response.status_code == 200
    return sorted(c["last_name"] for c in response.json()["items"])


def _team(cast, name, members):
    with tenant_scope(cast.org_a):
        actor = cast.actor(cast.olive)
        team = team_create(actor=actor, name=name)
        team_set_members(actor=actor, team=team, user_ids={m.pk for m in members})
    return team


def _everyone(cast):
    mia = add_member(cast, "mia@acme.example", "manager")
    tom = add_member(cast, "tom@acme.example", "sales")
    for last_name, owner in (("Sams", cast.sam), ("Mias", mia), ("Toms", tom), ("Olives", cast.olive)):
        _contact(cast, last_name, owner)
    return mia, tom


def test_sales_sees_only_their_own_contacts(cast):
    _everyone(cast)
    assert _listed(api_client(cast, cast.sam, "read")) == ["Sams"]


def test_a_team_scope_sees_the_contacts_of_team_mates(cast):
    mia, tom = _everyone(cast)
    _team(cast, "North", [mia, cast.sam])
    _team(cast, "South", [tom])
    assert _listed(api_client(cast, mia, "read")) == ["Mias", "Sams"]


def test_a_team_scope_without_a_team_sees_only_its_own(cast):
    mia, _ = _everyone(cast)
    assert _listed(api_client(cast, mia, "read")) == ["Mias"]


def test_admin_sees_all_contacts(cast):
    _everyone(cast)
    assert _listed(api_client(cast, cast.alice, "read")) == ["Mias", "Olives", "Sams", "Toms"]


def test_a_contact_outside_the_scope_is_not_found_rather_than_forbidden(cast):
    _, tom = _everyone(cast)
    toms = _contact(cast, "Other", tom)
    response = api_client(cast, cast.sam, "write").get(f"/api/v1/contacts/{toms.pk}")
    assert response.status_code == 404
    patch = api_client(cast, cast.sam, "write").patch(
        f"/api/v1/contacts/{toms.pk}", {"last_name": "Mine"}, content_type="application/json"
    )
    assert patch.status_code == 404


def test_changing_a_roles_scope_changes_what_its_members_see(cast):
    _everyone(cast)
    with tenant_scope(cast.org_a):
        sales = role(cast.org_a, "sales")
        role_update(
            actor=cast.actor(cast.olive),
            role=sales,
            name=sales.name,
            permissions=sales.permissions,
            record_scope="all",
            hidden_fields=[],
        )
    assert _listed(api_client(cast, cast.sam, "read")) == ["Mias", "Olives", "Sams", "Toms"]


def test_the_contact_list_page_follows_the_same_scope(cast):
    _everyone(cast)
    page = html_text(web_client(cast.sam).get("/contacts/"))
    assert "Sams" in page
    assert "Toms" not in page
    assert "Mias" not in page


def test_a_team_mate_from_another_organisation_is_never_added(cast):
    mia, _ = _everyone(cast)
    _team(cast, "North", [mia, cast.mallory])
    assert actor_for(cast.membership(mia), via=Via.API).team_member_ids == {mia.pk}
