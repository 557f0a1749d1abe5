"""Whoever reads health data or the audit log, or exports or erases a person's data, signs in with a second factor."""

import pyotp
import pytest

from custos.accounts.models import Role, User
from custos.accounts.services import member_change_role
from custos.accounts.tests.helpers import add_member, find, html_text, sign_in
from custos.accounts.tests.test_two_factor_setup import SECRET_ON_PAGE
from custos.core.tenancy import tenant_scope
from custos.testing import api_client, current_code, enable_two_factor, web_client

SETUP = "/account/two-factor/"
CLERK = {"name": "Clerk", "record_scope": "all", "permissions": ["contact.view", "subject.view"]}


def _give_role(cast, user: User, **lookup: str) -> Role:
    """The owner gives the member the role found by `lookup` (a custom role by its name)."""
    with tenant_scope(cast.org_a):
        given = Role.objects.get(**lookup)
        member_change_role(actor=cast.actor(cast.olive), membership=cast.membership(user), role=given)
    return given


@pytest.mark.parametrize("role_key", ["privacy_officer"])
def test_a_role_that_reads_health_data_or_the_log_is_sent_to_set_up_a_second_factor(cast, role_key):
    member = add_member(cast, f"{role_key}@acme.example", role_key)
    client = web_client(member)
    for path in ("/", "/contacts/", "/account/tokens/"):
        assert client.get(path)["Location"] == SETUP, (role_key, path)
    assert client.get(SETUP).status_code == 200  # enrolling, not locked out


@pytest.mark.parametrize("role_key", ["sales", "support", "read_only", "manager", "accountant"])
def test_a_role_without_such_rights_is_not_forced(cast, role_key):
    member = add_member(cast, f"{role_key}@acme.example", role_key)
    assert web_client(member).get("/").status_code == 200


def test_a_privacy_officer_signing_in_with_a_password_is_sent_to_set_it_up(cast, client):
    add_member(cast, "pia@acme.example", "privacy_officer")
    assert sign_in(client, "pia@acme.example")["Location"] == "/"
    assert client.get("/")["Location"] == SETUP
    secret = find(SECRET_ON_PAGE, html_text(client.get(SETUP))).replace(" ", "")
    assert client.post(SETUP, {"code": pyotp.TOTP(secret).now()}).status_code == 200
    assert client.get("/audit/").status_code == 200


@pytest.mark.parametrize("permission", ["special_category.view", "audit.view", "subject.erase", "subject.export"])
def test_a_member_whose_role_gains_such_a_right_enrols_at_the_next_request(cast, permission):
    owner = web_client(cast.olive)
    owner.post("/settings/roles/", CLERK)
    clerk = add_member(cast, "clara@acme.example", "sales")
    clerk_role = _give_role(cast, clerk, name="Clerk")
    client = web_client(clerk)
    assert client.get("/contacts/").status_code == 200

    granted = {**CLERK, "permissions": [*CLERK["permissions"], permission]}
    assert owner.post(f"/settings/roles/{clerk_role.pk}/", granted)["Location"] == "/settings/roles/"

    assert client.get("/contacts/")["Location"] == SETUP
    assert client.session.get("_auth_user_id") == str(clerk.pk)  # still signed in
    enable_two_factor(clerk)
    assert client.get("/contacts/").status_code == 200


def test_exporting_a_list_alone_asks_for_no_second_factor(cast):
    """A list's export asks for one where the organisation requires it of everyone."""
    owner = web_client(cast.olive)
    owner.post("/settings/roles/", {**CLERK, "name": "Catalogue", "permissions": ["contact.view", "contact.export"]})
    member = add_member(cast, "carl@acme.example", "sales")
    _give_role(cast, member, name="Catalogue")
    assert web_client(member).get("/").status_code == 200


def test_a_privacy_officer_cannot_turn_the_second_factor_off(cast):
    pia = add_member(cast, "pia@acme.example", "privacy_officer")
    enable_two_factor(pia)
    response = web_client(pia).post("/account/security/two-factor/disable/", {"code": current_code()})
    assert response["Location"] == "/account/security/"
    pia.refresh_from_db()
    assert pia.has_two_factor


def test_a_token_made_before_the_role_needed_a_second_factor_keeps_working_as_an_admins_does(cast):
    # Tokens are made on pages behind the second factor; the API itself asks for none, for
    # an admin without one either, so a role's new rights change nothing for its tokens.
    sam_api = api_client(cast, cast.sam, "read")
    _give_role(cast, cast.sam, key="privacy_officer")
    response = sam_api.get("/api/v1/me")
    assert response.status_code == 200
    assert response.json()["role"] == "privacy_officer"
