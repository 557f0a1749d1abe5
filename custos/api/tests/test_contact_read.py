"""The single-contact read written out in SQL gives exactly what the ORM's way gives.

`GET /contacts/{id}` reads its contact in the token's own statement (the rider), or with
`contact_read` where it cannot, without the ORM; `access_contact` and `contact_out` are the
way every other face reads a contact. For every record scope, hidden fields, further emails
and phones, and every kind of refused id, the three agree, down to the bytes of the body.
"""

import dataclasses
import json
import uuid

import pytest
from django.db import connection, transaction
from ninja.responses import NinjaJSONEncoder

from custos.accounts.models import ApiToken
from custos.accounts.services import team_create, team_set_members, token_revoke
from custos.accounts.tests.helpers import add_member
from custos.api.crm import ContactOut, contact_out, contact_read
from custos.api.tests.helpers import define_fields, hide
from custos.core.actor import RecordScope
from custos.core.db.prepared import execute_prepared
from custos.core.errors import NotFound, PermissionDenied
from custos.core.tenancy import tenant_scope
from custos.crm.selectors.people import access_contact
from custos.crm.services.people import contact_create
from custos.testing import api_client


def _orm_way(actor, contact_id):
    try:
        return contact_out(actor, access_contact(actor, contact_id, with_company=False))
    except NotFound:
        return NotFound


def _sql_way(actor, contact_id):
    try:
        return contact_read(actor, contact_id)
    except NotFound:
        return NotFound


@pytest.fixture
def people(cast):
    """A manager and a salesman in one team, a salesman outside it, and contacts each owns."""
    mia = add_member(cast, "mia@acme.example", "manager")
    tom = add_member(cast, "tom@acme.example", "sales")
    define_fields(cast, "contact", shoe_size="number", region="text")
    with tenant_scope(cast.org_a):
        owner = cast.actor(cast.olive)
        team = team_create(actor=owner, name="North")
        team_set_members(actor=owner, team=team, user_ids={mia.pk, tom.pk})
        full = {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@example.org",
            "phone": "+4930123456",
            "other_emails": [
                {"email": "ada.private@example.org", "label": "private"},
                {"email": "ada.work@example.org", "label": "work"},
            ],
            "other_phones": [{"phone": "+4930654321", "label": "mobile"}],
            "language": "de",
            "contract_ends_on": "2027-01-31",
            "tags": ["vip", "berlin"],
            "custom_fields": {"shoe_size": 41, "region": "Nord"},
            "notes": "Met at <the> fair & liked it",
            "street": "Unter den Linden 1",
            "postcode": "10117",
            "city": "Berlin",
            "country": "DE",
        }
        contacts = [
            contact_create(actor=owner, data={**full, "owner": str(tom.pk)}),
            contact_create(actor=owner, data={"last_name": "Mias", "owner": str(mia.pk)}),
            contact_create(actor=owner, data={"last_name": "Sams", "owner": str(cast.sam.pk)}),
            contact_create(actor=owner, data={"last_name": "Nobody's"}),
        ]
    return {"mia": mia, "tom": tom, "contacts": [str(contact.pk) for contact in contacts]}


def test_every_record_scope_sees_the_same_contacts_with_the_same_fields(cast, people):
    readers = [cast.olive, cast.bob, cast.sam, people["mia"], people["tom"]]  # all, all, own, team, own
    seen = 0
    with tenant_scope(cast.org_a):
        for user in readers:
            actor = cast.actor(user)
            for contact_id in people["contacts"]:
                expected = _orm_way(actor, contact_id)
                assert _sql_way(actor, contact_id) == expected, (user.email, contact_id)
                seen += expected is not NotFound
    # Owner and read-only see all four; Sam his own; Mia hers and Tom's; Tom his own.
    assert seen == 4 + 4 + 1 + 2 + 1


def _as_ninja_renders(shown):
    return json.dumps(ContactOut.model_validate(shown).model_dump(), cls=NinjaJSONEncoder).encode()


