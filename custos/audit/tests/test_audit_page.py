"""/audit/: the log for Admins and the Privacy Officer, with filters and paging."""

import csv
import io
from datetime import datetime, time, timedelta

from django.db import connection
from django.utils import timezone

from custos.accounts.models import Role
from custos.accounts.services import member_add, role_create
from custos.audit.models import AuditEntry
from custos.audit.services import audit_record
from custos.core.tenancy import tenant_scope
from custos.testing import enable_two_factor, sql_as_database_owner, web_client


def _record(cast, user, action, object_type="contact", count=1):
    with tenant_scope(cast.org_a):
        return [
            audit_record(actor=cast.actor(user), action=action, object_type=object_type, object_id=f"{action}-{n}")
            for n in range(count)
        ]


def _seqs(response):
    assert response.status_code == 200
    return [entry.seq for entry in response.context["entries"]]


def _all_seqs(org):
    with tenant_scope(org):
        return list(AuditEntry.objects.order_by("-seq").values_list("seq", flat=True))


def test_an_admin_sees_the_organisation_entries_newest_first(cast):
    _record(cast, cast.alice, "contact.create")
    with tenant_scope(cast.org_b):
        audit_record(actor=cast.actor(cast.mallory), action="contact.create", object_type="contact", object_id="b")

    response = web_client(cast.alice).get("/audit/")

    assert _seqs(response) == _all_seqs(cast.org_a) == [6, 5, 4, 3, 2, 1]
    assert "organization.create" in response.content.decode()
    assert all(entry.org_id == cast.org_a.pk for entry in response.context["entries"])


def test_the_action_filter_matches_by_prefix(cast):
    creates = _record(cast, cast.alice, "contact.create", count=2)
    update = _record(cast, cast.alice, "contact.update")[0]
    _record(cast, cast.alice, "company.create")

    client = web_client(cast.alice)

    assert _seqs(client.get("/audit/", {"action": "contact."})) == [update.seq, creates[1].seq, creates[0].seq]
    assert _seqs(client.get("/audit/", {"action": "contact.create"})) == [creates[1].seq, creates[0].seq]
    assert _seqs(client.get("/audit/", {"action": "nothing"})) == []


def test_the_user_filter_shows_one_member(cast):
    by_sam = _record(cast, cast.sam, "contact.create", count=2)
    _record(cast, cast.alice, "contact.create")

    response = web_client(cast.alice).get("/audit/", {"user": str(cast.sam.pk)})

    assert _seqs(response) == [by_sam[1].seq, by_sam[0].seq]
    assert "sam@acme.example" in response.content.decode()


def test_the_object_type_and_object_id_filters(cast):
    companies = _record(cast, cast.alice, "company.create", object_type="company", count=2)
    _record(cast, cast.alice, "contact.create")

    client = web_client(cast.alice)

    assert _seqs(client.get("/audit/", {"object_type": "company"})) == [companies[1].seq, companies[0].seq]
    assert _seqs(client.get("/audit/", {"object_type": "company", "object_id": "company.create-1"})) == [
        companies[1].seq
    ]


def test_the_date_range_filter(cast):
    old, older = _record(cast, cast.alice, "contact.update", count=2)
    recent = _record(cast, cast.alice, "contact.create")[0]
    zone = timezone.get_default_timezone()
    today = timezone.localdate()
    # Backdating breaks the chain, which the page does not check: it only filters.
    # The application may not rewrite log entries (on PostgreSQL it lacks the privilege).
    for entry, days in ((old, 10), (older, 40)):
        sql_as_database_owner(
            cast.org_a,
            "UPDATE audit_auditentry SET at = %s WHERE id = %s",
            [
                datetime.combine(today - timedelta(days=days), time(12), zone),
                AuditEntry._meta.pk.get_db_prep_value(entry.pk, connection),
            ],
        )
    client = web_client(cast.alice)

    def between(start, end):
        return _seqs(client.get("/audit/", {"date_from": start.isoformat(), "date_to": end.isoformat()}))

    assert between(today - timedelta(days=40), today - timedelta(days=40)) == [older.seq]
    assert between(today - timedelta(days=30), today - timedelta(days=1)) == [old.seq]
    # Ordered by position in the chain, newest first, not by the (backdated) time.
    assert between(today - timedelta(days=50), today - timedelta(days=10)) == [older.seq, old.seq]
    assert _seqs(client.get("/audit/", {"date_from": today.isoformat()}))[0] == recent.seq
    assert old.seq not in _seqs(client.get("/audit/", {"date_from": today.isoformat()}))
    assert _seqs(client.get("/audit/", {"date_from": (today + timedelta(days=1)).isoformat()})) == []


