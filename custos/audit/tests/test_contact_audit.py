"""Contact changes are audited by field name; no personal value reaches the log."""

from django.db import connection

from custos.audit.models import AuditEntry
from custos.audit.services import audit_verify
from custos.core.actor import Via
from custos.core.tenancy import tenant_scope
from custos.crm.services.people import contact_create, contact_delete, contact_read_special, contact_update

CREATED = {
    "first_name": "Zofia",
    "last_name": "Wróblewska-Quill",
    "email": "zofia.quill@example.org",
    "phone": "030 98765432",
    "notes": "Prefers calls after five",
    "health_notes": "Penicillin allergy; type 2 diabetes",
}
CHANGED = {"last_name": "Quillfeather", "email": "zq@quillfeather.example", "health_notes": "Asthma, mild"}
PERSONAL_VALUES = [
    *CREATED.values(),
    *CHANGED.values(),
    "+493098765432",
    "Zofia",
    "Quill",
    "zofia.quill",
    "Penicillin",
    "Asthma",
]


def _entries(org):
    with tenant_scope(org):
        return list(AuditEntry.objects.order_by("seq"))


def _every_column_of_every_entry(org):
    with tenant_scope(org), connection.cursor() as cursor:
        cursor.execute("SELECT * FROM audit_auditentry")
        rows = cursor.fetchall()
        cursor.execute("SELECT * FROM audit_audithead")
        rows += cursor.fetchall()
    return "\n".join(repr(value) for row in rows for value in row).lower()


def test_create_names_the_fields_given_as_the_api_calls_them(cast):
    with tenant_scope(cast.org_a):
        contact = contact_create(actor=cast.actor(cast.alice, via=Via.API), data=CREATED)

    created = _entries(cast.org_a)[-1]
    assert (created.action, created.object_type, created.object_id) == ("contact.create", "contact", str(contact.pk))
    assert (created.actor_user_id, created.via) == (cast.alice.pk, "api")
    # "owner" as in the API and in update entries, not the column name "owner_id".
    assert created.fields == ["email", "first_name", "health_notes", "last_name", "notes", "owner", "phone"]


def test_update_names_only_the_fields_that_changed(cast):
    actor = cast.actor(cast.alice, via=Via.API)
    with tenant_scope(cast.org_a):
        contact = contact_create(actor=actor, data=CREATED)
        contact_update(actor=actor, contact=contact, data={**CHANGED, "first_name": "Zofia", "owner": str(cast.sam.pk)})

    updated = _entries(cast.org_a)[-1]
    assert (updated.action, updated.object_id, updated.fields) == (
        "contact.update",
        str(contact.pk),
        ["email", "health_notes", "last_name", "owner"],
    )
    assert (updated.actor_user_id, updated.via) == (cast.alice.pk, "api")


def test_a_read_of_special_category_data_is_audited_by_field(cast):
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        contact = contact_create(actor=actor, data=CREATED)
        revealed = contact_read_special(actor=actor, contact=contact)
        assert revealed == {"health_notes": CREATED["health_notes"], "custom_fields": {}}

    read = _entries(cast.org_a)[-1]
    assert (read.action, read.object_id, read.fields, read.actor_user_id) == (
        "contact.read_special",
        str(contact.pk),
        ["health_notes"],
        cast.alice.pk,
    )


def test_delete_is_audited_and_the_chain_stays_whole(cast):
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        contact = contact_create(actor=actor, data=CREATED)
        contact_id = str(contact.pk)
        contact_delete(actor=actor, contact=contact)

    deleted = _entries(cast.org_a)[-1]
    assert (deleted.action, deleted.object_type, deleted.object_id, deleted.fields) == (
        "contact.delete",
        "contact",
        contact_id,
        [],
    )
    assert audit_verify(cast.org_a.pk) is None


def test_no_personal_value_appears_in_any_column_of_any_entry(cast):
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        contact = contact_create(actor=actor, data=CREATED)
        contact_update(actor=actor, contact=contact, data=CHANGED)
        contact_read_special(actor=actor, contact=contact)
        contact_id = contact.pk.hex
        contact_delete(actor=actor, contact=contact)

    logged = _every_column_of_every_entry(cast.org_a)
    assert contact_id in logged.replace("-", "")
    for value in PERSONAL_VALUES:
        assert value.lower() not in logged, value


def test_an_update_that_changes_nothing_writes_no_entry(cast):
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        contact = contact_create(actor=actor, data=CREATED)
        before = len(_entries(cast.org_a))
        contact_update(actor=actor, contact=contact, data={"first_name": "Zofia", "phone": "+49 30 98765432"})

    assert len(_entries(cast.org_a)) == before
