"""/api/v1/activities: notes and tasks on any record's timeline, completing and reopening tasks."""

from datetime import UTC, datetime

from custos.api.tests.helpers import (
    created,
    entries,
    field_errors,
    hide,
    in_id_order,
    iso,
    last_entry,
    ok,
    patch,
    post,
    problem,
    snapshot,
    warmed,
)
from custos.core.tenancy import tenant_scope
from custos.crm.models import Activity
from custos.testing import api_client


def _activity(client, **data):
    return created(client, "/api/v1/activities", **data)


def test_create_answers_201_with_the_activity_owned_by_the_caller(cast):
    client = api_client(cast, cast.alice)
    contact = created(client, "/api/v1/contacts", last_name="Lind")

    body = _activity(
        client,
        kind="call",
        title="Discussed the fleet",
        body="40 vans, two depots",
        occurred_at="2026-11-20T09:30:00+01:00",
        duration_minutes=25,
        contact=contact["id"],
    )

    with tenant_scope(cast.org_a):
        activity = Activity.objects.get(pk=body["id"])
    assert body == {
        "id": str(activity.pk),
        "kind": "call",
        "title": "Discussed the fleet",
        "body": "40 vans, two depots",
        "occurred_at": "2026-11-20T08:30:00Z",
        "duration_minutes": 25,
        "due_at": None,
        "reminder_at": None,
        "done_at": None,
        "owner": str(cast.alice.pk),
        "contact": contact["id"],
        "company": None,
        "lead": None,
        "deal": None,
        "created_at": iso(activity.created_at),
        "updated_at": iso(activity.updated_at),
    }
    assert activity.occurred_at == datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
    entry = last_entry(cast.org_a)
    assert (entry.action, entry.object_type, entry.object_id, entry.actor_user_id, entry.fields) == (
        "activity.create",
        "activity",
        body["id"],
        cast.alice.pk,
        ["body", "contact", "duration_minutes", "kind", "occurred_at", "owner", "title"],
    )
    assert ok(client.get(f"/api/v1/activities/{body['id']}")) == body


def test_a_note_happens_now_unless_told_otherwise(cast):
    client = api_client(cast, cast.alice)
    before = datetime.now(tz=UTC)

    body = _activity(client, title="Quick note")

    occurred = datetime.fromisoformat(body["occurred_at"])
    assert body["kind"] == "note"
    assert before.replace(microsecond=0) <= occurred <= datetime.now(tz=UTC)


def test_a_task_needs_a_due_date_and_a_reminder_before_it(cast):
    client = warmed(api_client(cast, cast.alice))
    before = snapshot(cast.org_a)

    assert field_errors(post(client, "/api/v1/activities", {"kind": "task", "title": "Send the offer"})) == [
        {"field": "due_at", "message": "Give the task a due date."}
    ]
    late_reminder = {
        "kind": "task",
        "title": "Send the offer",
        "due_at": "2026-11-24T12:00:00+01:00",
        "reminder_at": "2026-11-24T12:30:00+01:00",
    }
    assert field_errors(post(client, "/api/v1/activities", late_reminder)) == [
        {"field": "reminder_at", "message": "Remind before the task is due."}
    ]
    assert snapshot(cast.org_a) == before

    task = _activity(client, **{**late_reminder, "reminder_at": "2026-11-24T09:00:00+01:00"})
    assert (task["due_at"], task["reminder_at"]) == ("2026-11-24T11:00:00Z", "2026-11-24T08:00:00Z")
    assert field_errors(patch(client, f"/api/v1/activities/{task['id']}", {"due_at": None})) == [
        {"field": "due_at", "message": "Give the task a due date."}
    ]
    # A change without a kind keeps it: the task does not turn into a note and leave "my day".
    assert ok(patch(client, f"/api/v1/activities/{task['id']}", {"kind": None}))["kind"] == "task"


def test_bad_activities_are_422_naming_each_field_and_change_nothing(cast):
    client = warmed(api_client(cast, cast.alice))
    before = snapshot(cast.org_a)

    cases = [
        ({"title": "Call", "colour": "red"}, [{"field": "colour", "message": "Unknown field."}]),
        (
            {"title": ["Call"], "duration_minutes": "30", "due_at": 5},
            [
                {"field": "title", "message": "Enter text."},
                {"field": "duration_minutes", "message": "Enter a whole number."},
                {"field": "due_at", "message": "Enter text."},
            ],
        ),
        (
            {"kind": "memo", "occurred_at": "yesterday", "duration_minutes": -5, "owner": "nobody"},
            [
                {"field": "kind", "message": "Choose one of: note, task, call, email, meeting."},
                {"field": "title", "message": "This field is required."},
                {"field": "occurred_at", "message": "Enter a date and time such as 2026-11-22T14:30:00+01:00."},
                {"field": "duration_minutes", "message": "Enter a number from 0 to 44640."},
                {"field": "owner", "message": "Choose a member of this organisation."},
            ],
        ),
        (
            {"title": "Call", "contact": "nope", "company": "nope", "lead": "nope", "deal": "nope"},
            [
                {"field": "contact", "message": "Choose an existing contact."},
                {"field": "company", "message": "Choose an existing company."},
                {"field": "lead", "message": "Choose an existing lead."},
                {"field": "deal", "message": "Choose an existing deal."},
            ],
        ),
    ]
    for body, errors in cases:
        assert field_errors(post(client, "/api/v1/activities", body)) == errors, body
    assert snapshot(cast.org_a) == before


