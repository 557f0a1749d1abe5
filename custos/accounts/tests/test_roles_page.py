"""Custom roles on the roles pages: create, edit, delete; the owner role and system roles stay."""

import pytest

from custos.accounts.models import Role
from custos.accounts.permissions import ALL_PERMISSIONS
from custos.accounts.services import member_change_role, role_create
from custos.accounts.tests.helpers import audit_entries, html_text, messages_of, role
from custos.core.errors import ValidationFailed
from custos.core.tenancy import tenant_scope
from custos.testing import web_client

FIELD_AGENT = {
    "name": "Field agent",
    "record_scope": "team",
    "permissions": ["contact.view", "contact.add", "company.view"],
    "restricted_fields": "contact.phone, company.vat_id",
}


def _roles(org):
    with tenant_scope(org):
        return {r.name if not r.is_system else r.key: r for r in Role.objects.all()}


def test_an_admin_creates_a_custom_role(cast):
    response = web_client(cast.alice).post("/settings/roles/", FIELD_AGENT)
    assert (response.status_code, response["Location"]) == (302, "/settings/roles/")
    created = _roles(cast.org_a)["Field agent"]
    assert (created.name, created.record_scope, created.is_system) == ("Field agent", "team", False)
    assert created.permissions == ["company.view", "contact.add", "contact.view"]
    assert created.hidden_fields == ["company.vat_id", "contact.phone"]
    (entry,) = audit_entries(cast.org_a, "role.create")
    assert (entry.object_id, entry.extra, entry.actor_user_id) == (
        str(created.pk),
        {"key": created.key},
        cast.alice.pk,
    )
    assert "Field agent" in html_text(web_client(cast.alice).get("/settings/roles/"))


def test_an_unknown_permission_is_refused_naming_the_field(cast):
    before = set(_roles(cast.org_a))
    response = web_client(cast.alice).post("/settings/roles/", {**FIELD_AGENT, "permissions": ["contact.fly"]})
    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["permissions"]
    assert set(_roles(cast.org_a)) == before
    assert audit_entries(cast.org_a, "role.create") == []


def test_the_service_names_the_unknown_permission(cast):
    with tenant_scope(cast.org_a), pytest.raises(ValidationFailed) as raised:
        role_create(
            actor=cast.actor(cast.alice),
            name="Odd",
            permissions=["contact.view", "contact.fly"],
            record_scope="own",
            hidden_fields=[],
        )
    assert [(e.field, e.message) for e in raised.value.errors] == [("permissions", "Unknown permission: contact.fly")]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": ""}, "name"),
        ({"record_scope": "galaxy"}, "record_scope"),
        ({"restricted_fields": "phone"}, "restricted_fields"),
    ],
)
def test_bad_role_input_is_refused_naming_the_field(cast, change, field):
    response = web_client(cast.alice).post("/settings/roles/", {**FIELD_AGENT, **change})
    assert response.status_code == 200
    assert list(response.context["form"].errors) == [field]
    assert "Field agent" not in _roles(cast.org_a)


def test_a_second_role_with_the_same_name_is_refused(cast):
    admin = web_client(cast.alice)
    admin.post("/settings/roles/", FIELD_AGENT)
    response = admin.post("/settings/roles/", {**FIELD_AGENT, "name": "field  AGENT"})
    assert response.status_code == 200
    assert response.context["form"].errors == {"name": ["A role with this name already exists."]}
    assert len(audit_entries(cast.org_a, "role.create")) == 1


def test_an_admin_edits_a_custom_role(cast):
    admin = web_client(cast.alice)
    admin.post("/settings/roles/", FIELD_AGENT)
    agent = _roles(cast.org_a)["Field agent"]
    response = admin.post(
        f"/settings/roles/{agent.pk}/",
        {"name": "Field agent", "record_scope": "own", "permissions": ["contact.view", "deal.view"]},
    )
    assert response["Location"] == "/settings/roles/"
    agent = _roles(cast.org_a)["Field agent"]
    assert (agent.permissions, agent.record_scope, agent.hidden_fields) == (["contact.view", "deal.view"], "own", [])
    (entry,) = audit_entries(cast.org_a, "role.change")
    assert entry.fields == ["hidden_fields", "permissions", "record_scope"]
    assert entry.extra == {"key": agent.key, "added": "deal.view", "removed": "company.view,contact.add"}


def test_an_unknown_permission_is_refused_when_editing(cast):
    admin = web_client(cast.alice)
    admin.post("/settings/roles/", FIELD_AGENT)
    agent = _roles(cast.org_a)["Field agent"]
    response = admin.post(f"/settings/roles/{agent.pk}/", {**FIELD_AGENT, "permissions": ["everything.all"]})
    assert list(response.context["form"].errors) == ["permissions"]
    assert _roles(cast.org_a)["Field agent"].permissions == ["company.view", "contact.add", "contact.view"]
    assert audit_entries(cast.org_a, "role.change") == []


def test_an_admin_deletes_an_unused_custom_role(cast):
    admin = web_client(cast.alice)
    admin.post("/settings/roles/", FIELD_AGENT)
    agent = _roles(cast.org_a)["Field agent"]
    response = admin.post(f"/settings/roles/{agent.pk}/", {"delete": "1"})
    assert response["Location"] == "/settings/roles/"
    assert "Field agent" not in _roles(cast.org_a)
    (entry,) = audit_entries(cast.org_a, "role.delete")
    assert (entry.object_id, entry.extra) == (str(agent.pk), {"key": agent.key})


def test_a_role_still_held_by_a_member_is_not_deleted(cast):
    admin = web_client(cast.alice)
    admin.post("/settings/roles/", FIELD_AGENT)
    agent = _roles(cast.org_a)["Field agent"]
    with tenant_scope(cast.org_a):
        member_change_role(actor=cast.actor(cast.olive), membership=cast.membership(cast.sam), role=agent)
    response = admin.post(f"/settings/roles/{agent.pk}/", {"delete": "1"}, follow=True)
    assert "Members still hold this role." in messages_of(response)
    assert "Field agent" in _roles(cast.org_a)
    assert audit_entries(cast.org_a, "role.delete") == []


def test_a_system_role_is_not_deleted(cast):
    sales = role(cast.org_a, "sales")
    response = web_client(cast.alice).post(f"/settings/roles/{sales.pk}/", {"delete": "1"}, follow=True)
    assert "System roles cannot be deleted." in messages_of(response)
    assert "sales" in _roles(cast.org_a)


def test_the_owner_role_cannot_be_changed(cast):
    owner = role(cast.org_a, "owner")
    for user in (cast.olive, cast.alice):
        response = web_client(user).post(
            f"/settings/roles/{owner.pk}/",
            {"name": "Owner", "record_scope": "own", "permissions": ["contact.view"]},
        )
        assert response.status_code == 200
        assert response.context["form"].non_field_errors() == ["The owner role always holds every permission."]
    unchanged = _roles(cast.org_a)["owner"]
    assert set(unchanged.permissions) == ALL_PERMISSIONS
    assert unchanged.record_scope == "all"
    assert audit_entries(cast.org_a, "role.change") == []


def test_a_role_of_another_organisation_is_not_found(cast):
    foreign = role(cast.org_b, "sales")
    response = web_client(cast.alice).post(
        f"/settings/roles/{foreign.pk}/", {"name": "Hacked", "record_scope": "all", "permissions": []}
    )
    assert response.status_code == 404
    assert _roles(cast.org_b)["sales"].name == "Sales"
