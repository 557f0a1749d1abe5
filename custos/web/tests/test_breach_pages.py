"""The breach and processors registers in the staff UI."""

import html
from datetime import timedelta

from django.utils import timezone

from custos.audit.models import AuditEntry
from custos.core.tenancy import tenant_scope
from custos.crm.services.people import contact_create
from custos.privacy.models import Breach, BreachSubject, Processor
from custos.privacy.services.breaches import breach_close, breach_create
from custos.testing import run_tasks, web_client
from custos.web.tests.sales import in_org_a


def _text(response):
    return html.unescape(response.content.decode())


def _breach(cast, hours_ago=1, **data):
    aware = timezone.now() - timedelta(hours=hours_ago)
    return in_org_a(cast, breach_create, data={"title": "Stolen laptop", "aware_at": aware} | data)


def _state(cast):
    with tenant_scope(cast.org_a):
        return (
            list(Breach.objects.order_by("pk").values()),
            list(BreachSubject.objects.order_by("pk").values()),
            list(Processor.objects.order_by("pk").values()),
            AuditEntry.objects.count(),
        )


def test_the_list_shows_each_clock_and_highlights_the_overdue(cast):
    _breach(cast, hours_ago=2, title="Fresh incident")
    _breach(cast, hours_ago=80, title="Forgotten incident")
    _breach(cast, hours_ago=72.5, title="Just missed")
    page = _text(web_client(cast.alice).get("/privacy/breaches/"))
    assert "Fresh incident" in page and "Forgotten incident" in page
    assert "69 hours left" in page
    assert '<span class="badge danger breach-overdue">overdue by 8 hours</span>' in page
    assert '<span class="badge danger breach-overdue">overdue by less than an hour</span>' in page
    assert page.count('<tr class="overdue">') == 2
    assert 'href="/privacy/breaches/"' in page  # in the navigation


def test_a_breach_is_recorded_through_the_form(cast):
    client = web_client(cast.alice)
    assert client.get("/privacy/breaches/new/").status_code == 200
    aware = timezone.localtime(timezone.now() - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        "/privacy/breaches/new/",
        {
            "title": "USB stick lost",
            "aware_at": aware,
            "data_categories": ["contact", "special"],
            "approx_persons": "12",
        },
    )
    with tenant_scope(cast.org_a):
        breach = Breach.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/privacy/breaches/{breach.pk}/"
    assert (breach.title, breach.data_categories, breach.approx_persons) == (
        "USB stick lost",
        ["contact", "special"],
        12,
    )
    detail = _text(client.get(response["Location"]))
    assert "USB stick lost" in detail and "68 hours left" in detail
    assert "0 persons recorded, 0 told." in detail


