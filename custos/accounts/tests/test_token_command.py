"""`custos token create`: the token alone on the last line; clear errors and exit code 1."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, ManagementUtility, call_command
from django.test import Client

from custos.accounts.models import ApiToken
from custos.accounts.tests.helpers import audit_entries


def _create(*args: str) -> list[str]:
    out = StringIO()
    call_command("token", "create", *args, stdout=out, stderr=StringIO())
    return out.getvalue().splitlines()


def _custos(*argv: str) -> int:
    """Run the console command in this process, as `custos …` would, and return its exit code."""
    try:
        ManagementUtility(["custos", *argv]).execute()
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0


def test_token_create_prints_a_working_token_alone_on_the_last_line(cast):
    lines = _create("--org", cast.org_a.slug, "--user", "sam@acme.example", "--scope", "write", "--expires-days", "30")
    plaintext = lines[-1]
    assert plaintext.startswith("cst_")
    assert plaintext == plaintext.strip()
    assert " " not in plaintext

    token = ApiToken.objects.get(user=cast.sam)
    assert token.scopes == ["write"]
    assert abs((token.expires_at - token.created_at - timedelta(days=30)).total_seconds()) < 5
    response = Client(headers={"Authorization": f"Bearer {plaintext}"}).post(
        "/api/v1/contacts", {"last_name": "Kowalski"}, content_type="application/json"
    )
    assert response.status_code == 201
    (entry,) = audit_entries(cast.org_a, "token.create")
    assert (entry.via, entry.actor_user_id) == ("cli", cast.sam.pk)


def test_the_email_is_matched_without_regard_to_case(cast):
    plaintext = _create("--org", cast.org_a.slug, "--user", "SAM@Acme.Example")[-1]
    assert Client(headers={"Authorization": f"Bearer {plaintext}"}).get("/api/v1/me").status_code == 200


def test_an_unknown_organisation_fails_with_a_clear_message(cast):
    with pytest.raises(CommandError) as raised:
        _create("--org", "no-such-org", "--user", "sam@acme.example")
    assert str(raised.value) == "sam@acme.example is not a member of an organisation with slug 'no-such-org'."
    assert raised.value.returncode == 1
    assert not ApiToken.objects.exists()


def test_an_unknown_user_fails_with_a_clear_message(cast):
    with pytest.raises(CommandError) as raised:
        _create("--org", cast.org_a.slug, "--user", "nobody@acme.example")
    assert str(raised.value) == f"nobody@acme.example is not a member of an organisation with slug '{cast.org_a.slug}'."
    assert not ApiToken.objects.exists()


def test_a_member_of_another_organisation_gets_no_token_here(cast):
    with pytest.raises(CommandError):
        _create("--org", cast.org_a.slug, "--user", "mallory@bravo.example")
    assert not ApiToken.objects.exists()


def test_a_failure_exits_with_code_1_and_prints_the_reason(cast, capsys):
    code = _custos("token", "create", "--org", "no-such-org", "--user", "sam@acme.example")
    captured = capsys.readouterr()
    assert code == 1
    assert "is not a member of an organisation with slug 'no-such-org'" in captured.err
    assert captured.out == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scope", "everything"], "--scope: Unknown scope: everything"),
        (["--expires-days", "0"], "--expires-days: Choose between 1 and 3650 days."),
        (["--expires-days", "5000"], "--expires-days: Choose between 1 and 3650 days."),
        (["--scope", "admin"], "--scope: Only administrators can create admin tokens."),
    ],
)
def test_bad_input_fails_naming_the_option_as_typed(cast, args, message):
    with pytest.raises(CommandError) as raised:
        _create("--org", cast.org_a.slug, "--user", "sam@acme.example", *args)
    assert str(raised.value) == message
    assert not ApiToken.objects.exists()


def test_a_switched_off_account_or_an_admin_area_scope_gets_no_token(cast):
    """The first would be refused at every use; "admin:write" would grant nothing."""
    cast.bob.is_active = False
    cast.bob.save(update_fields=["is_active"])

    with pytest.raises(CommandError):
        _create("--org", cast.org_a.slug, "--user", "bob@acme.example")
    with pytest.raises(CommandError):
        _create("--org", cast.org_a.slug, "--user", "sam@acme.example", "--scope", "admin:write")

    assert not ApiToken.objects.exists()
