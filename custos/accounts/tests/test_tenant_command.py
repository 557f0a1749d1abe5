"""`custos tenant create`: exactly `slug:` and `password:`, a working owner, clear errors."""

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from custos.accounts.models import Membership, Role, User
from custos.accounts.permissions import SYSTEM_ROLE_KEYS
from custos.accounts.tests.helpers import audit_entries, sign_in, signed_in_user_id
from custos.core.models import Organization
from custos.core.tenancy import tenant_scope


def _tenant_create(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("tenant", "create", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_tenant_create_prints_exactly_the_slug_and_a_password_that_signs_in(db):
    out, _ = _tenant_create("--name", "Acme GmbH", "--owner", "owner@example.com", "--country", "DE")
    match = re.fullmatch(r"slug: (\S+)\npassword: (\S+)\n", out)
    assert match is not None, out
    slug, password = match.groups()
    assert slug == "acme-gmbh"
    assert len(password) >= 12

    org = Organization.objects.get(slug=slug)
    assert (org.name, org.country) == ("Acme GmbH", "DE")
    owner = User.objects.get(email="owner@example.com")
    with tenant_scope(org):
        assert Membership.objects.get(org=org, user=owner).role.key == "owner"
        assert set(Role.objects.values_list("key", flat=True)) == SYSTEM_ROLE_KEYS
    assert [e.action for e in audit_entries(org)] == ["organization.create", "member.add"]
    assert password not in str([(e.extra, e.fields) for e in audit_entries(org)])

    client = Client()
    response = sign_in(client, "owner@example.com", password)
    assert signed_in_user_id(client) == str(owner.pk)
    assert response["Location"] == "/"
    assert client.get("/")["Location"] == "/account/two-factor/"  # an owner sets up 2FA first


def test_a_second_organisation_with_the_same_name_gets_a_distinct_slug(db):
    first, _ = _tenant_create("--name", "Acme GmbH", "--owner", "one@example.com")
    second, _ = _tenant_create("--name", "Acme GmbH", "--owner", "two@example.com")
    assert first.splitlines()[0] == "slug: acme-gmbh"
    assert second.splitlines()[0] == "slug: acme-gmbh-2"
    assert Organization.objects.filter(name="Acme GmbH").count() == 2


def test_the_country_defaults_to_germany_and_is_stored_in_capitals(db):
    _tenant_create("--name", "Zakład", "--owner", "a@example.com")
    _tenant_create("--name", "Praxis", "--owner", "b@example.com", "--country", "pl")
    assert Organization.objects.get(name="Zakład").country == "DE"
    assert Organization.objects.get(name="Praxis").country == "PL"


@pytest.mark.parametrize("email", ["not-an-email", "owner@", "@example.com", ""])
def test_a_bad_owner_email_fails_clearly_and_creates_nothing(db, email):
    with pytest.raises(CommandError) as raised:
        _tenant_create("--name", "Acme GmbH", "--owner", email)
    assert str(raised.value) == "--owner: Enter a valid email address."
    assert not Organization.objects.exists()
    assert not User.objects.exists()


@pytest.mark.parametrize("country", ["Germany", "D", "D1", ""])
def test_a_malformed_country_fails_clearly_and_creates_nothing(db, country):
    with pytest.raises(CommandError) as raised:
        _tenant_create("--name", "Acme GmbH", "--owner", "owner@example.com", "--country", country)
    assert str(raised.value) == "--country: Use a two-letter country code such as DE."
    assert not Organization.objects.exists()
    assert not User.objects.exists()


def test_a_country_code_that_names_no_country_is_refused(db):
    with pytest.raises(CommandError) as raised:
        _tenant_create("--name", "Acme GmbH", "--owner", "owner@example.com", "--country", "ZZ")
    assert str(raised.value).startswith("--country: ")
    assert not Organization.objects.exists()


def test_an_empty_name_fails_clearly(db):
    with pytest.raises(CommandError) as raised:
        _tenant_create("--name", "   ", "--owner", "owner@example.com")
    assert str(raised.value) == "--name: Enter a name."
    assert not Organization.objects.exists()


def test_an_existing_account_becomes_owner_and_keeps_its_password(cast):
    out, err = _tenant_create("--name", "Second Praxis", "--owner", "sam@acme.example")
    assert out.splitlines()[0] == "slug: second-praxis"
    assert "already had an account" in err
    org = Organization.objects.get(slug="second-praxis")
    with tenant_scope(org):
        assert Membership.objects.get(org=org, user=cast.sam).role.key == "owner"
    client = Client()
    sign_in(client, "sam@acme.example")
    assert signed_in_user_id(client) == str(cast.sam.pk)


def test_a_name_with_a_control_character_fails_clearly(db):
    with pytest.raises(CommandError) as raised:
        _tenant_create("--name", "Zahn\x00arzt", "--owner", "owner@example.com")
    assert str(raised.value).startswith("--name: ")
    assert not Organization.objects.exists()
