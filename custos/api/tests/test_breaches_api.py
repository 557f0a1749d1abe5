"""/api/v1/privacy/breaches and /processors: the breach and processors registers by API."""

from datetime import UTC, datetime, timedelta

from django.utils import timezone

from custos.api.tests.helpers import (
    created,
    entries,
    field_errors,
    grant,
    iso,
    ok,
    patch,
    post,
    problem,
    snapshot,
    warmed,
)
from custos.core.tenancy import tenant_scope
from custos.crm.services.people import contact_create
from custos.testing import api_client, run_tasks

BREACHES = "/api/v1/privacy/breaches"
PROCESSORS = "/api/v1/privacy/processors"


def _subject_id(cast, first_name, email=""):
    with tenant_scope(cast.org_a):
        contact = contact_create(
            actor=cast.actor(cast.olive), data={"first_name": first_name, "last_name": "Example", "email": email}
        )
    return str(contact.subject_id)


def test_a_breach_is_recorded_read_changed_and_its_clock_runs(cast):
    client = api_client(cast, cast.alice, scope="privacy:write")
    aware = (timezone.now() - timedelta(hours=30)).replace(microsecond=0)
    body = created(
        client,
        BREACHES,
        title="Mail sent to the wrong list",
        aware_at=aware.isoformat(),
        data_categories=["contact"],
        approx_persons=40,
    )
    due = aware + timedelta(hours=72)
    assert body == body | {
        "title": "Mail sent to the wrong list",
        "status": "open",
        "aware_at": iso(aware.astimezone(UTC)),
        "authority_due_at": iso(due.astimezone(UTC)),
        "hours_left": 41,
        "overdue": False,
        "authority_notified_at": None,
        "data_categories": ["contact"],
        "approx_persons": 40,
        "approx_records": None,
        "affected": 0,
        "notified": 0,
    }
    assert ok(client.get(f"{BREACHES}/{body['id']}")) == body
    assert ok(client.get(BREACHES)) == {"items": [body], "next": None}
    assert ok(client.get(BREACHES, {"status": "closed"})) == {"items": [], "next": None}

    changed = ok(patch(client, f"{BREACHES}/{body['id']}", {"measures": "Recall sent."}))
    assert changed == body | {"measures": "Recall sent."}
    notified = ok(post(client, f"{BREACHES}/{body['id']}/authority-notified"))
    assert notified["hours_left"] is None and notified["authority_notified_at"] is not None
    closed = ok(post(client, f"{BREACHES}/{body['id']}/close"))
    assert closed["status"] == "closed"
    assert problem(patch(client, f"{BREACHES}/{body['id']}", {"title": "Again"}), 409)
    assert [(e.action, e.object_id) for e in entries(cast.org_a, "breach.")] == [
        ("breach.create", body["id"]),
        ("breach.update", body["id"]),
        ("breach.authority_notified", body["id"]),
        ("breach.close", body["id"]),
    ]


def test_an_overdue_breach_says_so(cast):
    client = api_client(cast, cast.alice)
    aware = timezone.now() - timedelta(hours=75)
    body = created(client, BREACHES, title="Old", aware_at=aware.isoformat())
    assert (body["hours_left"], body["overdue"]) == (-3, True)


def test_bad_input_names_the_fields_and_changes_nothing(cast):
    client = warmed(api_client(cast, cast.alice))
    before = snapshot(cast.org_a)
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    errors = field_errors(
        post(
            client,
            BREACHES,
            {"title": "", "aware_at": future, "data_categories": ["gossip"], "approx_persons": -3},
        )
    )
    assert {e["field"] for e in errors} == {"title", "aware_at", "data_categories", "approx_persons"}
    errors = field_errors(post(client, BREACHES, {"title": "x", "aware_at": "soon", "approx_records": "7"}))
    assert {e["field"] for e in errors} == {"aware_at", "approx_records"}
    errors = field_errors(post(client, PROCESSORS, {"name": "Cloud", "service": "CRM", "location": "US"}))
    assert {e["field"] for e in errors} == {"safeguard"}
    errors = field_errors(
        post(client, PROCESSORS, {"name": "Cloud", "service": "CRM", "location": "XX", "safeguard": "scc"})
    )
    assert errors == [{"field": "location", "message": "Use a two-letter country code such as DE."}]
    # A number is not a moment (it would have been read as seconds since 1970).
    errors = field_errors(post(client, BREACHES, {"title": "x", "aware_at": 123}))
    assert {e["field"] for e in errors} == {"aware_at"}
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    for signed_on in (tomorrow, "0001-01-01", 20240101):
        processor = {"name": "Cloud", "service": "CRM", "location": "DE", "safeguard": "none_needed"}
        errors = field_errors(post(client, PROCESSORS, processor | {"dpa_signed_on": signed_on}))
        assert {e["field"] for e in errors} == {"dpa_signed_on"}
    assert snapshot(cast.org_a) == before


