"""The audit chain: entries linked per organisation, and every kind of tampering caught.

Tampering goes through raw SQL, as someone with write access to the database would do
it; on PostgreSQL it runs inside the tenant scope so that row-level security admits it.
"""

import hashlib

from django.db import connection

from custos.audit.models import AuditEntry, AuditHead
from custos.audit.services import GENESIS, ChainBreak, audit_record, audit_verify
from custos.core.tenancy import tenant_scope
from custos.testing import sql_as_database_owner


def _db_uuid(value):
    return AuditEntry._meta.pk.get_db_prep_value(value, connection)


def _sql(org, statement, params=()):
    sql_as_database_owner(org, statement, params)


def _write(cast, count, org=None):
    org = org or cast.org_a
    user = cast.mallory if org == cast.org_b else cast.alice
    with tenant_scope(org):
        return [
            audit_record(
                actor=cast.actor(user, org),
                action="test.event",
                object_type="contact",
                object_id=f"object-{n}",
                fields=["email"],
                extra={"n": n},
                ip="203.0.113.7",
                user_agent="pytest",
            )
            for n in range(count)
        ]


def _entries(org):
    with tenant_scope(org):
        return list(AuditEntry.objects.order_by("seq"))


def test_entries_are_numbered_and_linked_per_organisation(cast):
    _write(cast, 3)
    _write(cast, 2, org=cast.org_b)

    for org in (cast.org_a, cast.org_b):
        entries = _entries(org)
        assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
        assert entries[0].prev_hash == GENESIS
        assert [e.prev_hash for e in entries[1:]] == [e.hash for e in entries[:-1]]
        assert len({e.hash for e in entries}) == len(entries)
        with tenant_scope(org):
            head = AuditHead.objects.get()
        assert (head.seq, head.hash) == (entries[-1].seq, entries[-1].hash)
    # org_a: organisation, owner, alice, bob, sam, 3 events; org_b: organisation, owner, 2 events.
    assert len(_entries(cast.org_a)) == 8
    assert len(_entries(cast.org_b)) == 4


def test_an_intact_chain_verifies(cast):
    _write(cast, 3)

    assert audit_verify(cast.org_a.pk) is None
    assert audit_verify(cast.org_b.pk) is None


def test_a_changed_field_of_an_entry_is_caught_and_named(cast):
    _write(cast, 3)
    target = _entries(cast.org_a)[5]
    columns = {
        "action": "'contact.view'",
        "object_id": "'object-x'",
        "via": "'cli'",
        "actor_user_id": "NULL",
    }

    for column, value in columns.items():
        original = _entries(cast.org_a)[5]
        _sql(cast.org_a, f"UPDATE audit_auditentry SET {column} = {value} WHERE id = %s", [_db_uuid(target.pk)])

        assert audit_verify(cast.org_a.pk) == ChainBreak(
            target.seq, str(target.pk), "content changed since it was written"
        ), column

        restored = getattr(original, column)
        _sql(
            cast.org_a,
            f"UPDATE audit_auditentry SET {column} = %s WHERE id = %s",
            [_db_uuid(restored) if column == "actor_user_id" else restored, _db_uuid(target.pk)],
        )
        assert audit_verify(cast.org_a.pk) is None, column

    _sql(cast.org_a, "UPDATE audit_auditentry SET user_agent = 'curl' WHERE id = %s", [_db_uuid(target.pk)])
    assert audit_verify(cast.org_a.pk) == ChainBreak(
        target.seq, str(target.pk), "user agent changed since it was written"
    )


def test_a_changed_time_or_field_list_is_caught(cast):
    _write(cast, 3)
    second, third = _entries(cast.org_a)[6:8]

    _sql(
        cast.org_a, "UPDATE audit_auditentry SET fields = %s WHERE id = %s", ['["email", "phone"]', _db_uuid(third.pk)]
    )
    assert audit_verify(cast.org_a.pk) == ChainBreak(third.seq, str(third.pk), "content changed since it was written")

    _sql(
        cast.org_a,
        "UPDATE audit_auditentry SET at = %s WHERE id = %s",
        [second.at.replace(year=second.at.year - 1), _db_uuid(second.pk)],
    )
    assert audit_verify(cast.org_a.pk) == ChainBreak(second.seq, str(second.pk), "content changed since it was written")


def test_a_changed_ip_address_is_caught(cast):
    _write(cast, 2)
    target = _entries(cast.org_a)[-1]

    _sql(cast.org_a, "UPDATE audit_auditentry SET ip = %s WHERE id = %s", ["198.51.100.1", _db_uuid(target.pk)])

    assert audit_verify(cast.org_a.pk) == ChainBreak(
        target.seq, str(target.pk), "IP address changed since it was written"
    )


def test_an_address_changed_under_the_truncated_flag_is_caught(cast):
    # Marking an entry as truncated must not become a licence to rewrite its address.
    _write(cast, 2)
    target = _entries(cast.org_a)[-1]

    _sql(
        cast.org_a,
        "UPDATE audit_auditentry SET ip = %s, ip_truncated = %s WHERE id = %s",
        ["198.51.100.1", True, _db_uuid(target.pk)],
    )

    found = audit_verify(cast.org_a.pk)
    assert found is not None
    assert (found.seq, found.entry_id) == (target.seq, str(target.pk))


def test_a_deleted_entry_in_the_middle_is_caught(cast):
    _write(cast, 3)
    target = _entries(cast.org_a)[3]

    _sql(cast.org_a, "DELETE FROM audit_auditentry WHERE id = %s", [_db_uuid(target.pk)])

    assert audit_verify(cast.org_a.pk) == ChainBreak(4, "", "missing (the next entry is #5)")


