"""/api/v1/privacy/retention-policies and /legal-holds: retention and legal holds by API."""

from datetime import timedelta

from django.utils import timezone

from custos.api.tests.helpers import created, entries, field_errors, ok, patch, post, problem, snapshot, warmed
from custos.core.tenancy import tenant_scope
from custos.crm.models import Contact
from custos.crm.services.people import contact_create
from custos.testing import api_client

POLICIES = "/api/v1/privacy/retention-policies"
HOLDS = "/api/v1/privacy/legal-holds"


def _idle_contact(cast, email, days=400):
    with tenant_scope(cast.org_a):
        contact = contact_create(actor=cast.actor(cast.olive), data={"last_name": "Idle", "email": email})
        then = timezone.now() - timedelta(days=days)
        Contact.objects.filter(pk=contact.pk).update(created_at=then, updated_at=then)
    return contact


def _email_of(cast, contact):
    with tenant_scope(cast.org_a):
        return Contact.objects.get(pk=contact.pk).email


def test_a_policy_is_created_previewed_enabled_run_and_reported(cast):
    client = api_client(cast, cast.alice)
    due = _idle_contact(cast, "due@example.org")
    held = _idle_contact(cast, "held@example.org")
    body = created(client, POLICIES, key="contact.inactive", condition="inactive", days=365, action="anonymise")
    assert body == {
        "id": body["id"],
        "key": "contact.inactive",
        "record_types": ["crm.Contact"],
        "condition": "inactive",
        "days": 365,
        "action": "anonymise",
        "is_enabled": False,
        "is_previewed": False,
        "created_at": body["created_at"],
        "last_run_at": None,
    }
    item = f"{POLICIES}/{body['id']}"
    assert ok(client.get(POLICIES)) == {"items": [body], "next": None}
    assert ok(client.get(item)) == body
    errors = field_errors(patch(client, item, {"is_enabled": True}))
    assert [e["field"] for e in errors] == ["is_enabled"]
    assert problem(post(client, f"{item}/run"), 409)

    hold = created(client, HOLDS, subject=str(held.subject_id), reason="pending lawsuit", until=None)
    assert hold == {
        "id": hold["id"],
        "subject": str(held.subject_id),
        "reason": "pending lawsuit",
        "until": None,
        "created_at": hold["created_at"],
        "created_by": str(cast.alice.pk),
        "released_at": None,
        "is_active": True,
    }
    assert ok(client.get(f"{item}/preview")) == {"matched": 1, "persons": 1, "held": 1, "also_deleted": {}}
    enabled = ok(patch(client, item, {"is_enabled": True}))
    assert (enabled["is_enabled"], enabled["is_previewed"]) == (True, True)

    run = ok(post(client, f"{item}/run"))
    assert (run["policy"], run["matched"], run["processed"], run["held"]) == (body["id"], 1, 1, 1)
    assert _email_of(cast, due) == ""
    assert _email_of(cast, held) == "held@example.org"
    assert ok(client.get(f"{item}/runs")) == {"items": [run], "next": None}
    assert ok(client.get(item))["last_run_at"] == run["finished_at"]

    released = ok(post(client, f"{HOLDS}/{hold['id']}/release"))
    assert (released["is_active"], released["released_at"] is not None) == (False, True)
    assert problem(post(client, f"{HOLDS}/{hold['id']}/release"), 409)
    assert ok(client.get(HOLDS, {"active": "true"})) == {"items": [], "next": None}
    second = ok(post(client, f"{item}/run"))
    assert (second["processed"], second["held"]) == (1, 0)
    assert _email_of(cast, held) == ""
    assert [r["id"] for r in ok(client.get(f"{item}/runs"))["items"]] == [second["id"], run["id"]]

    assert client.delete(item).status_code == 204
    assert problem(client.get(item), 404)
    audit = [(e.action, e.object_id, e.extra) for e in entries(cast.org_a, "retention_policy.")]
    assert audit == [
        ("retention_policy.create", body["id"], {}),
        ("retention_policy.update", body["id"], {}),
        ("retention_policy.run", body["id"], {"matched": 1, "processed": 1, "persons": 1, "held": 1}),
        ("retention_policy.run", body["id"], {"matched": 1, "processed": 1, "persons": 1, "held": 0}),
        ("retention_policy.delete", body["id"], {}),
    ]
    assert [e.action for e in entries(cast.org_a, "legal_hold.")] == ["legal_hold.create", "legal_hold.release"]


def test_bad_input_names_every_field_and_changes_nothing(cast):
    client = warmed(api_client(cast, cast.alice))
    before = snapshot(cast.org_a)
    errors = field_errors(post(client, POLICIES, {"key": "contact.forever", "condition": "lost", "days": 0}))
    assert sorted(e["field"] for e in errors) == ["action", "condition", "days", "key"]
    assert field_errors(post(client, POLICIES, {"key": "contact.inactive", "colour": "red"}))
    errors = field_errors(post(client, HOLDS, {"subject": "S-NOBODY", "reason": "", "until": "yesterday"}))
    assert sorted(e["field"] for e in errors) == ["reason", "subject", "until"]
    assert snapshot(cast.org_a) == before


def test_the_rights_decide_who_reads_keeps_and_runs_policies(cast):
    admin = api_client(cast, cast.alice)
    body = created(admin, POLICIES, key="lead.inactive", condition="created", days=30, action="delete")
    item = f"{POLICIES}/{body['id']}"
    bob = warmed(api_client(cast, cast.bob, "write"))
    before = snapshot(cast.org_a)
    assert problem(bob.get(POLICIES), 403)
    assert problem(bob.get(item), 403)
    assert problem(bob.get(f"{item}/preview"), 403)
    assert problem(post(bob, f"{item}/run"), 403)
    assert problem(post(bob, HOLDS, {"subject": "S-X", "reason": "x"}), 403)
    assert snapshot(cast.org_a) == before
    # A read token may preview, but its preview does not count for enabling.
    reader = warmed(api_client(cast, cast.alice, "read"))
    before = snapshot(cast.org_a)
    assert ok(reader.get(f"{item}/preview")) == {"matched": 0, "persons": 0, "held": 0, "also_deleted": {}}
    assert snapshot(cast.org_a) == before
    mallory = api_client(cast, cast.mallory)
    assert problem(mallory.get(item), 404)
    assert ok(mallory.get(POLICIES)) == {"items": [], "next": None}


def test_policies_count_from_lost_deals_and_contract_ends(cast):
    client = api_client(cast, cast.alice)
    lost = created(client, POLICIES, key="deal.closed", condition="deal_lost", days=365, action="delete")
    ended = created(client, POLICIES, key="contact.inactive", condition="contract_end", days=30, action="anonymise")
    assert (lost["condition"], lost["record_types"]) == ("deal_lost", ["crm.Deal"])
    assert (ended["condition"], ended["record_types"]) == ("contract_end", ["crm.Contact"])
    assert ok(client.get(f"{POLICIES}/{ended['id']}/preview")) == {
        "matched": 0,
        "persons": 0,
        "held": 0,
        "also_deleted": {},
    }
    errors = field_errors(patch(client, f"{POLICIES}/{lost['id']}", {"condition": "lost"}))
    assert [e["field"] for e in errors] == ["condition"]
    assert ok(client.get(f"{POLICIES}/{lost['id']}"))["condition"] == "deal_lost"