def test_affected_persons_are_added_and_told_by_mail(cast, smtp_server):
    client = api_client(cast, cast.alice)
    breach = created(client, BREACHES, title="Stolen laptop", aware_at=timezone.now().isoformat())
    anna, ben = _subject_id(cast, "Anna", "anna@example.org"), _subject_id(cast, "Ben")
    added = ok(post(client, f"{BREACHES}/{breach['id']}/subjects", {"subject_ids": [anna, ben, anna]}))
    assert added == {"added": 2, "affected": 2, "notified": 0}
    assert field_errors(post(client, f"{BREACHES}/{breach['id']}/subjects", {})) == [
        {"field": "subject_ids", "message": "Send subject_ids, contacts or leads."}
    ]
    assert field_errors(post(client, f"{BREACHES}/{breach['id']}/subjects", {"subject_ids": []})) == [
        {"field": "subject_ids", "message": "Enter a list of data subject ids."}
    ]
    counts = ok(post(client, f"{BREACHES}/{breach['id']}/notify"), 202)
    assert counts == {"queued": 1, "without_email": 1, "notified_before": 0}
    run_tasks()
    [mail] = smtp_server.sent_to("anna@example.org")
    assert mail["Content-Language"] == "de"  # the organisation is in Germany; Anna never said
    body = ok(client.get(f"{BREACHES}/{breach['id']}"))
    assert (body["affected"], body["notified"]) == (2, 1)
    assert body["persons_notified_at"] is not None


def _tagged_people(cast):
    """Three contacts (two tagged "fair-2026", one of them also a lead) and a lead of their own."""
    from custos.crm.services.leads import lead_create

    actor = cast.actor(cast.olive)
    with tenant_scope(cast.org_a):
        people = {
            name: contact_create(actor=actor, data={"first_name": name, "last_name": "Example", "tags": tags})
            for name, tags in (("Anna", ["fair-2026"]), ("Ben", ["fair-2026", "vip"]), ("Cleo", []))
        }
        lena = lead_create(actor=actor, data={"first_name": "Lena", "last_name": "Fairlead", "tags": ["fair-2026"]})
        ben_as_lead = lead_create(actor=actor, data={"first_name": "Ben", "last_name": "Example"})
        ben_as_lead.subject_id = people["Ben"].subject_id  # one person known as a contact and a lead
        ben_as_lead.save(update_fields=["subject"])
    return {name: str(contact.subject_id) for name, contact in people.items()} | {"Lena": str(lena.subject_id)}


def test_everyone_in_a_filtered_list_is_recorded_once(cast):
    from custos.privacy.models import BreachSubject

    client = api_client(cast, cast.alice)
    people = _tagged_people(cast)
    with tenant_scope(cast.org_b):  # the same tag in another organisation is not this breach's
        contact_create(actor=cast.actor(cast.mallory), data={"first_name": "Mo", "tags": ["fair-2026"]})
    breach = created(client, BREACHES, title="Fair visitors list on a USB stick", aware_at=timezone.now().isoformat())
    subjects = f"{BREACHES}/{breach['id']}/subjects"

    added = ok(post(client, subjects, {"contacts": {"tag": "fair-2026"}, "leads": {"tag": "fair-2026"}}))
    again = ok(post(client, subjects, {"contacts": {"tag": "fair-2026", "order": "name"}, "leads": {"q": "Example"}}))

    assert added == {"added": 3, "affected": 3, "notified": 0}
    assert again == {"added": 0, "affected": 3, "notified": 0}  # Ben, the lead, is the contact Ben
    with tenant_scope(cast.org_a):
        recorded = set(BreachSubject.objects.values_list("subject_id", flat=True))
    assert {str(pk) for pk in recorded} == {people["Anna"], people["Ben"], people["Lena"]}
    assert ok(post(client, subjects, {"contacts": {}, "subject_ids": [people["Anna"]]}))["affected"] == 4
    [entry, *_] = entries(cast.org_a, "breach.add_subjects")
    assert entry.extra == {"added": 3, "from_list": True}  # counts, never who


