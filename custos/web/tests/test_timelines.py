"""Timelines on contact, company, lead and deal pages: adding inline (htmx) and by plain post,
ticking tasks off, and my day."""

from datetime import timedelta

import pytest
from django.utils import timezone

from custos.core.tenancy import tenant_scope
from custos.crm.models import Activity
from custos.crm.services.activities import activity_complete, activity_create
from custos.crm.services.deals import deal_create
from custos.crm.services.leads import lead_create
from custos.crm.services.people import company_create, contact_create
from custos.testing import web_client
from custos.web.tests.sales import audit_actions, crm_state, fresh, in_org_a, stages_of


def _records(cast):
    stages = stages_of(cast)
    company = in_org_a(cast, company_create, data={"name": "Lind Dental"})
    return {
        "contacts": in_org_a(cast, contact_create, data={"last_name": "Lind", "company": str(company.pk)}),
        "companies": company,
        "leads": in_org_a(cast, lead_create, data={"last_name": "Berg"}),
        "deals": in_org_a(cast, deal_create, data={"name": "Chairs", "stage": str(stages["Proposal"].pk)}),
    }


def _activities(cast):
    with tenant_scope(cast.org_a):
        return list(Activity.objects.order_by("created_at"))


@pytest.mark.parametrize("kind", ["contacts", "companies", "leads", "deals"])
def test_a_note_is_added_by_plain_post_and_shown_on_the_timeline(cast, kind):
    record = _records(cast)[kind]
    client = web_client(cast.alice)
    response = client.post(
        f"/{kind}/{record.pk}/activities/", {"kind": "note", "title": "Called back", "body": "Wants a quote"}
    )
    assert response.status_code == 302 and response["Location"] == f"/{kind}/{record.pk}/#activities"
    (note,) = _activities(cast)
    link = {"contacts": "contact_id", "companies": "company_id", "leads": "lead_id", "deals": "deal_id"}[kind]
    assert getattr(note, link) == record.pk and note.kind == "note" and note.owner_id == cast.alice.pk
    assert audit_actions(cast, note.pk) == ["activity.create"]
    body = client.get(f"/{kind}/{record.pk}/").content.decode()
    assert "Called back" in body and "Wants a quote" in body and "The note is added." in body


