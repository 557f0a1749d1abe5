"""Editing and deleting an entry from a record's timeline: who may, what is sent, bad input."""

from datetime import timedelta

import pytest
from django.utils import timezone

from custos.audit.models import AuditEntry
from custos.core.tenancy import tenant_scope
from custos.crm.models import Activity
from custos.crm.services.activities import activity_create
from custos.crm.services.deals import deal_create
from custos.crm.services.leads import lead_create
from custos.crm.services.people import company_create, contact_create
from custos.testing import web_client
from custos.web.tests.sales import audit_actions, crm_state, fresh, in_org_a, stages_of


def _records(cast):
    stages = stages_of(cast)
    return {
        "contacts": in_org_a(cast, contact_create, data={"last_name": "Lind"}),
        "companies": in_org_a(cast, company_create, data={"name": "Lind Dental"}),
        "leads": in_org_a(cast, lead_create, data={"last_name": "Berg"}),
        "deals": in_org_a(cast, deal_create, data={"name": "Chairs", "stage": str(stages["Proposal"].pk)}),
    }


LINKS = {"contacts": "contact", "companies": "company", "leads": "lead", "deals": "deal"}


def _note(cast, user=None, **links):
    return in_org_a(cast, activity_create, user=user, data={"kind": "note", "title": "Called", **links})


def _form(activity, **changes):
    """The edit form as a browser sends it: every shown field with its current value, then the changes."""
    local = timezone.localtime(activity.occurred_at)
    data = {
        "kind": activity.kind,
        "title": activity.title,
        "body": activity.body,
        "due_at": timezone.localtime(activity.due_at).strftime("%Y-%m-%dT%H:%M") if activity.due_at else "",
        "owner": str(activity.owner_id or ""),
        "occurred_at": local.strftime("%Y-%m-%dT%H:%M"),
        "duration_minutes": activity.duration_minutes if activity.duration_minutes is not None else "",
    }
    return {**data, **changes}


@pytest.mark.parametrize("kind", ["contacts", "companies", "leads", "deals"])
def test_an_entry_is_edited_from_any_records_timeline(cast, kind):
    record = _records(cast)[kind]
    note = _note(cast, **{LINKS[kind]: str(record.pk)})
    client = web_client(cast.alice)
    page = client.get(f"/{kind}/{record.pk}/").content.decode()
    assert f'href="/activities/{note.pk}/edit/?next=/{kind}/{record.pk}/"' in page
    form = client.get(f"/activities/{note.pk}/edit/")
    assert form.status_code == 200
    assert 'value="Called"' in form.content.decode() and 'id="activity-save"' in form.content.decode()
    response = client.post(
        f"/activities/{note.pk}/edit/", {**_form(note, title="Called back", body="Wants a quote"), "next": ""}
    )
    assert response.status_code == 302 and response["Location"] == f"/{kind}/{record.pk}/#activities"
    changed = fresh(cast, note)
    assert (changed.title, changed.body, changed.occurred_at) == ("Called back", "Wants a quote", note.occurred_at)
    with tenant_scope(cast.org_a):
        entry = AuditEntry.objects.filter(object_id=str(note.pk)).order_by("-seq").first()
    # Only what was changed is written; the time shown to the minute is left as it was.
    assert (entry.action, sorted(entry.fields)) == ("activity.update", ["body", "title"])
    assert "Called back" in client.get(f"/{kind}/{record.pk}/").content.decode()


def test_a_note_becomes_a_task_only_with_a_due_date_and_bad_input_changes_nothing(cast):
    contact = _records(cast)["contacts"]
    note = _note(cast, contact=str(contact.pk))
    client = web_client(cast.alice)
    before = crm_state(cast)
    response = client.post(f"/activities/{note.pk}/edit/", _form(note, kind="task"))
    assert response.status_code == 200
    assert "Give the task a due date." in response.content.decode()
    response = client.post(f"/activities/{note.pk}/edit/", _form(note, title="", duration_minutes="-3"))
    body = response.content.decode()
    assert response.status_code == 200 and body.count('class="errorlist"') >= 2
    assert crm_state(cast) == before
    due = (timezone.localtime() + timedelta(days=1)).replace(second=0, microsecond=0)
    response = client.post(
        f"/activities/{note.pk}/edit/",
        _form(note, kind="task", due_at=due.strftime("%Y-%m-%dT%H:%M"), owner=str(cast.sam.pk)),
    )
    assert response.status_code == 302
    task = fresh(cast, note)
    assert (task.kind, task.due_at, task.owner_id) == ("task", due, cast.sam.pk)