def test_an_activity_cannot_be_linked_to_a_record_the_actor_cannot_see(cast):
    alice = api_client(cast, cast.alice)
    contact = created(alice, "/api/v1/contacts", last_name="Lind")
    lead = created(alice, "/api/v1/leads", last_name="Berg")
    sams_own = created(alice, "/api/v1/contacts", last_name="Kim", owner=str(cast.sam.pk))
    sam = warmed(api_client(cast, cast.sam, "write"))
    before = snapshot(cast.org_a)

    response = post(sam, "/api/v1/activities", {"title": "Call", "contact": contact["id"], "lead": lead["id"]})

    assert field_errors(response) == [
        {"field": "contact", "message": "Choose an existing contact."},
        {"field": "lead", "message": "Choose an existing lead."},
    ]
    assert snapshot(cast.org_a) == before
    mine = _activity(sam, title="Call", contact=sams_own["id"])
    assert field_errors(patch(sam, f"/api/v1/activities/{mine['id']}", {"contact": contact["id"]})) == [
        {"field": "contact", "message": "Choose an existing contact."}
    ]


def test_complete_and_reopen_are_audited_once_each(cast):
    client = api_client(cast, cast.alice)
    task = _activity(client, kind="task", title="Send the offer", due_at="2026-11-24T12:00:00+01:00")
    path = f"/api/v1/activities/{task['id']}"

    done = ok(post(client, f"{path}/complete"))
    again = ok(post(client, f"{path}/complete"))
    reopened = ok(post(client, f"{path}/reopen"))

    with tenant_scope(cast.org_a):
        stored = Activity.objects.get(pk=task["id"])
    assert done["done_at"] is not None
    assert done == {**task, "done_at": done["done_at"], "updated_at": done["updated_at"]}
    assert again == done
    assert reopened == {**task, "updated_at": reopened["updated_at"]}
    assert stored.done_at is None
    assert [(e.action, e.object_id) for e in entries(cast.org_a, "activity.") if e.action != "activity.create"] == [
        ("activity.complete", task["id"]),
        ("activity.reopen", task["id"]),
    ]


def test_patch_and_delete(cast):
    client = api_client(cast, cast.alice)
    note = _activity(client, title="Call", body="About vans")
    path = f"/api/v1/activities/{note['id']}"

    changed = ok(patch(client, path, {"body": "About 40 vans", "kind": "call"}))
    assert changed == {**note, "body": "About 40 vans", "kind": "call", "updated_at": changed["updated_at"]}
    entry = last_entry(cast.org_a)
    assert (entry.action, entry.fields) == ("activity.update", ["body", "kind"])

    response = client.delete(path)
    assert (response.status_code, response.content) == (204, b"")
    assert problem(client.get(path), 404)
    assert (last_entry(cast.org_a).action, last_entry(cast.org_a).object_id) == ("activity.delete", note["id"])


def test_the_list_gives_timelines_open_tasks_kinds_and_searches(cast):
    client = api_client(cast, cast.alice)
    contact = created(client, "/api/v1/contacts", last_name="Lind")
    company = created(client, "/api/v1/companies", name="Nordwind GmbH")
    lead = created(client, "/api/v1/leads", last_name="Berg")
    deal = created(client, "/api/v1/deals", name="Fleet", contact=contact["id"])
    due = "2026-11-24T12:00:00+01:00"
    note = _activity(client, title="Met at the fair", contact=contact["id"], company=company["id"])
    task = _activity(client, kind="task", title="Send the offer", due_at=due, deal=deal["id"], contact=contact["id"])
    done = _activity(client, kind="task", title="Call back", due_at=due, lead=lead["id"])
    ok(post(client, f"/api/v1/activities/{done['id']}/complete"))

    def ids(**params):
        body = ok(client.get("/api/v1/activities", params))
        assert body["next"] is None
        return [item["id"] for item in body["items"]]

    first = ok(client.get("/api/v1/activities", {"limit": 2}))
    rest = ok(client.get("/api/v1/activities", {"limit": 2, "cursor": first["next"]}))
    assert [a["id"] for a in first["items"] + rest["items"]] == in_id_order(note, task, done)
    assert note in first["items"] + rest["items"]
    assert ids(contact=contact["id"]) == in_id_order(note, task)
    assert ids(company=company["id"]) == [note["id"]]
    assert ids(deal=deal["id"]) == [task["id"]]
    assert ids(lead=lead["id"]) == [done["id"]]
    assert ids(contact=contact["id"], deal=deal["id"]) == [task["id"]]
    assert ids(kind="task") == in_id_order(task, done)
    assert ids(open="true") == [task["id"]]
    assert ids(q="OFFER") == [task["id"]]
    assert field_errors(client.get("/api/v1/activities", {"kind": "memo"})) == [
        {"field": "kind", "message": "Choose one of: note, task, call, email, meeting."}
    ]
    assert field_errors(client.get("/api/v1/activities", {"open": "maybe"})) == [
        {"field": "open", "message": "Enter true or false."}
    ]
    assert field_errors(client.get("/api/v1/activities", {"contact": "nope"})) == [
        {"field": "contact", "message": "Choose an existing contact."}
    ]