def test_bad_input_shows_on_its_fields_and_saves_nothing(cast):
    client = web_client(cast.alice)
    before = _state(cast)
    future = timezone.localtime(timezone.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = client.post("/privacy/breaches/new/", {"title": "", "aware_at": future, "approx_persons": "-2"})
    page = _text(response)
    assert response.status_code == 200
    assert "This field is required." in page
    assert "This moment is in the future; enter when you became aware of the breach." in page
    assert "Enter a number from 0 to 2147483647." in page
    assert _state(cast) == before


def test_persons_are_picked_from_the_contacts_and_told(cast, smtp_server):
    breach = _breach(cast)
    with tenant_scope(cast.org_a):
        anna = contact_create(
            actor=cast.actor(cast.olive), data={"first_name": "Anna", "last_name": "Berg", "email": "anna@example.org"}
        )
    client = web_client(cast.alice)
    found = _text(client.post(f"/privacy/breaches/{breach.pk}/subjects/", {"q": "Berg"}))
    assert "Anna Berg" in found and f'value="{anna.pk}"' in found
    response = client.post(f"/privacy/breaches/{breach.pk}/subjects/", {"q": "Berg", "add": "1", "contacts": [anna.pk]})
    assert response.status_code == 302
    detail = _text(client.get(f"/privacy/breaches/{breach.pk}/", follow=True))
    assert "1 person recorded, 0 told." in detail and "Anna Berg" in detail
    response = client.post(f"/privacy/breaches/{breach.pk}/notify/", follow=True)
    assert "1 notice is on its way." in _text(response)
    run_tasks()
    [mail] = smtp_server.sent_to("anna@example.org")
    assert mail.get_content().startswith("Guten Tag,")  # Acme Praxis is in Germany
    assert "1 person recorded, 1 told." in _text(client.get(f"/privacy/breaches/{breach.pk}/"))


def test_the_authority_notification_stops_the_clock_and_closing_freezes_the_breach(cast):
    breach = _breach(cast)
    client = web_client(cast.alice)
    page = _text(client.post(f"/privacy/breaches/{breach.pk}/authority-notified/", follow=True))
    assert "the clock has stopped" in page and "authority notified" in page
    page = _text(client.post(f"/privacy/breaches/{breach.pk}/close/", follow=True))
    assert "This breach is closed." in page
    assert f"/privacy/breaches/{breach.pk}/report.pdf" in page  # the report is wanted most once closed
    assert client.get(f"/privacy/breaches/{breach.pk}/edit/").status_code == 302
    with tenant_scope(cast.org_a):
        assert Breach.objects.get(pk=breach.pk).status == "closed"


def test_a_lead_from_a_leaked_web_form_is_picked_as_an_affected_person(cast):
    from custos.crm.services.leads import lead_create

    breach = _breach(cast)
    with tenant_scope(cast.org_a):
        lena = lead_create(actor=cast.actor(cast.olive), data={"first_name": "Lena", "last_name": "Webform"})
    client = web_client(cast.alice)

    found = _text(client.post(f"/privacy/breaches/{breach.pk}/subjects/", {"q": "Webform"}))
    client.post(f"/privacy/breaches/{breach.pk}/subjects/", {"q": "Webform", "add": "1", "leads": [lena.pk]})

    assert "Lena Webform" in found and f'name="leads" value="{lena.pk}"' in found
    detail = _text(client.get(f"/privacy/breaches/{breach.pk}/"))
    assert "1 person recorded, 0 told." in detail and f'href="/leads/{lena.pk}/">Lena Webform' in detail


def test_processors_are_listed_added_changed_and_removed(cast):
    client = web_client(cast.alice)
    response = client.post(
        "/privacy/processors/new/",
        {"name": "Mailer Inc.", "service": "Newsletters", "location": "US", "safeguard": "none_needed"},
    )
    assert "A processor outside the EU/EEA needs a transfer safeguard" in _text(response)
    response = client.post(
        "/privacy/processors/new/",
        {"name": "Mailer Inc.", "service": "Newsletters", "location": "US", "safeguard": "scc", "is_active": "on"},
    )
    assert response.status_code == 302
    with tenant_scope(cast.org_a):
        processor = Processor.objects.get()
    listing = _text(client.get("/privacy/processors/"))
    assert "Mailer Inc." in listing and "outside the EU/EEA" in listing and "no agreement" in listing
    response = client.post(
        f"/privacy/processors/{processor.pk}/",
        {
            "name": "Mailer Inc.",
            "service": "Newsletters",
            "location": "IE",
            "safeguard": "none_needed",
            "dpa_signed_on": "2025-01-31",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    listing = _text(client.get("/privacy/processors/"))
    assert "Ireland" in listing and "outside the EU/EEA" not in listing
    assert client.post(f"/privacy/processors/{processor.pk}/delete/").status_code == 302
    with tenant_scope(cast.org_a):
        assert not Processor.objects.exists()


def test_a_role_without_the_registers_sees_and_changes_nothing(cast):
    breach = _breach(cast)
    client = web_client(cast.bob)
    before = _state(cast)
    assert client.get("/privacy/breaches/").status_code == 403
    assert client.get(f"/privacy/breaches/{breach.pk}/").status_code == 403
    assert client.post(f"/privacy/breaches/{breach.pk}/notify/").status_code == 403
    assert client.post("/privacy/processors/new/", {"name": "x"}).status_code == 403
    assert 'href="/privacy/breaches/"' not in _text(client.get("/"))
    assert _state(cast) == before


def test_the_report_for_the_authority_downloads_as_pdf(cast):
    from django.utils import timezone

    from custos.core.tenancy import tenant_scope
    from custos.privacy.services.breaches import breach_create
    from custos.testing import web_client

    with tenant_scope(cast.org_a):
        breach = breach_create(
            actor=cast.actor(cast.alice),
            data={"title": "Laptop stolen", "aware_at": timezone.now(), "nature": "A laptop with exports was stolen."},
        )

    response = web_client(cast.alice).get(f"/privacy/breaches/{breach.pk}/report.pdf")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert web_client(cast.bob).get(f"/privacy/breaches/{breach.pk}/report.pdf").status_code in (403, 404)


def test_a_notified_breach_recorded_to_the_second_is_still_edited_in_the_form(cast):
    """The form gives the moment back to the minute: that is no change of awareness."""
    from custos.privacy.services.breaches import breach_mark_authority_notified

    aware = (timezone.now() - timedelta(hours=30)).replace(second=42)
    breach = _breach(cast, aware_at=aware)
    in_org_a(cast, breach_mark_authority_notified, breach=breach)
    client = web_client(cast.alice)
    form = client.get(f"/privacy/breaches/{breach.pk}/edit/").context["form"]
    data = {name: form[name].value() or "" for name in form.fields} | {"data_categories": []}

    response = client.post(f"/privacy/breaches/{breach.pk}/edit/", data | {"measures": "Passwords reset."})

    assert response.status_code == 302, response.context["form"].errors
    with tenant_scope(cast.org_a):
        stored = Breach.objects.get(pk=breach.pk)
    assert (stored.measures, stored.aware_at) == ("Passwords reset.", aware)


def test_every_affected_person_is_named_on_the_breach(cast):
    breach = _breach(cast)
    with tenant_scope(cast.org_a):
        people = [contact_create(actor=cast.actor(cast.olive), data={"last_name": f"Person{n:02}"}) for n in range(60)]
    from custos.privacy.services.breaches import breach_add_subjects

    in_org_a(cast, breach_add_subjects, breach=breach, subject_ids=[str(p.subject_id) for p in people])

    detail = _text(web_client(cast.alice).get(f"/privacy/breaches/{breach.pk}/"))

    assert all(f"Person{n:02}" in detail for n in range(60))


def test_everyone_in_a_filtered_contact_list_is_recorded_after_a_confirmation(cast):
    breach = _breach(cast, title="Fair visitors list on a USB stick")
    with tenant_scope(cast.org_a):
        actor = cast.actor(cast.olive)
        for name, tags in (("Anna", ["fair-2026"]), ("Ben", ["fair-2026"]), ("Cleo", [])):
            contact_create(actor=actor, data={"first_name": name, "last_name": "Visitor", "tags": tags})
    client = web_client(cast.alice)

    listed = _text(client.post("/contacts/", {"tag": "fair-2026"}))
    before = _state(cast)
    confirm = _text(client.post("/privacy/breaches/from-list/", {"breach": breach.pk, "tag": "fair-2026"}))
    unchanged = _state(cast)
    done = _text(
        client.post(
            "/privacy/breaches/from-list/",
            {"breach": breach.pk, "tag": "fair-2026", "listed": "2", "confirm": "1"},
            follow=True,
        )
    )

    assert '<input type="hidden" name="listed" value="2">' in confirm
    assert 'action="/privacy/breaches/from-list/"' in listed and "Stolen laptop" not in listed
    assert f'<option value="{breach.pk}">Fair visitors list on a USB stick</option>' in listed
    assert "holds 2 persons; 0 of them are recorded already." in confirm
    assert "Anna Visitor" in confirm and "Cleo" not in confirm and "Record 2 persons as affected" in confirm
    assert unchanged == before  # the count alone records no one
    assert "2 persons are added to the affected persons." in done and "2 persons recorded, 0 told." in done
    again = _text(client.post("/privacy/breaches/from-list/", {"breach": breach.pk, "tag": "fair-2026"}))
    assert "0 of them are recorded already" not in again and "Record 2" not in again


def test_a_lead_list_by_status_is_recorded_and_a_bad_filter_records_no_one(cast):
    from custos.crm.services.leads import lead_create

    breach = _breach(cast)
    with tenant_scope(cast.org_a):
        lead_create(actor=cast.actor(cast.olive), data={"first_name": "Lena", "last_name": "Webform"})
    client = web_client(cast.alice)
    before = _state(cast)

    bad = _text(
        client.post(
            "/privacy/breaches/from-list/", {"breach": breach.pk, "kind": "lead", "country": "Narnia", "confirm": "1"}
        )
    )
    assert _state(cast) == before and "holds 0 persons" in bad and 'class="error"' in bad
    done = _text(
        client.post(
            "/privacy/breaches/from-list/",
            {"breach": breach.pk, "kind": "lead", "status": "new", "listed": "1", "confirm": "1"},
            follow=True,
        )
    )
    assert "1 person is added to the affected persons." in done and "Lena Webform" in done


def test_recording_a_list_needs_the_right_to_change_breaches_and_an_open_one(cast):
    breach = _breach(cast)
    with tenant_scope(cast.org_a):
        contact_create(actor=cast.actor(cast.olive), data={"first_name": "Anna", "tags": ["fair-2026"]})
    before = _state(cast)

    assert 'action="/privacy/breaches/from-list/"' not in _text(web_client(cast.sam).post("/contacts/", {}))
    assert (
        web_client(cast.bob).post("/privacy/breaches/from-list/", {"breach": breach.pk, "confirm": "1"}).status_code
        == 403
    )
    assert (
        web_client(cast.mallory).post("/privacy/breaches/from-list/", {"breach": breach.pk, "confirm": "1"}).status_code
        == 404
    )
    in_org_a(cast, breach_close, breach=breach)
    closed = _text(
        web_client(cast.alice).post("/privacy/breaches/from-list/", {"breach": breach.pk, "confirm": "1"}, follow=True)
    )
    assert "This breach is closed." in closed
    assert 'action="/privacy/breaches/from-list/"' not in _text(web_client(cast.alice).post("/contacts/", {}))
    assert _state(cast)[1] == before[1]


def test_a_person_recorded_by_mistake_is_taken_off_the_breach(cast):
    from custos.privacy.services.breaches import breach_add_subjects

    breach = _breach(cast)
    with tenant_scope(cast.org_a):
        anna = contact_create(actor=cast.actor(cast.olive), data={"first_name": "Anna", "last_name": "Berg"})
    in_org_a(cast, breach_add_subjects, breach=breach, subject_ids=[str(anna.subject_id)])
    client = web_client(cast.alice)

    detail = _text(client.get(f"/privacy/breaches/{breach.pk}/"))
    removed = _text(
        client.post(f"/privacy/breaches/{breach.pk}/subjects/remove/", {"subject": anna.subject_id}, follow=True)
    )

    assert f'action="/privacy/breaches/{breach.pk}/subjects/remove/"' in detail
    assert "The person is no longer recorded as affected." in removed and "0 persons recorded, 0 told." in removed
    assert "Anna Berg" not in removed


def _fair_visitors(cast, *names):
    with tenant_scope(cast.org_a):
        actor = cast.actor(cast.olive)
        return [
            contact_create(actor=actor, data={"first_name": name, "last_name": "Visitor", "tags": ["fair-2026"]})
            for name in names
        ]


def test_the_list_searched_as_you_type_keeps_the_form_with_its_search_and_filters(cast):
    breach = _breach(cast, title="Fair visitors list on a USB stick")
    _fair_visitors(cast, "Anna")
    client = web_client(cast.alice)

    contacts = _text(client.post("/contacts/", {"q": "Anna", "tag": "fair-2026"}, HTTP_HX_REQUEST="true"))
    leads = _text(client.post("/leads/", {"status": "new", "tag": "fair-2026"}, HTTP_HX_REQUEST="true"))

    assert contacts.lstrip().startswith('<div id="results"')  # the part swapped in, not the page
    assert f'<option value="{breach.pk}">Fair visitors list on a USB stick</option>' in contacts
    form = contacts.split('action="/privacy/breaches/from-list/"')[1].split("</form>")[0]
    assert '<input type="hidden" name="q" value="Anna">' in form
    assert '<input type="hidden" name="tag" value="fair-2026">' in form
    assert '<input type="hidden" name="kind" value="contact">' in form
    form = leads.split('action="/privacy/breaches/from-list/"')[1].split("</form>")[0]
    assert '<input type="hidden" name="status" value="new">' in form and 'name="kind" value="lead"' in form


def test_the_list_asks_nothing_of_the_breach_register_for_who_may_not_change_it(cast):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _breach(cast)
    _fair_visitors(cast, "Anna")

    def statements(user):
        client = web_client(user)
        client.post("/contacts/", {"q": "Anna"}, HTTP_HX_REQUEST="true")  # the session's first reads done
        with CaptureQueriesContext(connection) as captured:
            page = _text(client.post("/contacts/", {"q": "Anna"}, HTTP_HX_REQUEST="true"))
        return page, [query["sql"] for query in captured.captured_queries]

    for user in (cast.bob, cast.sam):
        page, sql = statements(user)
        assert 'id="results"' in page and 'action="/privacy/breaches/from-list/"' not in page
        assert not [statement for statement in sql if "privacy_breach" in statement]
    page, sql = statements(cast.alice)
    breach_reads = [statement for statement in sql if "privacy_breach" in statement]
    assert 'action="/privacy/breaches/from-list/"' in page
    assert len(breach_reads) == 1 and "privacy_breachsubject" not in breach_reads[0]  # no counting per keystroke


def test_a_list_that_grew_after_the_confirmation_is_counted_again_and_records_no_one_unseen(cast):
    breach = _breach(cast)
    _fair_visitors(cast, "Anna", "Ben")
    client = web_client(cast.alice)
    confirm = _text(client.post("/privacy/breaches/from-list/", {"breach": breach.pk, "tag": "fair-2026"}))
    assert "holds 2 persons" in confirm and 'name="listed" value="2"' in confirm
    _fair_visitors(cast, "Cleo")  # imported meanwhile
    before = _state(cast)

    changed = _text(
        client.post(
            "/privacy/breaches/from-list/", {"breach": breach.pk, "tag": "fair-2026", "listed": "2", "confirm": "1"}
        )
    )
    unconfirmed = _text(
        client.post("/privacy/breaches/from-list/", {"breach": breach.pk, "tag": "fair-2026", "confirm": "1"})
    )

    assert _state(cast) == before  # neither the two seen nor the third: nothing
    assert "The list has changed since you saw it: check the new count." in changed
    assert "holds 3 persons" in changed and 'name="listed" value="3"' in changed
    assert "holds 3 persons" in unconfirmed  # a confirmation without its count is shown first
    done = _text(
        client.post(
            "/privacy/breaches/from-list/",
            {"breach": breach.pk, "tag": "fair-2026", "listed": "3", "confirm": "1"},
            follow=True,
        )
    )
    assert "3 persons are added to the affected persons." in done


def test_erased_persons_are_neither_counted_nor_recorded_and_a_scope_records_only_its_own(cast):
    from custos.api.tests.helpers import grant
    from custos.privacy.models import Subject

    anna, ben = _fair_visitors(cast, "Anna", "Ben")
    with tenant_scope(cast.org_a):
        Subject.objects.filter(pk=ben.subject_id).update(state=Subject.State.ERASED)
        contact_create(
            actor=cast.actor(cast.olive),
            data={"first_name": "Sina", "last_name": "Visitor", "tags": ["fair-2026"], "owner": str(cast.sam.pk)},
        )
    grant(cast, "sales", "breach.view", "breach.change")  # the sales role sees its own records only
    breach = _breach(cast)

    officer = _text(web_client(cast.alice).post("/privacy/breaches/from-list/", {"breach": breach.pk}))
    own = _text(web_client(cast.sam).post("/privacy/breaches/from-list/", {"breach": breach.pk}))
    web_client(cast.sam).post("/privacy/breaches/from-list/", {"breach": breach.pk, "listed": "1", "confirm": "1"})

    assert "holds 2 persons" in officer  # Anna and Sina; Ben was erased
    assert "holds 1 person;" in own and "Sina Visitor" in own and "Anna" not in own
    with tenant_scope(cast.org_a):
        recorded = list(BreachSubject.objects.values_list("subject_id", flat=True))
        sina = Subject.objects.exclude(pk__in=[anna.subject_id, ben.subject_id]).get().pk
    assert recorded == [sina]


def test_a_person_told_of_the_breach_is_not_taken_off(cast):
    from custos.privacy.services.breaches import breach_add_subjects

    breach = _breach(cast)
    [anna] = _fair_visitors(cast, "Anna")
    in_org_a(cast, breach_add_subjects, breach=breach, subject_ids=[str(anna.subject_id)])
    with tenant_scope(cast.org_a):
        BreachSubject.objects.update(notified_at=timezone.now())
    client = web_client(cast.alice)
    before = _state(cast)

    detail = _text(client.get(f"/privacy/breaches/{breach.pk}/"))
    kept = _text(
        client.post(f"/privacy/breaches/{breach.pk}/subjects/remove/", {"subject": anna.subject_id}, follow=True)
    )
    bad = client.post(f"/privacy/breaches/{breach.pk}/subjects/remove/", {"subject": "not-an-id"})
    foreign = web_client(cast.mallory).post(
        f"/privacy/breaches/{breach.pk}/subjects/remove/", {"subject": anna.subject_id}
    )
    denied = web_client(cast.bob).post(f"/privacy/breaches/{breach.pk}/subjects/remove/", {"subject": anna.subject_id})

    assert f'action="/privacy/breaches/{breach.pk}/subjects/remove/"' not in detail  # no button for the told
    assert "A person who was told of the breach stays recorded as affected." in kept
    assert bad.status_code == 302 and foreign.status_code == 404 and denied.status_code == 403
    assert _state(cast) == before
