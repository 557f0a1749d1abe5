"""The suppression list: kept as keyed hashes, honoured by imports and by marketing."""

import io

from custos.core.tenancy import tenant_scope
from custos.crm.imports import import_start, import_upload
from custos.crm.models import Contact, ImportJob
from custos.crm.services.people import contact_create
from custos.privacy.models import Purpose, Subject, Suppression
from custos.privacy.services.consent import may_process, purpose_create
from custos.privacy.services.erasure import subject_erase
from custos.privacy.services.restriction import subject_object
from custos.testing import run_tasks


def test_the_list_holds_no_address_and_another_organisation_cannot_test_one(cast):
    with tenant_scope(cast.org_a):
        contact = contact_create(actor=cast.actor(cast.alice), data={"first_name": "Ola", "email": "ola@example.org"})
        subject_object(actor=cast.actor(cast.alice), subject=contact.subject, about="marketing")
        digest = Suppression.objects.get().digest
    assert "ola" not in digest
    with tenant_scope(cast.org_b):
        from custos.privacy.services.suppression import is_suppressed

        assert not is_suppressed(email="ola@example.org")


def test_an_erased_person_reimported_comes_back_flagged_and_out_of_marketing(cast):
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        purpose = purpose_create(
            actor=actor,
            data={"key": "news", "legal_basis": "legitimate_interest", "is_marketing": True, "names": {"en": "News"}},
        )
        greta = contact_create(actor=actor, data={"first_name": "Greta", "email": "greta@example.org"})
        subject_erase(actor=actor, subject=greta.subject)
        upload = io.BytesIO(b"First name,Email\nGreta,GRETA@example.org\nHans,hans@example.org\n")
        job = import_upload(actor=actor, object_type="contact", file_name="old-list.csv", stream=upload)
        import_start(actor=actor, job=job, mapping={"First name": "first_name", "Email": "email"}, duplicates="skip")
    run_tasks()

    with tenant_scope(cast.org_a):
        job = ImportJob.objects.get(pk=job.pk)
        assert job.suppressed_count == 1
        assert job.created_count == 2  # flagged, not refused: the team decides
        back = Contact.objects.get(email="GRETA@example.org")
        hans = Contact.objects.get(email="hans@example.org")
        purpose = Purpose.objects.get(pk=purpose.pk)
        assert back.subject_id != greta.subject_id
        assert Subject.objects.get(pk=back.subject_id).objected_to_marketing_at is not None
        assert not may_process(back.subject, purpose)
        assert may_process(hans.subject, purpose)


def test_undoing_an_import_never_brings_an_erased_person_back(cast):
    from custos.crm.imports import import_undo

    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        greta = contact_create(
            actor=actor, data={"first_name": "Greta", "last_name": "Old", "email": "greta@example.org"}
        )
        upload = io.BytesIO(b"First name,Last name,Email\nGreta,New,greta@example.org\n")
        job = import_upload(actor=actor, object_type="contact", file_name="update.csv", stream=upload)
        mapping = {"First name": "first_name", "Last name": "last_name", "Email": "email"}
        import_start(actor=actor, job=job, mapping=mapping, duplicates="update")
    run_tasks()
    with tenant_scope(cast.org_a):
        subject_erase(actor=actor, subject=Subject.objects.get(pk=greta.subject_id))

        import_undo(actor=actor, job=ImportJob.objects.get(pk=job.pk))

        after = Contact.objects.get(pk=greta.pk)
        assert (after.first_name, after.last_name, after.email) == ("", "", "")