def test_a_sales_member_sees_activities_he_owns_or_on_his_records(cast):
    alice = api_client(cast, cast.alice)
    alices = created(alice, "/api/v1/contacts", last_name="Lind")
    sams = created(alice, "/api/v1/contacts", last_name="Kim", owner=str(cast.sam.pk))
    on_alices = _activity(alice, title="Alice's call", contact=alices["id"])
    on_sams = _activity(alice, title="Note on Sam's contact", contact=sams["id"])
    assigned = _activity(
        alice, kind="task", title="Sam, call her", due_at="2026-11-24T12:00:00Z", owner=str(cast.sam.pk)
    )
    sam = warmed(api_client(cast, cast.sam, "write"))
    before = snapshot(cast.org_a)

    assert [a["id"] for a in ok(sam.get("/api/v1/activities"))["items"]] == in_id_order(on_sams, assigned)
    assert problem(sam.get(f"/api/v1/activities/{on_alices['id']}"), 404)
    assert problem(post(sam, f"/api/v1/activities/{on_alices['id']}/complete"), 404)
    assert problem(patch(sam, f"/api/v1/activities/{on_alices['id']}", {"title": "Mine"}), 404)
    assert field_errors(sam.get("/api/v1/activities", {"contact": alices["id"]})) == [
        {"field": "contact", "message": "Choose an existing contact."}
    ]
    assert problem(sam.delete(f"/api/v1/activities/{assigned['id']}"), 403)
    assert snapshot(cast.org_a) == before
    assert ok(post(sam, f"/api/v1/activities/{assigned['id']}/complete"))["done_at"] is not None


def test_a_read_only_member_reads_but_cannot_complete(cast):
    task = _activity(api_client(cast, cast.alice), kind="task", title="Call", due_at="2026-11-24T12:00:00Z")
    bob = warmed(api_client(cast, cast.bob, "write"))
    before = snapshot(cast.org_a)

    assert ok(bob.get(f"/api/v1/activities/{task['id']}")) == task
    assert problem(post(bob, f"/api/v1/activities/{task['id']}/complete"), 403)
    assert problem(post(bob, "/api/v1/activities", {"title": "Note"}), 403)
    assert snapshot(cast.org_a) == before


def test_hidden_fields_are_null_and_not_searched(cast):
    alice = api_client(cast, cast.alice)
    note = _activity(alice, title="Call", body="Mentioned her divorce", owner=str(cast.sam.pk))
    hide(cast, "sales", "activity.body")
    sam = api_client(cast, cast.sam, "write")

    assert ok(sam.get(f"/api/v1/activities/{note['id']}"))["body"] is None
    assert ok(sam.get("/api/v1/activities", {"q": "divorce"}))["items"] == []
    assert [a["id"] for a in ok(sam.get("/api/v1/activities", {"q": "call"}))["items"]] == [note["id"]]
    assert problem(patch(sam, f"/api/v1/activities/{note['id']}", {"body": "x"}), 403)


def test_a_moment_without_an_offset_is_read_in_the_members_own_time_zone(cast):
    """As on the web: a task due at 9:00 in New York is due at 14:00 UTC, not at 8:00."""
    cast.alice.time_zone = "America/New_York"
    cast.alice.save(update_fields=["time_zone"])
    in_new_york = api_client(cast, cast.alice)
    in_berlin = api_client(cast, cast.sam, scope="read,write")
    task = {"kind": "task", "title": "Call back"}

    theirs = _activity(in_new_york, **task, due_at="2026-12-01T09:00")
    ours = created(in_berlin, "/api/v1/activities", **task, due_at="2026-12-01T09:00")

    assert theirs["due_at"] == "2026-12-01T14:00:00Z"
    assert ours["due_at"] == "2026-12-01T08:00:00Z"  # the zone ended with the other request