def test_a_list_of_unknown_filters_or_values_adds_no_one(cast):
    client = warmed(api_client(cast, cast.alice))
    _tagged_people(cast)
    breach = created(client, BREACHES, title="Leak", aware_at=timezone.now().isoformat())
    subjects = f"{BREACHES}/{breach['id']}/subjects"
    privacy_only = warmed(api_client(cast, cast.alice, scope="privacy:write"))
    before = snapshot(cast.org_a)

    assert field_errors(post(client, subjects, {"contacts": {"colour": "red"}, "leads": {"company": "x"}})) == [
        {"field": "contacts.colour", "message": "There is no filter of this name."},
        {"field": "leads.company", "message": "There is no filter of this name."},
    ]
    assert {e["field"] for e in field_errors(post(client, subjects, {"contacts": {"country": "Narnia"}}))} == {
        "contacts.country"
    }
    assert {e["field"] for e in field_errors(post(client, subjects, {"leads": {"status": "sleeping"}}))} == {
        "leads.status"
    }
    assert [e["field"] for e in field_errors(post(client, subjects, {"contacts": {"tag": 7}}))] == ["contacts.tag"]
    # A token for the privacy registers alone may not read who is in the contact list.
    assert problem(post(privacy_only, subjects, {"contacts": {"tag": "fair-2026"}}), 403)
    # A good list with a bad id beside it: all or nothing.
    assert field_errors(post(client, subjects, {"contacts": {}, "subject_ids": ["not-an-id"]}))
    assert snapshot(cast.org_a) == before


def test_a_person_recorded_by_mistake_is_taken_off_until_told(cast, smtp_server):
    client = api_client(cast, cast.alice)
    anna, ben = _subject_id(cast, "Anna", "anna@example.org"), _subject_id(cast, "Ben")
    breach = created(client, BREACHES, title="Stolen laptop", aware_at=timezone.now().isoformat())
    ok(post(client, f"{BREACHES}/{breach['id']}/subjects", {"subject_ids": [anna, ben]}))
    ok(post(client, f"{BREACHES}/{breach['id']}/notify"), 202)
    run_tasks()

    assert client.delete(f"{BREACHES}/{breach['id']}/subjects/{ben}").status_code == 204
    assert problem(client.delete(f"{BREACHES}/{breach['id']}/subjects/{ben}"), 404)
    assert problem(client.delete(f"{BREACHES}/{breach['id']}/subjects/{anna}"), 409)  # told: stays
    assert problem(client.delete(f"{BREACHES}/{breach['id']}/subjects/nobody"), 404)  # not an id: no one
    body = ok(client.get(f"{BREACHES}/{breach['id']}"))
    assert (body["affected"], body["notified"]) == (1, 1)
    assert [e.extra for e in entries(cast.org_a, "breach.remove_subjects")] == [{"removed": 1, "subjects": [ben]}]


def test_hostile_lists_are_refused_whole_and_each_error_names_its_list(cast):
    client = warmed(api_client(cast, cast.alice))
    _tagged_people(cast)
    breach = created(client, BREACHES, title="Leak", aware_at=timezone.now().isoformat())
    subjects = f"{BREACHES}/{breach['id']}/subjects"
    many = {f"custom_fields.f{n}": "x" for n in range(10_000)}
    before = snapshot(cast.org_a)

    flooded = field_errors(post(client, subjects, {"contacts": many, "leads": {"colour" * 100: "red"}}))
    both = field_errors(post(client, subjects, {"contacts": {"country": "Narnia"}, "leads": {"owner": "nobody"}}))
    long_values = ok(post(client, subjects, {"contacts": {"q": "Anna" + " " * 5000, "tag": "fair-2026" * 1000}}))

    assert flooded == [
        {"field": "contacts", "message": "Send at most 57 items per request."},
        {"field": ("leads." + "colour" * 100)[:80], "message": "There is no filter of this name."},
    ]
    assert [e["field"] for e in both] == ["contacts.country", "leads.owner"]
    assert long_values["added"] == 0  # cut as the list cuts them: a tag no one has
    assert snapshot(cast.org_a) == before