def test_paging_with_before_shows_every_entry_once(cast):
    _record(cast, cast.alice, "contact.view", count=130)
    client = web_client(cast.alice)

    first = client.get("/audit/")
    second = client.get("/audit/", {"before": first.context["next_before"]})

    assert len(_seqs(first)) == 100
    assert first.context["next_before"] == _seqs(first)[-1]
    assert f"before={first.context['next_before']}" in first.content.decode()
    assert second.context["next_before"] is None
    assert _seqs(first) + _seqs(second) == _all_seqs(cast.org_a) == list(range(135, 0, -1))


def test_paging_keeps_the_filters(cast):
    views = _record(cast, cast.alice, "contact.view", count=105)
    _record(cast, cast.alice, "company.view", object_type="company", count=3)
    client = web_client(cast.alice)

    first = client.get("/audit/", {"action": "contact.view"})
    assert "action=contact.view&amp;before=" in first.content.decode()
    second = client.get("/audit/", {"action": "contact.view", "before": first.context["next_before"]})

    assert _seqs(first) + _seqs(second) == [e.seq for e in reversed(views)]


def test_a_malformed_filter_is_ignored_not_an_error(cast):
    response = web_client(cast.alice).get("/audit/", {"date_from": "yesterday", "before": "x"})

    assert _seqs(response) == _all_seqs(cast.org_a)


def test_the_privacy_officer_may_read_the_log(cast):
    with tenant_scope(cast.org_a):
        membership = member_add(
            actor=cast.actor(cast.olive), email="pia@acme.example", role=Role.objects.get(key="privacy_officer")
        )
    enable_two_factor(membership.user)

    assert web_client(membership.user).get("/audit/").status_code == 200


def test_sales_and_read_only_members_are_refused(cast):
    for user in (cast.sam, cast.bob):
        response = web_client(user).get("/audit/")
        assert response.status_code == 403, user
        assert b"organization.create" not in response.content


def test_anonymous_visitors_are_sent_to_sign_in(cast):
    from django.test import Client

    response = Client().get("/audit/")

    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/audit/"


# Export ---------------------------------------------------------------------------------


def _csv_rows(response):
    assert response.status_code == 200, response
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-log-')
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_the_filtered_entries_download_oldest_first_with_their_links_of_the_chain(cast):
    creates = _record(cast, cast.alice, "contact.create", count=3)
    _record(cast, cast.alice, "company.create", object_type="company")
    with tenant_scope(cast.org_b):
        audit_record(actor=cast.actor(cast.mallory), action="contact.create", object_type="contact", object_id="b")

    rows = _csv_rows(web_client(cast.alice).post("/audit/export/", {"action": "contact."}))

    assert [int(row["seq"]) for row in rows] == [entry.seq for entry in creates]
    first = rows[0]
    assert (first["action"], first["object_type"], first["object_id"]) == (
        "contact.create",
        "contact",
        "contact.create-0",
    )
    assert (first["actor_user_id"], first["actor"]) == (str(cast.alice.pk), "alice@acme.example")
    assert rows[1]["prev_hash"] == first["hash"] == creates[0].hash
    with tenant_scope(cast.org_a):
        export = AuditEntry.objects.get(action="audit.export")
    assert (export.actor_user_id, export.extra) == (cast.alice.pk, {"filters": ["action"]})


def test_an_export_of_thousands_streams_every_entry_once(cast):
    _record(cast, cast.alice, "contact.view", count=2100)

    rows = _csv_rows(web_client(cast.alice).post("/audit/export/"))

    assert [int(row["seq"]) for row in rows] == sorted(_all_seqs(cast.org_a))
    assert rows[-1]["action"] == "audit.export"  # recorded before the file is written: it is in it
    assert len({row["seq"] for row in rows}) == len(rows) > 2100


def test_exported_cells_never_start_a_formula(cast):
    _record(cast, cast.alice, "=HYPERLINK(1)", object_type="contact")

    rows = _csv_rows(web_client(cast.alice).post("/audit/export/", {"object_type": "contact"}))

    assert [row["action"] for row in rows] == ["'=HYPERLINK(1)"]


def test_exporting_needs_its_own_right_and_a_post(cast):
    with tenant_scope(cast.org_a):
        reader = role_create(
            actor=cast.actor(cast.olive),
            name="Log reader",
            permissions=["audit.view"],
            record_scope="all",
            hidden_fields=[],
        )
        membership = member_add(actor=cast.actor(cast.olive), email="lea@acme.example", role=reader)
    enable_two_factor(membership.user)
    lea = web_client(membership.user)

    assert lea.get("/audit/").status_code == 200
    assert "Download these entries" not in lea.get("/audit/").content.decode()
    assert lea.post("/audit/export/").status_code == 403
    assert web_client(cast.sam).post("/audit/export/").status_code == 403
    assert web_client(cast.alice).get("/audit/export/").status_code == 405
    assert "Download these entries" in web_client(cast.alice).get("/audit/").content.decode()
    with tenant_scope(cast.org_a):
        assert not AuditEntry.objects.filter(action="audit.export").exists()
