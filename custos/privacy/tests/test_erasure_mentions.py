"""Erasure redacts the person wherever free text names them, found through an index: other
people's notes and JSON fields, companies named after them, and the proof the engine keeps
(a released hold's reason, a request's reasons); whole words only; the cost follows the
person, not the tenant."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from custos.crm.models import Company, Contact, Deal, Lead
from custos.crm.services.deals import deal_create
from custos.crm.services.leads import lead_create
from custos.crm.services.people import company_create, contact_create
from custos.privacy.models import LegalHold, PrivacyRequest
from custos.privacy.services import erasure
from custos.privacy.services.erasure import REDACTED, mention_fields, subject_erase

pytestmark = pytest.mark.usefixtures("as_tenant")

NAME, EMAIL, PHONE = "Jürgen Möllenbeck", "j.moellenbeck@example.org", "+49 30 55512345"


def _person(cast):
    return contact_create(
        actor=cast.actor(cast.olive),
        data={"first_name": "Jürgen", "last_name": "Möllenbeck", "email": EMAIL, "phone": PHONE},
    )


def _other(cast, email, **data):
    return contact_create(actor=cast.actor(cast.olive), data={"last_name": "Other", "email": email} | data)


def test_companies_json_fields_and_kept_proof_are_redacted_of_the_person(cast):
    olive = cast.actor(cast.olive)
    person = _person(cast)
    company = company_create(actor=olive, data={"name": f"{NAME} Consulting"})
    Company.objects.filter(pk=company.pk).update(email=EMAIL, phone="+493055512345")
    other = _other(cast, "other@example.org")
    Contact.objects.filter(pk=other.pk).update(
        tags=["vip", f"friend of {NAME.upper()}"], custom_fields={"referred_by": f"{NAME} ({EMAIL})", "size": 3}
    )
    lead = lead_create(actor=olive, data={"last_name": "Lead", "email": "lead@example.org"})
    Lead.objects.filter(pk=lead.pk).update(custom_fields={"note": "call 030 55512345 first"})
    deal = deal_create(actor=olive, data={"name": "Renewal", "contact": str(other.pk)})
    # A first name in capitals: inside JSON on SQLite "J\u00dcRGEN", which no letter case of
    # the name matches as stored text.
    Deal.objects.filter(pk=deal.pk).update(tags=[NAME.lower()])
    shouted = deal_create(actor=olive, data={"name": "Chairs", "contact": str(other.pk)})
    Deal.objects.filter(pk=shouted.pk).update(tags=["JÜRGEN Möllenbeck"])
    hold = LegalHold.objects.create(subject=person.subject, reason=f"Dispute with {NAME}", released_at=timezone.now())
    own_request = PrivacyRequest.objects.create(
        kind="access", subject=person.subject, email=EMAIL, due_at=timezone.now(), rejection_reason=f"{EMAIL} unknown"
    )
    others_request = PrivacyRequest.objects.create(
        kind="erasure",
        subject=other.subject,
        email="other@example.org",
        due_at=timezone.now(),
        extension_reason=f"waiting for {NAME}",
    )

    plan = subject_erase(actor=olive, subject=person.subject)

    company.refresh_from_db()
    assert (company.name, company.email, company.phone) == (f"{REDACTED} Consulting", REDACTED, REDACTED)
    other.refresh_from_db()
    assert other.tags == ["vip", f"friend of {REDACTED}"]
    assert other.custom_fields == {"referred_by": f"{REDACTED} ({REDACTED})", "size": 3}
    assert Lead.objects.get(pk=lead.pk).custom_fields == {"note": f"call {REDACTED} first"}
    assert Deal.objects.get(pk=deal.pk).tags == [REDACTED]
    assert Deal.objects.get(pk=shouted.pk).tags == [REDACTED]
    hold.refresh_from_db()
    assert hold.reason == f"Dispute with {REDACTED}"
    own_request.refresh_from_db()
    assert (own_request.email, own_request.rejection_reason) == ("", f"{REDACTED} unknown")
    others_request.refresh_from_db()
    assert others_request.extension_reason == f"waiting for {REDACTED}"
    redacted = {(m["type"], m["field"]) for m in plan.mentions}
    assert redacted == {
        ("crm.Company", "name"),
        ("crm.Company", "email"),
        ("crm.Company", "phone"),
        ("crm.Contact", "tags"),
        ("crm.Contact", "custom_fields"),
        ("crm.Lead", "custom_fields"),
        ("crm.Deal", "tags"),
        ("privacy.LegalHold", "reason"),
        ("privacy.PrivacyRequest", "rejection_reason"),
        ("privacy.PrivacyRequest", "extension_reason"),
    }


def test_only_whole_words_are_mentions(cast):
    person = _person(cast)
    other = _other(cast, "other@example.org", notes="Wrote to xj.moellenbeck@example.org and 030 555123456.")

    plan = subject_erase(actor=cast.actor(cast.olive), subject=person.subject)

    assert Contact.objects.get(pk=other.pk).notes == "Wrote to xj.moellenbeck@example.org and 030 555123456."
    assert plan.mentions == []


def test_the_other_organisation_is_never_read_or_changed(cast):
    from custos.core.tenancy import tenant_scope

    person = _person(cast)
    with tenant_scope(cast.org_b):
        foreign = contact_create(
            actor=cast.actor(cast.mallory, cast.org_b), data={"last_name": "Far", "notes": f"Knows {NAME}"}
        )

    subject_erase(actor=cast.actor(cast.olive), subject=person.subject)

    with tenant_scope(cast.org_b):
        assert Contact.objects.get(pk=foreign.pk).notes == f"Knows {NAME}"


def test_every_mention_column_is_indexed(cast):
    """A new free-text column needs its table's mention index replaced by a migration (see
    privacy migration 0006); until then erasure reads the whole table to find mentions."""
    indexed = erasure._indexed_columns()
    for model, fields in mention_fields().items():
        assert indexed.get(model._meta.db_table, set()) >= {f.column for f in fields}, model
    if connection.vendor != "postgresql":
        return
    # Under row-level security PostgreSQL uses an index only for LEAKPROOF operators: the
    # query compares the words with the indexed column alone, by pg_trgm's `<%`.
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename, indexdef FROM pg_indexes WHERE indexname LIKE 'privacy_mentions_%%'")
        definitions = dict(cursor.fetchall())
        # LEAKPROOF, so usable under row-level security; costly, so the planner prefers the index.
        cursor.execute("SELECT proleakproof, procost FROM pg_proc WHERE proname = 'word_similarity_op'")
        assert cursor.fetchone() == (True, 100)
    for model, fields in mention_fields().items():
        table = model._meta.db_table
        assert "gin (privacy_mention_text gin_trgm_ops)" in definitions[table], table
        sql, _params = erasure._candidates(model, fields, {"someone@example.org"}, indexed).query.sql_with_params()
        assert '<%% "privacy_mention_text"' in sql, sql


def test_the_statements_of_an_erasure_do_not_grow_with_the_tenant(cast):
    def erase_one() -> int:
        person = _person(cast)
        with CaptureQueriesContext(connection) as captured:
            subject_erase(actor=cast.actor(cast.olive), subject=person.subject)
        return len(captured)

    erase_one()  # the first erasure warms caches
    small = erase_one()
    for i in range(40):
        _other(cast, f"p{i}@example.org", notes=f"Note {i} about nobody in particular")
    assert erase_one() == small


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's FTS5 mention index, kept by triggers")
def test_a_save_that_leaves_the_free_text_alone_leaves_its_mention_index_alone(cast):
    """Django's save() writes every column: the trigger (privacy 0009) rewrites a contact's
    mention index only when a text it holds changed, and erasure still finds the new text."""
    olive = cast.actor(cast.olive)
    person = _person(cast)
    other = _other(cast, "other@example.org", notes="met at the fair", tags=["fair"])
    raw = connection.connection

    def rows_written_by(update) -> int:
        before = raw.total_changes  # counts the rows triggers write into the index too
        update()
        return raw.total_changes - before

    saved = rows_written_by(lambda: Contact.objects.get(pk=other.pk).save())
    noted = rows_written_by(lambda: Contact.objects.filter(pk=other.pk).update(notes=f"call {NAME}"))
    subject_erase(actor=olive, subject=person.subject)

    assert saved == 1  # the contact's row alone
    assert noted > 1  # the row, and its text out of the index and in again
    assert Contact.objects.get(pk=other.pk).notes == f"call {REDACTED}"


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's FTS5 mention indexes, kept by triggers")
def test_a_mention_index_lost_to_a_table_rebuilt_by_hand_is_made_again_from_the_rows(cast):
    """`custos mentions rebuild` (docs/operations.md): without migrating backwards, which would
    drop what later migrations made."""
    other = _other(cast, "other@example.org", notes=f"call {EMAIL}")
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER privacy_mentions_crm_contact_insert")  # as a table rebuilt by hand
    assert "crm_contact" not in erasure._indexed_columns()

    call_command("mentions", "rebuild", stdout=io.StringIO())

    indexed = erasure._indexed_columns()
    fields = mention_fields()[Contact]
    with connection.cursor() as cursor:
        cursor.execute("SELECT sql FROM sqlite_master WHERE name = 'privacy_mentions_crm_contact_update'")
        (trigger,) = cursor.fetchone()
    assert indexed["crm_contact"] >= {f.column for f in fields}
    assert list(erasure._candidates(Contact, fields, {EMAIL}, indexed).values_list("pk", flat=True)) == [other.pk]
    assert "WHEN old.tags IS NOT new.tags" in trigger  # as privacy 0009 left it
