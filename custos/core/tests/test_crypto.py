"""Encryption at rest: special-category values are ciphertext in the database, bound to
their column and organisation; blind indexes find exact values per organisation."""

import sqlite3

import pytest
from django.db import connection

from custos.core import crypto
from custos.core.tenancy import tenant_scope
from custos.crm.models import Contact
from custos.crm.services.people import contact_create

HEALTH_NOTES = "Epilepsy, takes lamotrigine 200 mg"
AAD = "crm.Contact.health_notes"


def _db_uuid(value):
    return Contact._meta.pk.get_db_prep_value(value, connection)


def _contact(cast, org=None, **data):
    org = org or cast.org_a
    user = cast.mallory if org == cast.org_b else cast.alice
    with tenant_scope(org):
        return contact_create(
            actor=cast.actor(user, org), data={"last_name": "Ostrowska", "health_notes": HEALTH_NOTES, **data}
        )


def _raw_health_notes(org, contact):
    with tenant_scope(org), connection.cursor() as cursor:
        cursor.execute("SELECT health_notes FROM crm_contact WHERE id = %s", [_db_uuid(contact.pk)])
        return cursor.fetchone()[0]


def _set_raw_health_notes(org, contact, value):
    with tenant_scope(org), connection.cursor() as cursor:
        cursor.execute("UPDATE crm_contact SET health_notes = %s WHERE id = %s", [value, _db_uuid(contact.pk)])


def test_health_notes_are_ciphertext_in_the_column(cast):
    contact = _contact(cast)

    raw = _raw_health_notes(cast.org_a, contact)

    assert raw.startswith("v1.1.")
    assert HEALTH_NOTES not in raw
    assert "lamotrigine" not in raw.lower()
    with tenant_scope(cast.org_a):
        assert Contact.objects.get(pk=contact.pk).health_notes == HEALTH_NOTES


def test_no_column_of_the_contact_table_holds_the_plaintext(cast):
    _contact(cast)

    with tenant_scope(cast.org_a), connection.cursor() as cursor:
        cursor.execute("SELECT * FROM crm_contact")
        stored = "\n".join(repr(value) for row in cursor.fetchall() for value in row)

    assert "Ostrowska" in stored  # the check can see plain columns
    assert "lamotrigine" not in stored.lower()


@pytest.mark.skipif(connection.vendor != "sqlite", reason="reads SQLite's file format; PostgreSQL is checked by column")
@pytest.mark.django_db(transaction=True)
def test_the_database_file_holds_no_plaintext(cast, tmp_path):
    _contact(cast)
    # The test database lives in memory; SQLite's online backup copies its pages byte for
    # byte into a file, which is what a file database would hold on disk. Committed data
    # only (hence transaction=True): the backup waits for open write transactions.
    path = tmp_path / "copy.sqlite3"
    target = sqlite3.connect(path)
    connection.ensure_connection()
    connection.connection.backup(target)
    target.close()
    data = path.read_bytes()

    assert b"Ostrowska" in data  # the copy is real: plain columns show
    assert b"lamotrigine" not in data.lower()
    assert HEALTH_NOTES.encode() not in data


def test_the_same_value_encrypts_differently_each_time(cast):
    first, second = _contact(cast), _contact(cast)

    assert _raw_health_notes(cast.org_a, first) != _raw_health_notes(cast.org_a, second)


def test_a_ciphertext_does_not_open_in_another_column(cast):
    raw = _raw_health_notes(cast.org_a, _contact(cast))

    for aad in ("crm.Contact.notes", "crm.Company.health_notes", "privacy.Subject.health_notes"):
        with pytest.raises(crypto.DecryptionError), tenant_scope(cast.org_a):
            crypto.decrypt(raw, aad=aad)
    with tenant_scope(cast.org_a):
        assert crypto.decrypt(raw, aad=AAD) == HEALTH_NOTES


def test_a_ciphertext_copied_into_another_organisation_does_not_open(cast):
    raw = _raw_health_notes(cast.org_a, _contact(cast))
    target = _contact(cast, org=cast.org_b, health_notes="")

    _set_raw_health_notes(cast.org_b, target, raw)

    with tenant_scope(cast.org_b):
        with pytest.raises(crypto.DecryptionError):
            Contact.objects.get(pk=target.pk)
        with pytest.raises(crypto.DecryptionError):
            crypto.decrypt(raw, aad=AAD)


def test_an_altered_ciphertext_does_not_open(cast):
    contact = _contact(cast)
    raw = _raw_health_notes(cast.org_a, contact)
    body = raw.removeprefix("v1.1.")
    flipped = body[:20] + ("A" if body[20] != "A" else "B") + body[21:]

    for altered in (f"v1.1.{flipped}", f"v1.1.{body[:-4]}", f"v2.1.{body}", f"v1.9.{body}", "not a ciphertext"):
        _set_raw_health_notes(cast.org_a, contact, altered)
        with pytest.raises(crypto.DecryptionError), tenant_scope(cast.org_a):
            Contact.objects.get(pk=contact.pk)


def test_encrypted_columns_refuse_value_lookups(cast):
    with tenant_scope(cast.org_a):
        with pytest.raises(NotImplementedError):
            Contact.objects.filter(health_notes=HEALTH_NOTES)
        with pytest.raises(NotImplementedError):
            Contact.objects.filter(health_notes__icontains="epilepsy")
        assert Contact.objects.filter(health_notes__isnull=True).count() == 0


def test_an_empty_value_is_stored_empty(cast):
    contact = _contact(cast, health_notes="")

    assert _raw_health_notes(cast.org_a, contact) == ""


def test_the_blind_index_is_stable_within_an_organisation(cast):
    first = crypto.blind_index("Anna@Example.org", purpose="email", org_id=cast.org_a.pk)
    crypto.forget_keys()  # a fresh process derives the same key from the stored data key

    assert crypto.blind_index("Anna@Example.org", purpose="email", org_id=cast.org_a.pk) == first
    assert len(first) == 64
    assert "anna" not in first


def test_the_blind_index_differs_between_organisations_purposes_and_values(cast):
    in_a = crypto.blind_index("anna@example.org", purpose="email", org_id=cast.org_a.pk)

    assert crypto.blind_index("anna@example.org", purpose="email", org_id=cast.org_b.pk) != in_a
    assert crypto.blind_index("anna@example.org", purpose="phone", org_id=cast.org_a.pk) != in_a
    assert crypto.blind_index("anna@example.net", purpose="email", org_id=cast.org_a.pk) != in_a


def test_the_blind_index_uses_the_organisation_in_context(cast):
    with tenant_scope(cast.org_b):
        in_context = crypto.blind_index("anna@example.org", purpose="email")

    assert in_context == crypto.blind_index("anna@example.org", purpose="email", org_id=cast.org_b.pk)