def test_a_list_records_what_the_callers_role_sees_and_not_on_a_closed_breach(cast):
    from custos.privacy.models import BreachSubject, Subject
    from custos.privacy.services.breaches import breach_close

    people = _tagged_people(cast)
    with tenant_scope(cast.org_a):
        sina = contact_create(
            actor=cast.actor(cast.olive),
            data={"first_name": "Sina", "tags": ["fair-2026"], "owner": str(cast.sam.pk)},
        )
        Subject.objects.filter(pk=people["Anna"]).update(state=Subject.State.ERASED)
    grant(cast, "sales", "breach.view", "breach.change")  # the sales role sees its own records only
    admin = api_client(cast, cast.alice)
    breach = created(admin, BREACHES, title="Leak", aware_at=timezone.now().isoformat())
    subjects = f"{BREACHES}/{breach['id']}/subjects"

    own = ok(post(api_client(cast, cast.sam, "read,write"), subjects, {"contacts": {}}))
    everyone = ok(post(admin, subjects, {"contacts": {"tag": "fair-2026"}}))

    assert own == {"added": 1, "affected": 1, "notified": 0}  # Sina, Sam's own
    assert everyone == {"added": 1, "affected": 2, "notified": 0}  # Ben; Anna was erased
    with tenant_scope(cast.org_a):
        recorded = {str(pk) for pk in BreachSubject.objects.values_list("subject_id", flat=True)}
        breach_close(actor=cast.actor(cast.olive), breach=BreachSubject.objects.first().breach)
    assert recorded == {str(sina.subject_id), people["Ben"]}
    before = snapshot(cast.org_a)
    assert problem(post(admin, subjects, {"leads": {}}), 409)
    assert problem(admin.delete(f"{subjects}/{people['Ben']}"), 409)
    assert snapshot(cast.org_a) == before


def test_an_add_of_another_count_than_confirmed_records_no_one(cast):
    import pytest

    from custos.crm.selectors.people import persons_listed
    from custos.privacy.models import Breach, BreachSubject
    from custos.privacy.services.breaches import ListChanged, breach_add_listed, breach_listed_count

    _tagged_people(cast)
    admin = api_client(cast, cast.alice)
    breach_id = created(admin, BREACHES, title="Leak", aware_at=timezone.now().isoformat())["id"]
    before = snapshot(cast.org_a)
    with tenant_scope(cast.org_a):
        actor = cast.actor(cast.alice)
        breach = Breach.objects.get(pk=breach_id)
        persons = persons_listed(actor, "contact", filters={"tag": "fair-2026"})
        assert breach_listed_count(breach, [persons]) == (2, 0)
        with pytest.raises(ListChanged):
            breach_add_listed(actor=actor, breach=breach, subjects=[persons], expected=1)
    assert snapshot(cast.org_a) == before
    with tenant_scope(cast.org_a):
        assert breach_add_listed(actor=actor, breach=breach, subjects=[persons], expected=2) == 2
        assert BreachSubject.objects.count() == 2


def test_a_processor_is_added_read_changed_and_removed(cast):
    client = api_client(cast, cast.alice, scope="privacy:write")
    body = created(
        client,
        PROCESSORS,
        name="Mailer Inc.",
        service="Newsletters",
        location="us",
        safeguard="scc",
        dpa_signed_on="2025-02-01",
    )
    assert body == body | {
        "name": "Mailer Inc.",
        "location": "US",
        "outside_eea": True,
        "safeguard": "scc",
        "dpa_signed_on": "2025-02-01",
        "purposes": [],
        "is_active": True,
    }
    assert ok(client.get(f"{PROCESSORS}/{body['id']}")) == body
    assert ok(client.get(PROCESSORS)) == {"items": [body], "next": None}
    changed = ok(patch(client, f"{PROCESSORS}/{body['id']}", {"location": "IE", "safeguard": "none_needed"}))
    assert changed == body | {"location": "IE", "safeguard": "none_needed", "outside_eea": False}
    assert client.delete(f"{PROCESSORS}/{body['id']}").status_code == 204
    assert problem(client.get(f"{PROCESSORS}/{body['id']}"), 404)


def test_without_the_right_nothing_is_shown_or_changed(cast):
    alice = api_client(cast, cast.alice)
    breach = created(alice, BREACHES, title="Leak", aware_at=timezone.now().isoformat())
    processor = created(alice, PROCESSORS, name="Host", service="Hosting", location="DE", safeguard="none_needed")
    bob = warmed(api_client(cast, cast.bob, scope="write"))  # read-only role: no privacy registers at all
    crm_token = warmed(api_client(cast, cast.alice, scope="crm:write"))
    before = snapshot(cast.org_a)
    for response in (
        bob.get(BREACHES),
        bob.get(f"{BREACHES}/{breach['id']}"),
        post(bob, BREACHES, {"title": "x", "aware_at": timezone.now().isoformat()}),
        post(bob, f"{BREACHES}/{breach['id']}/notify"),
        post(bob, f"{BREACHES}/{breach['id']}/close"),
        bob.get(PROCESSORS),
        patch(bob, f"{PROCESSORS}/{processor['id']}", {"name": "x"}),
        bob.delete(f"{PROCESSORS}/{processor['id']}"),
    ):
        assert problem(response, 403)
    assert problem(crm_token.get(BREACHES), 403)
    assert snapshot(cast.org_a) == before