def test_the_endpoint_answers_every_record_scope_as_the_orm_way_reads_it(cast, people):
    """Through HTTP, so through the rider: the scope is the token's role's, written in SQL."""
    hide(cast, "read_only", "contact.email", "contact.city")
    readers = [cast.olive, cast.bob, cast.sam, people["mia"], people["tom"]]  # all, all, own, team, own
    seen = 0
    for user in readers:
        client = api_client(cast, user, "read")
        for contact_id in people["contacts"]:
            response = client.get(f"/api/v1/contacts/{contact_id}")
            with tenant_scope(cast.org_a):
                expected = _orm_way(cast.actor(user), contact_id)
            if expected is NotFound:
                assert response.status_code == 404, (user.email, contact_id)
            else:
                assert response.status_code == 200, (user.email, contact_id)
                assert response.content == _as_ninja_renders(expected), (user.email, contact_id)
                seen += 1
    assert seen == 4 + 4 + 1 + 2 + 1


def test_the_endpoint_refuses_foreign_missing_and_malformed_ids_and_a_dead_token(cast, people):
    with tenant_scope(cast.org_b):
        foreign = str(contact_create(actor=cast.actor(cast.mallory), data={"last_name": "Bravo"}).pk)
    client = api_client(cast, cast.olive, "read")
    for contact_id in (foreign, str(uuid.uuid4()), "not-an-id", people["contacts"][0] + "0"):
        assert client.get(f"/api/v1/contacts/{contact_id}").status_code == 404, contact_id
    # A scope without contacts: refused as such, whether the contact exists or not.
    blind = api_client(cast, cast.olive, "privacy:read")
    assert {blind.get(f"/api/v1/contacts/{c}").status_code for c in (people["contacts"][0], foreign)} == {403}
    response = client.get(f"/api/v1/contacts/{people['contacts'][0]}")
    assert response.json()["last_name"] == "Lovelace"
    with tenant_scope(cast.org_a):
        token = ApiToken.objects.get(pk=response.wsgi_request.auth.token_id)
        token_revoke(actor=cast.actor(cast.olive), token=token)
    assert client.get(f"/api/v1/contacts/{people['contacts'][0]}").status_code == 401


def test_further_emails_and_phones_come_in_the_order_they_were_added(cast, people):
    with tenant_scope(cast.org_a):
        shown = contact_read(cast.actor(cast.olive), people["contacts"][0])
    assert shown["other_emails"] == [
        {"email": "ada.private@example.org", "label": "private"},
        {"email": "ada.work@example.org", "label": "work"},
    ]
    assert shown["other_phones"] == [{"phone": "+4930654321", "label": "mobile"}]
    assert shown["custom_fields"] == {"shoe_size": 41, "region": "Nord"}
    assert shown["health_notes"] is None


def test_hidden_fields_are_null_the_same_way(cast, people):
    hide(cast, "read_only", "contact.email", "contact.phone", "contact.custom_fields", "contact.city")
    with tenant_scope(cast.org_a):
        actor = cast.actor(cast.bob)
        shown = contact_read(actor, people["contacts"][0])
        assert shown == _orm_way(actor, people["contacts"][0])
    hidden = {"email", "phone", "other_emails", "other_phones", "custom_fields", "city"}
    assert {name for name, value in shown.items() if value is None} >= hidden
    assert shown["last_name"] == "Lovelace"


def test_foreign_missing_and_malformed_ids_are_not_found(cast, people):
    with tenant_scope(cast.org_b):
        foreign = str(contact_create(actor=cast.actor(cast.mallory), data={"last_name": "Bravo"}).pk)
    with tenant_scope(cast.org_a):
        actor = cast.actor(cast.olive)
        for contact_id in (foreign, str(uuid.uuid4()), "not-an-id", "", people["contacts"][0] + "0"):
            assert _sql_way(actor, contact_id) is NotFound
            assert _orm_way(actor, contact_id) is NotFound
        # The same id in other spellings, as the ORM reads them.
        spelled = uuid.UUID(people["contacts"][0])
        assert contact_read(actor, spelled.hex)["id"] == str(spelled)


def test_a_role_without_contact_view_is_refused(cast, people):
    with tenant_scope(cast.org_a):
        actor = cast.actor(cast.olive)
        blind = dataclasses.replace(actor, permissions=frozenset())
        with pytest.raises(PermissionDenied):
            contact_read(blind, people["contacts"][0])