def test_a_deleted_entry_renumbered_away_is_caught(cast):
    _write(cast, 3)
    entries = _entries(cast.org_a)

    _sql(cast.org_a, "DELETE FROM audit_auditentry WHERE id = %s", [_db_uuid(entries[3].pk)])
    for entry in entries[4:]:
        _sql(cast.org_a, "UPDATE audit_auditentry SET seq = seq - 1 WHERE id = %s", [_db_uuid(entry.pk)])

    assert audit_verify(cast.org_a.pk) == ChainBreak(4, str(entries[4].pk), "does not link to the entry before it")


def test_an_inserted_forged_entry_is_caught(cast):
    _write(cast, 2)
    last = _entries(cast.org_a)[-1]
    with tenant_scope(cast.org_a):
        forged = AuditEntry.objects.bulk_create(
            [
                AuditEntry(
                    seq=last.seq + 1,
                    via="web",
                    action="contact.delete",
                    object_type="contact",
                    object_id="object-0",
                    prev_hash=last.hash,
                    hash=hashlib.sha256(b"a guess without the key").hexdigest(),
                )
            ]
        )[0]
        # A careful forger moves the head along too; without the key its seal cannot match.
        AuditHead.objects.update(seq=forged.seq, hash=forged.hash)

    assert audit_verify(cast.org_a.pk) == ChainBreak(forged.seq, str(forged.pk), "content changed since it was written")


def test_a_copied_genuine_entry_inserted_later_is_caught(cast):
    _write(cast, 2)
    entries = _entries(cast.org_a)
    copied = entries[1]
    with tenant_scope(cast.org_a):
        replay = AuditEntry.objects.bulk_create(
            [
                AuditEntry(
                    seq=entries[-1].seq + 1,
                    at=copied.at,
                    actor_user_id=copied.actor_user_id,
                    via=copied.via,
                    action=copied.action,
                    object_type=copied.object_type,
                    object_id=copied.object_id,
                    prev_hash=copied.prev_hash,
                    hash=copied.hash,
                )
            ]
        )[0]

    assert audit_verify(cast.org_a.pk) == ChainBreak(replay.seq, str(replay.pk), "does not link to the entry before it")


def test_a_cut_off_tail_is_caught(cast):
    _write(cast, 2)
    last = _entries(cast.org_a)[-1]

    _sql(cast.org_a, "DELETE FROM audit_auditentry WHERE id = %s", [_db_uuid(last.pk)])

    assert audit_verify(cast.org_a.pk) == ChainBreak(
        last.seq, "", f"entries after #{last.seq - 1} are missing (the chain ends at #{last.seq})"
    )


def test_a_cut_off_tail_with_the_head_moved_back_is_caught(cast):
    _write(cast, 2)
    before_last, last = _entries(cast.org_a)[-2:]

    _sql(cast.org_a, "DELETE FROM audit_auditentry WHERE id = %s", [_db_uuid(last.pk)])
    _sql(
        cast.org_a,
        "UPDATE audit_audithead SET seq = %s, hash = %s WHERE org_id = %s",
        [before_last.seq, before_last.hash, _db_uuid(cast.org_a.pk)],
    )

    assert audit_verify(cast.org_a.pk) == ChainBreak(before_last.seq, "", "the chain's sealed end was altered")


def test_an_altered_head_is_caught(cast):
    _write(cast, 1)

    _sql(cast.org_a, "UPDATE audit_audithead SET hash = %s WHERE org_id = %s", ["f" * 64, _db_uuid(cast.org_a.pk)])

    assert audit_verify(cast.org_a.pk) == ChainBreak(6, "", "the chain's sealed end was altered")


def test_a_deleted_head_is_caught(cast):
    _write(cast, 1)

    _sql(cast.org_a, "DELETE FROM audit_audithead WHERE org_id = %s", [_db_uuid(cast.org_a.pk)])

    assert audit_verify(cast.org_a.pk) == ChainBreak(6, "", "the chain's sealed end is missing")


def test_deleting_the_whole_chain_of_an_organisation_is_caught(cast):
    # Every organisation's chain starts with its own creation, so an empty one was emptied.
    _sql(cast.org_a, "DELETE FROM audit_auditentry WHERE org_id = %s", [_db_uuid(cast.org_a.pk)])
    _sql(cast.org_a, "DELETE FROM audit_audithead WHERE org_id = %s", [_db_uuid(cast.org_a.pk)])

    found = audit_verify(cast.org_a.pk)
    assert found is not None
    assert found.seq == 1


def test_tampering_in_one_organisation_leaves_the_other_intact(cast):
    _write(cast, 1)
    _write(cast, 1, org=cast.org_b)
    target = _entries(cast.org_a)[-1]

    _sql(cast.org_a, "UPDATE audit_auditentry SET action = 'x' WHERE id = %s", [_db_uuid(target.pk)])

    assert audit_verify(cast.org_a.pk) is not None
    assert audit_verify(cast.org_b.pk) is None


def test_an_entry_moved_to_another_organisation_is_caught_in_both(cast):
    _write(cast, 2)
    _write(cast, 2, org=cast.org_b)
    moved = _entries(cast.org_b)[-1]

    # On PostgreSQL row-level security refuses the move inside a tenant scope; the login
    # role outside any scope (the table owner here) is who could do it.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audit_auditentry SET org_id = %s, seq = %s WHERE id = %s",
            [_db_uuid(cast.org_a.pk), 100, _db_uuid(moved.pk)],
        )

    assert audit_verify(cast.org_a.pk) == ChainBreak(8, "", "missing (the next entry is #100)")
    assert audit_verify(cast.org_b.pk) == ChainBreak(
        moved.seq, "", f"entries after #{moved.seq - 1} are missing (the chain ends at #{moved.seq})"
    )
