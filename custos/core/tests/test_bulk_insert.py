"""`insert_rows`: many new rows at once, stored as `save()` would store them."""

import pytest
from django.db import connection

from custos.core.db.bulk import insert_rows
from custos.core.tenancy import TenantContextMissing, tenant_scope
from custos.crm.models import Contact
from custos.privacy.models import Subject


def test_rows_are_stored_as_save_stores_them_encrypted_fields_included(cast):
    with tenant_scope(cast.org_a):
        subjects = [Subject() for _ in range(3)]
        contacts = [
            Contact(subject_id=s.pk, last_name=f"Lind {n}", health_notes="Pollen allergy")
            for n, s in enumerate(subjects)
        ]
        insert_rows(Subject, subjects)
        insert_rows(Contact, contacts)

        stored = Contact.objects.order_by("last_name")
        assert [(c.last_name, c.health_notes, c.org_id) for c in stored] == [
            (f"Lind {n}", "Pollen allergy", cast.org_a.pk) for n in range(3)
        ]
        assert not any(c._state.adding for c in contacts)
        with connection.cursor() as cursor:
            cursor.execute("SELECT health_notes FROM crm_contact")
            assert all("Pollen" not in str(row[0]) for row in cursor.fetchall())  # encrypted at rest


def test_rows_of_another_organisation_are_refused(cast):
    with tenant_scope(cast.org_b):
        subject = Subject()
    subject.org_id = cast.org_b.pk
    with tenant_scope(cast.org_a), pytest.raises(TenantContextMissing):
        insert_rows(Subject, [subject])