def test_a_note_added_with_htmx_answers_with_the_timeline_and_a_status(cast):
    contact = _records(cast)["contacts"]
    response = web_client(cast.alice).post(
        f"/contacts/{contact.pk}/activities/",
        {"kind": "note", "title": "Met at the fair"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="timeline">') and "<html" not in body
    assert "Met at the fair" in body
    assert '<p id="activity-status" hx-swap-oob="innerHTML">The note is added.</p>' in body
    assert 'name="title" maxlength="200" required id="id_title">' in body  # a fresh, empty form
    assert len(_activities(cast)) == 1


def test_a_task_needs_a_due_date_with_and_without_htmx(cast):
    contact = _records(cast)["contacts"]
    before = crm_state(cast)
    client = web_client(cast.alice)
    task = {"kind": "task", "title": "Send the quote"}
    response = client.post(f"/contacts/{contact.pk}/activities/", task)
    assert response.status_code == 200 and "Give the task a due date." in response.content.decode()
    response = client.post(f"/contacts/{contact.pk}/activities/", task, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200 and "Give the task a due date." in body
    assert 'value="Send the quote"' in body and "The entry is not saved yet." in body
    assert crm_state(cast) == before


def test_a_task_with_due_date_and_assignee_is_added(cast):
    deal = _records(cast)["deals"]
    response = web_client(cast.alice).post(
        f"/deals/{deal.pk}/activities/",
        {"kind": "task", "title": "Send the quote", "due_at": "2030-01-15T10:00", "owner": str(cast.sam.pk)},
        headers={"HX-Request": "true"},
    )
    assert "The task is added." in response.content.decode()
    (task,) = _activities(cast)
    assert (task.kind, task.owner_id, task.deal_id) == ("task", cast.sam.pk, deal.pk)
    assert timezone.localtime(task.due_at).strftime("%Y-%m-%d %H:%M") == "2030-01-15 10:00"


def test_the_timeline_is_newest_first(cast):
    contact = _records(cast)["contacts"]
    now = timezone.now()
    for title, days in (("Oldest", 3), ("Newest", 0), ("Middle", 1)):
        in_org_a(
            cast,
            activity_create,
            data={"title": title, "contact": str(contact.pk), "occurred_at": (now - timedelta(days=days)).isoformat()},
        )
    body = web_client(cast.alice).get(f"/contacts/{contact.pk}/").content.decode()
    assert body.index("Newest") < body.index("Middle") < body.index("Oldest")


def _task(cast, title, due, owner, **data):
    return in_org_a(
        cast,
        activity_create,
        data={"kind": "task", "title": title, "due_at": due.isoformat(), "owner": str(owner.pk), **data},
    )


def test_a_task_is_ticked_off_and_reopened(cast):
    contact = _records(cast)["contacts"]
    task = _task(cast, "Call back", timezone.now(), cast.alice, contact=str(contact.pk))
    client = web_client(cast.alice)
    response = client.post(f"/activities/{task.pk}/done/", {"next": f"/contacts/{contact.pk}/"})
    assert response.status_code == 302 and response["Location"] == f"/contacts/{contact.pk}/"
    assert fresh(cast, task).done_at is not None
    response = client.post(f"/activities/{task.pk}/done/", {"done": "0"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert body.lstrip().startswith(f'<li id="activity-{task.pk}"') and "Mark done" in body
    assert "The task is open again." in body
    assert fresh(cast, task).done_at is None
    assert audit_actions(cast, task.pk) == ["activity.create", "activity.complete", "activity.reopen"]


def test_a_task_about_a_restricted_person_says_why_it_stays_open(cast):
    from custos.privacy.services.restriction import subject_restrict

    contact = _records(cast)["contacts"]
    task = _task(cast, "Call back", timezone.now(), cast.alice, contact=str(contact.pk))
    in_org_a(cast, subject_restrict, subject=contact.subject, inform=False)
    client = web_client(cast.alice)
    swapped = client.post(f"/activities/{task.pk}/done/", headers={"HX-Request": "true"}).content.decode()
    assert "Processing of this person&#x27;s data is restricted" in swapped and "Mark done" in swapped
    page = client.post(f"/activities/{task.pk}/done/", {"next": f"/contacts/{contact.pk}/"}, follow=True)
    assert "Processing of this person&#x27;s data is restricted" in page.content.decode()
    assert fresh(cast, task).done_at is None


def test_the_next_address_must_be_local(cast):
    task = _task(cast, "Call back", timezone.now(), cast.alice)
    response = web_client(cast.alice).post(f"/activities/{task.pk}/done/", {"next": "https://evil.example/"})
    assert response["Location"] == "/my-day/"


def test_read_only_cannot_add_or_tick_off_and_nothing_changes(cast):
    records = _records(cast)
    task = _task(cast, "Call back", timezone.now(), cast.alice, contact=str(records["contacts"].pk))
    before = crm_state(cast)
    bob = web_client(cast.bob)
    page = bob.get(f"/contacts/{records['contacts'].pk}/").content.decode()
    assert "Call back" in page and 'name="title"' not in page and "Mark done" not in page
    for kind, record in records.items():
        note = {"kind": "note", "title": "Sneaky"}
        assert bob.post(f"/{kind}/{record.pk}/activities/", note).status_code == 403
        assert bob.post(f"/{kind}/{record.pk}/activities/", note, headers={"HX-Request": "true"}).status_code == 403
    assert bob.post(f"/activities/{task.pk}/done/").status_code == 403
    assert bob.post(f"/activities/{task.pk}/delete/").status_code == 403
    assert crm_state(cast) == before


def test_my_day_lists_exactly_my_open_tasks_due_today_or_overdue(cast):
    contact = _records(cast)["contacts"]
    now = timezone.localtime()
    end_of_today = now.replace(hour=23, minute=59, second=0, microsecond=0)
    overdue = _task(cast, "Overdue task", now - timedelta(days=2), cast.alice, contact=str(contact.pk))
    today = _task(cast, "Today task", end_of_today, cast.alice)
    tomorrow = _task(cast, "Tomorrow task", end_of_today + timedelta(minutes=2), cast.alice)
    done = _task(cast, "Done task", now - timedelta(hours=1), cast.alice)
    in_org_a(cast, activity_complete, activity=done)
    someone_elses = _task(cast, "Sams task", now, cast.sam)
    note = in_org_a(cast, activity_create, data={"title": "A note", "owner": str(cast.alice.pk)})
    body = web_client(cast.alice).get("/my-day/").content.decode()
    shown = {
        str(a.pk) for a in (overdue, today, tomorrow, done, someone_elses, note) if f'id="activity-{a.pk}"' in body
    }
    assert shown == {str(overdue.pk), str(today.pk)}
    assert body.index("Overdue task") < body.index("Today task")
    assert f'<a href="/contacts/{contact.pk}/">Lind</a>' in body


def test_my_day_names_only_records_the_member_may_open(cast):
    secret = in_org_a(cast, contact_create, data={"last_name": "Verborgen", "owner": str(cast.alice.pk)})
    task = _task(cast, "Ring them", timezone.now(), cast.sam, contact=str(secret.pk))
    body = web_client(cast.sam).get("/my-day/").content.decode()
    assert f'id="activity-{task.pk}"' in body
    assert "Verborgen" not in body and str(secret.pk) not in body


def test_ticking_off_on_my_day_with_htmx(cast):
    task = _task(cast, "Ring them", timezone.now(), cast.sam)
    response = web_client(cast.sam).post(
        f"/activities/{task.pk}/done/", {"next": "/my-day/", "links": "1"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200 and "Reopen" in response.content.decode()
    assert fresh(cast, task).done_at is not None


def test_the_navigation_offers_my_day_leads_deals_and_pipelines_by_permission(cast):
    alice = web_client(cast.alice).get("/").content.decode()
    sam = web_client(cast.sam).get("/").content.decode()
    for link in ('href="/my-day/"', 'href="/leads/"', 'href="/deals/"'):
        assert link in alice and link in sam
    assert 'href="/settings/pipelines/"' in alice and 'href="/settings/pipelines/"' not in sam
    assert '<a href="/leads/" aria-current="page">' in web_client(cast.sam).get("/leads/").content.decode()


def test_a_long_timeline_says_it_shows_only_the_newest_entries(cast):
    from custos.web.views.activities import TIMELINE_LENGTH

    deal = _records(cast)["deals"]
    with tenant_scope(cast.org_a):
        Activity.objects.bulk_create(
            Activity(deal=deal, title=f"Note {n}", kind="note", occurred_at=timezone.now() - timedelta(minutes=n))
            for n in range(TIMELINE_LENGTH)
        )
    client = web_client(cast.alice)
    full = client.get(f"/deals/{deal.pk}/").content.decode()
    in_org_a(cast, activity_create, data={"title": "One more", "deal": str(deal.pk)})
    over = client.get(f"/deals/{deal.pk}/").content.decode()

    assert "Only the newest" not in full
    assert f"Only the newest {TIMELINE_LENGTH} entries are shown here" in over and "One more" in over