def test_a_task_due_in_the_hour_the_clocks_go_back_keeps_its_moment_and_takes_new_ones(cast):
    """02:30 on 25 October 2026 happens twice in Berlin: shown back unchanged, the stored one
    stays, whichever it was; typed anew, the first one is taken rather than refused."""
    from datetime import datetime

    second_time = datetime.fromisoformat("2026-10-25T02:30:00+01:00")  # the second 02:30
    first_time = datetime.fromisoformat("2026-10-25T02:45:00+02:00")  # the first 02:45
    contact = _records(cast)["contacts"]
    task = in_org_a(
        cast,
        activity_create,
        data={
            "kind": "task",
            "title": "Call back",
            "contact": str(contact.pk),
            "due_at": second_time.isoformat(),
            "reminder_at": first_time.isoformat(),
        },
    )
    client = web_client(cast.alice)
    shown = client.get(f"/activities/{task.pk}/edit/").content.decode()
    assert 'value="2026-10-25T02:30"' in shown and 'value="2026-10-25T02:45"' in shown

    response = client.post(
        f"/activities/{task.pk}/edit/", _form(task, title="Call back soon", reminder_at="2026-10-25T02:45")
    )

    assert response.status_code == 302
    saved = fresh(cast, task)
    assert (saved.title, saved.due_at, saved.reminder_at) == ("Call back soon", second_time, first_time)
    response = client.post(f"/activities/{task.pk}/edit/", _form(saved, due_at="2026-10-25T02:15", reminder_at=""))
    assert response.status_code == 302
    assert fresh(cast, task).due_at == datetime.fromisoformat("2026-10-25T02:15:00+02:00")


def test_a_task_is_ticked_off_reopened_and_deleted_from_the_timeline(cast):
    contact = _records(cast)["contacts"]
    task = in_org_a(
        cast,
        activity_create,
        data={"kind": "task", "title": "Send quote", "due_at": timezone.now(), "contact": str(contact.pk)},
    )
    client = web_client(cast.alice)
    back = f"/contacts/{contact.pk}/"
    assert client.post(f"/activities/{task.pk}/done/", {"next": back})["Location"] == back
    assert fresh(cast, task).done_at is not None
    assert "Reopen" in client.get(back).content.decode()
    client.post(f"/activities/{task.pk}/done/", {"done": "0", "next": back})
    assert fresh(cast, task).done_at is None
    assert client.post(f"/activities/{task.pk}/delete/", {"next": back})["Location"] == back
    with tenant_scope(cast.org_a):
        assert not Activity.objects.filter(pk=task.pk).exists()
    assert audit_actions(cast, task.pk) == [
        "activity.create",
        "activity.complete",
        "activity.reopen",
        "activity.delete",
    ]


def test_who_may_not_change_an_entry_gets_no_link_and_changes_nothing(cast):
    contact = _records(cast)["contacts"]
    note = _note(cast, contact=str(contact.pk))
    before = crm_state(cast)
    bob = web_client(cast.bob)  # read-only
    page = bob.get(f"/contacts/{contact.pk}/").content.decode()
    assert "Called" in page and f"/activities/{note.pk}/edit/" not in page
    assert bob.get(f"/activities/{note.pk}/edit/").status_code == 403
    assert bob.post(f"/activities/{note.pk}/edit/", _form(note, title="Sneaky")).status_code == 403
    # Sales see and change only their own records' entries: olive's note is not found for sam.
    sam = web_client(cast.sam)
    assert sam.get(f"/activities/{note.pk}/edit/").status_code == 404
    assert sam.post(f"/activities/{note.pk}/edit/", _form(note, title="Sneaky")).status_code == 404
    # Sales may change but not delete: no delete button, and the post is refused.
    own = _note(cast, user=cast.sam)
    before = crm_state(cast)
    assert sam.post(f"/activities/{own.pk}/delete/").status_code == 403
    assert crm_state(cast) == before
    assert sam.post(f"/activities/{own.pk}/edit/", _form(own, title="Mine")).status_code == 302
    assert fresh(cast, own).title == "Mine"


def test_another_organisations_entry_is_not_found(cast):
    note = _note(cast)
    mallory = web_client(cast.mallory)
    assert mallory.get(f"/activities/{note.pk}/edit/").status_code == 404
    assert mallory.post(f"/activities/{note.pk}/edit/", _form(note, title="Mine")).status_code == 404
    assert fresh(cast, note).title == "Called"