def test_a_team_larger_than_the_prepared_sizes_still_reads_by_team(cast, people):
    from custos.api import crm

    with tenant_scope(cast.org_a):
        actor = cast.actor(people["mia"])
        mates = frozenset({*actor.team_member_ids, *(uuid.uuid4() for _ in range(crm.PREPARED_TEAM_SIZE + 1))})
        wide = dataclasses.replace(actor, team_member_ids=mates)
        assert [_sql_way(wide, c) is not NotFound for c in people["contacts"]] == [True, True, False, False]


def test_a_team_scope_with_nobody_in_it_finds_nothing(cast, people):
    with tenant_scope(cast.org_a):
        lonely = dataclasses.replace(cast.actor(people["mia"]), team_member_ids=frozenset())
        assert {_sql_way(lonely, contact) for contact in people["contacts"]} == {NotFound}


def test_the_endpoint_answers_in_the_tokens_statement(cast, people):
    from django.test.utils import CaptureQueriesContext

    client = api_client(cast, cast.olive, "read")
    assert client.get("/api/v1/me").status_code == 200  # the token's first use is audited
    with CaptureQueriesContext(connection) as statements:
        response = client.get(f"/api/v1/contacts/{people['contacts'][0]}")
    assert response.status_code == 200
    body = response.json()
    assert body["other_emails"][1] == {"email": "ada.work@example.org", "label": "work"}
    assert body["contract_ends_on"] == "2027-01-31"
    # The token's statement carries the contact (PostgreSQL prepares it once per connection).
    ran = [s["sql"] for s in statements.captured_queries if not s["sql"].lstrip().startswith("PREPARE")]
    assert len(ran) == 1, ran


def test_a_prepared_read_never_crosses_into_another_organisation(cast, people):
    """The statement is prepared once per connection; the tenant is bound at every run."""
    with tenant_scope(cast.org_b):
        bravo = str(contact_create(actor=cast.actor(cast.mallory), data={"last_name": "Bravo"}).pk)
    acme = people["contacts"][3]
    with tenant_scope(cast.org_a):
        assert contact_read(cast.actor(cast.olive), acme)["last_name"] == "Nobody's"
    with tenant_scope(cast.org_b):
        mallory = cast.actor(cast.mallory)
        assert contact_read(mallory, bravo)["last_name"] == "Bravo"
        with pytest.raises(NotFound):
            contact_read(mallory, acme)
    with tenant_scope(cast.org_a), pytest.raises(NotFound):
        contact_read(cast.actor(cast.olive), bravo)


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="statements are prepared on PostgreSQL only")
def test_what_a_session_has_prepared_serves_whichever_connection_holds_it(cast, people):
    """psycopg's pool hands one server session to whichever thread's connection asks next:
    that connection uses what the session prepared before instead of preparing it again."""
    from custos.api import crm

    contact_id = people["contacts"][3]
    with tenant_scope(cast.org_a):
        assert contact_read(cast.actor(cast.olive), contact_id)["last_name"] == "Nobody's"  # prepared here
        other = connection.copy()  # another thread's connection, given this session by the pool
        other.connection = connection.connection
        try:
            with other.cursor() as cursor:
                sql = crm._contact_read_sql(RecordScope.ALL, 0)
                execute_prepared(cursor, "custos_contact_read_all_0", sql, [uuid.UUID(contact_id), cast.org_a.pk])
                [row] = cursor.fetchall()
        finally:
            other.connection = None  # the session stays this test's
    assert row[crm.CONTACT_COLUMNS.index("last_name")] == "Nobody's"


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="statements are prepared on PostgreSQL only")
def test_a_statement_prepared_in_a_rolled_back_transaction_still_runs(db):
    """PREPARE is not undone by a rollback: what the session remembers stays true."""
    with pytest.raises(RuntimeError), transaction.atomic(), connection.cursor() as cursor:
        execute_prepared(cursor, "custos_test_rolled_back", "SELECT %s::int + 1", [1])
        raise RuntimeError("rolled back")
    with connection.cursor() as cursor:
        execute_prepared(cursor, "custos_test_rolled_back", "SELECT %s::int + 1", [2])
        assert cursor.fetchone() == (3,)
