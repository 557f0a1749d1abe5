"""The breach register: recording a breach, its 72-hour clock, the affected persons and their notices."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from custos.audit.models import AuditEntry
from custos.core.errors import Conflict, PermissionDenied, ValidationFailed
from custos.core.tenancy import tenant_scope
from custos.crm.services.people import contact_create
from custos.privacy.models import Breach, BreachSubject
from custos.privacy.services.breaches import (
    breach_add_subjects,
    breach_clock,
    breach_close,
    breach_create,
    breach_mark_authority_notified,
    breach_notify_subjects,
    breach_report_data,
    breach_update,
)
from custos.privacy.services.requests import request_create
from custos.testing import run_tasks


def _state():
    return (
        list(Breach.objects.order_by("pk").values()),
        list(BreachSubject.objects.order_by("pk").values()),
        AuditEntry.objects.count(),
    )


def _breach(actor, **data):
    return breach_create(actor=actor, data={"title": "Laptop stolen", "aware_at": timezone.now()} | data)


def _fields(error):
    return {e.field for e in error.value.errors}


def test_a_breach_is_recorded_changed_and_audited_by_ids(cast, as_tenant):
    actor = cast.actor(cast.alice)
    aware = timezone.now() - timedelta(hours=5)
    breach = _breach(
        actor,
        aware_at=aware.isoformat(),
        nature="A laptop with the customer list was stolen from a car.",
        data_categories=["contact", "identity", "contact"],
        approx_persons="120",
        approx_records=0,
    )
    assert (breach.title, breach.aware_at, breach.status) == ("Laptop stolen", aware, "open")
    assert breach.data_categories == ["identity", "contact"]
    assert (breach.approx_persons, breach.approx_records) == (120, 0)
    assert breach.authority_due_at == aware + timedelta(hours=72)
    assert breach.created_by_id == cast.alice.pk

    breach = breach_update(actor=actor, breach=breach, data={"measures": "Passwords reset.", "approx_persons": 130})
    assert (breach.measures, breach.approx_persons) == ("Passwords reset.", 130)
    entries = list(AuditEntry.objects.filter(object_type="breach").order_by("seq"))
    assert [(e.action, e.object_id, e.fields, e.extra) for e in entries] == [
        ("breach.create", str(breach.pk), [], {}),
        ("breach.update", str(breach.pk), ["approx_persons", "measures"], {}),
    ]


def test_bad_input_names_every_field_and_changes_nothing(cast, as_tenant):
    actor = cast.actor(cast.alice)
    before = _state()
    with pytest.raises(ValidationFailed) as error:
        breach_create(
            actor=actor,
            data={
                "title": "",
                "aware_at": (timezone.now() + timedelta(hours=2)).isoformat(),
                "data_categories": ["contact", "shoe_size"],
                "approx_persons": -1,
                "approx_records": "many",
                "colour": "red",
            },
        )
    assert _fields(error) == {"title", "aware_at", "data_categories", "approx_persons", "approx_records", "colour"}
    messages = {e.field: e.message for e in error.value.errors}
    assert "future" in messages["aware_at"]
    assert messages["approx_persons"] == "Enter a number from 0 to 2147483647."
    with pytest.raises(ValidationFailed) as error:
        breach_create(actor=actor, data={"title": "No date"})
    assert _fields(error) == {"aware_at"}
    with pytest.raises(ValidationFailed) as error:
        _breach(actor, occurred_at=(timezone.now() + timedelta(minutes=5)).isoformat())
    assert _fields(error) == {"occurred_at"}
    assert _state() == before


def test_a_breach_cannot_occur_after_it_became_known(cast, as_tenant):
    actor = cast.actor(cast.alice)
    now = timezone.now()
    with pytest.raises(ValidationFailed) as error:
        _breach(actor, aware_at=now - timedelta(hours=3), occurred_at=now - timedelta(hours=1))
    assert _fields(error) == {"occurred_at"}


def test_roles_without_the_right_change_nothing(cast, as_tenant):
    breach = _breach(cast.actor(cast.alice))
    before = _state()
    for user in (cast.bob, cast.sam):
        actor = cast.actor(user)
        with pytest.raises(PermissionDenied):
            _breach(actor)
        with pytest.raises(PermissionDenied):
            breach_update(actor=actor, breach=breach, data={"title": "Changed"})
        with pytest.raises(PermissionDenied):
            breach_close(actor=actor, breach=breach)
        with pytest.raises(PermissionDenied):
            breach_notify_subjects(actor=actor, breach=breach)
    assert _state() == before


def test_the_clock_counts_down_72_hours_and_stops_when_the_authority_is_told(cast, as_tenant):
    actor = cast.actor(cast.alice)
    now = timezone.now()
    breach = _breach(actor, aware_at=now - timedelta(hours=10, minutes=30))
    clock = breach_clock(breach, now)
    assert (clock.hours_left, clock.overdue, clock.stopped) == (61, False, False)
    assert clock.due_at == breach.aware_at + timedelta(hours=72)
    just_late = breach_clock(breach, now + timedelta(hours=62))
    assert (just_late.hours_left, just_late.hours_overdue, just_late.overdue) == (0, 0, True)
    late = breach_clock(breach, now + timedelta(hours=63))
    assert (late.hours_left, late.hours_overdue, late.overdue) == (-1, 1, True)

    breach = breach_mark_authority_notified(actor=actor, breach=breach)
    stopped = breach_clock(breach, now + timedelta(hours=100))
    assert (stopped.hours_left, stopped.overdue, stopped.stopped, stopped.late) == (None, False, True, False)
    with pytest.raises(Conflict):
        breach_mark_authority_notified(actor=actor, breach=breach)
    entry = AuditEntry.objects.filter(action="breach.authority_notified").get()
    assert (entry.object_id, entry.extra) == (str(breach.pk), {"late": False})


def test_a_late_notification_is_recorded_as_late(cast, as_tenant):
    actor = cast.actor(cast.alice)
    now = timezone.now()
    breach = _breach(actor, aware_at=now - timedelta(hours=80))
    assert breach_clock(breach).overdue
    with pytest.raises(ValidationFailed) as error:
        breach_mark_authority_notified(actor=actor, breach=breach, notified_at=now - timedelta(hours=90))
    assert _fields(error) == {"notified_at"}
    breach = breach_mark_authority_notified(actor=actor, breach=breach, notified_at=now - timedelta(hours=1))
    assert breach_clock(breach).late
    assert breach_report_data(breach)["authority_notified_late"] is True


def test_a_closed_breach_is_read_only(cast, as_tenant):
    actor = cast.actor(cast.alice)
    breach = breach_close(actor=actor, breach=_breach(actor))
    assert breach.status == "closed"
    assert breach_clock(breach).stopped
    for attempt in (
        lambda: breach_update(actor=actor, breach=breach, data={"title": "Changed"}),
        lambda: breach_close(actor=actor, breach=breach),
        lambda: breach_mark_authority_notified(actor=actor, breach=breach),
        lambda: breach_notify_subjects(actor=actor, breach=breach),
    ):
        with pytest.raises(Conflict):
            attempt()


def _person(cast, first_name, email=""):
    contact = contact_create(
        actor=cast.actor(cast.olive), data={"first_name": first_name, "last_name": "Example", "email": email}
    )
    return contact.subject


def test_affected_persons_are_added_by_subject_id_once(cast, as_tenant):
    actor = cast.actor(cast.alice)
    breach = _breach(actor)
    anna, ben = _person(cast, "Anna", "anna@example.org"), _person(cast, "Ben")
    assert breach_add_subjects(actor=actor, breach=breach, subject_ids=[str(anna.pk)]) == 1
    assert breach_add_subjects(actor=actor, breach=breach, subject_ids=[str(anna.pk), str(ben.pk)]) == 1
    assert set(BreachSubject.objects.filter(breach=breach).values_list("subject_id", flat=True)) == {anna.pk, ben.pk}
    entries = AuditEntry.objects.filter(action="breach.add_subjects").order_by("seq")
    assert [e.extra for e in entries] == [{"added": 1}, {"added": 1}]


def test_subjects_of_another_organisation_or_bad_ids_are_refused(cast):
    with tenant_scope(cast.org_b):
        foreign = contact_create(actor=cast.actor(cast.mallory), data={"last_name": "Foreign"}).subject
    with tenant_scope(cast.org_a):
        actor = cast.actor(cast.alice)
        breach = _breach(actor)
        before = _state()
        for ids in ([str(foreign.pk)], ["not-an-id"], [], "x", [1]):
            with pytest.raises(ValidationFailed) as error:
                breach_add_subjects(actor=actor, breach=breach, subject_ids=ids)
            assert _fields(error) == {"subject_ids"}
        assert _state() == before


def test_each_affected_person_is_told_once_in_their_language(cast, as_tenant, smtp_server):
    actor = cast.actor(cast.alice)
    breach = _breach(
        actor,
        nature="A laptop was stolen.",
        consequences="Phishing mails are possible.",
        measures="Passwords were reset.",
        data_categories=["contact"],
    )
    anna = _person(cast, "Anna", "anna@example.org")  # asked us for her data in German
    request_create(actor=cast.actor(cast.olive), kind="access", email="anna@example.org", language="de")
    emil = _person(cast, "Emil", "emil@example.org")  # never said: the organisation is in Germany
    cast.org_a.country = "IE"
    cast.org_a.save()
    nobody = _person(cast, "Nobody")
    breach_add_subjects(actor=actor, breach=breach, subject_ids=[str(s.pk) for s in (anna, emil, nobody)])

    counts = breach_notify_subjects(actor=actor, breach=breach)
    assert (counts.queued, counts.without_email, counts.notified_before) == (2, 1, 0)
    breach.refresh_from_db()
    assert breach.persons_notified_at is not None
    assert run_tasks() == 2

    [to_anna] = smtp_server.sent_to("anna@example.org")
    assert to_anna["Content-Language"] == "de"
    body = to_anna.get_content()
    assert body.startswith("Guten Tag,")
    assert "A laptop was stolen." in body and "Passwords were reset." in body
    assert "Acme Praxis" in to_anna["Subject"]
    [to_emil] = smtp_server.sent_to("emil@example.org")
    assert to_emil["Content-Language"] == "en"
    assert to_emil.get_content().startswith("Hello,")
    assert len(smtp_server.messages) == 2

    told = dict(BreachSubject.objects.filter(breach=breach).values_list("subject_id", "notified_at"))
    assert told[anna.pk] is not None and told[emil.pk] is not None and told[nobody.pk] is None

    again = breach_notify_subjects(actor=actor, breach=breach)
    assert (again.queued, again.without_email, again.notified_before) == (0, 1, 2)
    assert run_tasks() == 0

    entries = list(AuditEntry.objects.filter(action__startswith="breach.").order_by("seq"))
    notify = [e.extra for e in entries if e.action == "breach.notify_subjects"]
    assert notify == [{"queued": 2, "without_email": 1}, {"queued": 0, "without_email": 1}]
    sent = sorted(e.extra["language"] for e in entries if e.action == "breach.subject_notified")
    assert sent == ["de", "en"]
    for entry in entries:  # ids and counts only
        text = str(entry.extra) + str(entry.fields)
        assert "@" not in text and "Anna" not in text and "laptop" not in text


def test_the_organisations_country_gives_the_language_when_the_person_never_said(cast, as_tenant, smtp_server):
    actor = cast.actor(cast.alice)
    breach = _breach(actor)
    person = _person(cast, "Jan", "jan@example.org")
    breach_add_subjects(actor=actor, breach=breach, subject_ids=[str(person.pk)])
    breach_notify_subjects(actor=actor, breach=breach)
    run_tasks()
    [mail] = smtp_server.sent_to("jan@example.org")
    assert mail["Content-Language"] == "de"  # Acme Praxis is in DE


def test_a_refused_mail_gives_the_claim_back(cast, as_tenant, settings):
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": 9, "timeout": 1},
        }
    }
    actor = cast.actor(cast.alice)
    breach = _breach(actor)
    person = _person(cast, "Kim", "kim@example.org")
    breach_add_subjects(actor=actor, breach=breach, subject_ids=[str(person.pk)])
    assert breach_notify_subjects(actor=actor, breach=breach).queued == 1
    run_tasks()
    assert BreachSubject.objects.get(breach=breach).notified_at is None
    assert not AuditEntry.objects.filter(action="breach.subject_notified").exists()


def test_the_report_data_say_what_article_33_asks(cast, as_tenant):
    actor = cast.actor(cast.alice)
    breach = _breach(actor, nature="Stolen laptop.", data_categories=["special"], approx_persons=3)
    breach_add_subjects(actor=actor, breach=breach, subject_ids=[str(_person(cast, "Lea").pk)])
    data = breach_report_data(breach)
    assert data["organization"] == {"name": "Acme Praxis", "country": "DE"}
    assert data["title"] == "Laptop stolen"
    assert data["authority_due_at"] == breach.aware_at + timedelta(hours=72)
    assert data["data_categories"] == [{"key": "special", "label": "Special-category data (Art. 9 GDPR)"}]
    assert (data["approx_persons"], data["affected_recorded"], data["affected_notified"]) == (3, 1, 0)
    assert data["authority_notified_at"] is None and data["authority_notified_late"] is False


@pytest.mark.parametrize("language", ["en", "ar"])
def test_a_long_link_in_the_authority_report_wraps_inside_the_page(cast, as_tenant, language):
    """A pasted URL or hash is one unbroken word: it breaks at the margin, not off the page."""
    import io

    from pypdf import PdfReader

    from custos.privacy.services.documents import breach_report_pdf

    token = "a1B2c3D4e5F6g7H8i9J0" * 8
    breach = _breach(cast.actor(cast.alice), nature=f"Customer list published at https://paste.example.com/{token}")
    page = PdfReader(io.BytesIO(breach_report_pdf(breach_report_data(breach), language=language))).pages[0]
    width = float(page.mediabox.width)
    pieces: list[tuple[float, str]] = []
    page.extract_text(visitor_text=lambda text, _cm, tm, *_: pieces.append((tm[4], text)) if "a1B2" in text else None)

    assert pieces and all(0 <= x <= width for x, _text in pieces)
    assert not any(token in text for _x, text in pieces)  # broken over lines, never one line off the page


def test_the_notice_goes_to_the_address_on_record_in_the_language_the_contact_names(cast, as_tenant, smtp_server):
    """Not to an address a request once came from (it may be someone else's by now)."""
    from custos.crm.models import Contact

    actor = cast.actor(cast.alice)
    anna = contact_create(
        actor=cast.actor(cast.olive), data={"first_name": "Anna", "email": "anna.old@example.org", "language": "pl"}
    )
    request_create(actor=cast.actor(cast.olive), kind="access", email="anna.old@example.org")
    Contact.objects.filter(pk=anna.pk).update(email="zanna.new@example.org")
    breach = _breach(actor)
    breach_add_subjects(actor=actor, breach=breach, subject_ids=[str(anna.subject_id)])

    breach_notify_subjects(actor=actor, breach=breach)
    run_tasks()

    [mail] = smtp_server.messages
    assert mail["To"] == "zanna.new@example.org"
    assert mail["Content-Language"] == "pl"


def test_when_the_authority_was_told_the_moment_of_awareness_stays(cast, as_tenant):
    """Moving it later would turn a late notification into one in time, or one before anyone knew."""
    actor = cast.actor(cast.alice)
    now = timezone.now()
    breach = _breach(actor, aware_at=now - timedelta(hours=100))
    breach = breach_mark_authority_notified(actor=actor, breach=breach)
    before = _state()

    with pytest.raises(ValidationFailed) as error:
        breach_update(actor=actor, breach=breach, data={"aware_at": now - timedelta(hours=2)})

    assert _fields(error) == {"aware_at"}
    assert _state() == before
    assert breach_clock(Breach.objects.get(pk=breach.pk)).late
    breach_update(actor=actor, breach=breach, data={"measures": "Passwords reset."})  # the rest may still change
