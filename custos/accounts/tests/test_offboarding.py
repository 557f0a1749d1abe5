"""When a contract ends: a complete export, 30 days' grace, then every row, account and key gone."""

import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from custos.accounts.models import ApiToken, Membership, User
from custos.accounts.offboarding import DELETIONS, offboard_due
from custos.core.journals import journal_read
from custos.core.models import DataKey, DeletionCertificate, Organization
from custos.core.tenancy import tenant_models, tenant_scope
from custos.crm.imports import import_upload
from custos.crm.models import ImportJob
from custos.crm.services.people import contact_create
from custos.privacy.services.consent import purpose_create
from custos.privacy.services.processors import processor_create
from custos.testing import api_client


def _offboard(cast, tmp_path):
    target = tmp_path / "acme.zip"
    out = io.StringIO()
    call_command("tenant", "offboard", "--org", cast.org_a.slug, "--export", str(target), stdout=out)
    return target, out.getvalue()


def _fill(cast):
    actor = cast.actor(cast.olive)
    with tenant_scope(cast.org_a):
        contact_create(
            actor=actor, data={"first_name": "Greta", "email": "greta@example.org", "health_notes": "Allergic"}
        )
        purpose = purpose_create(actor=actor, data={"key": "news", "legal_basis": "consent", "names": {"en": "News"}})
        processor = processor_create(
            actor=actor, data={"name": "Mailer", "service": "mail", "location": "DE", "safeguard": "none_needed"}
        )
        processor.purposes.add(purpose)  # a many-to-many row must go too
    api_client(cast, cast.alice)


def test_offboarding_exports_everything_and_schedules_deletion(cast, tmp_path):
    _fill(cast)

    target, output = _offboard(cast, tmp_path)

    with zipfile.ZipFile(target) as archive:
        contacts = json.loads(archive.read("crm.Contact.json"))
        manifest = json.loads(archive.read("manifest.json"))
        assert "core.DataKey.json" not in archive.namelist()
    assert [c["first_name"] for c in contacts] == ["Greta"]
    assert contacts[0]["health_notes"] == "Allergic"  # decrypted: the customer's export is readable
    assert manifest["files"]["crm.Contact.json"] == 1
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    org = Organization.objects.get(pk=cast.org_a.pk)
    assert org.delete_after - org.offboarding_since == timedelta(days=30)
    assert f"delete_after: {org.delete_after.isoformat()}" in output
    assert offboard_due() == []  # the grace period runs


def test_after_the_grace_period_everything_of_the_organisation_is_gone(cast, tmp_path):
    _fill(cast)
    _offboard(cast, tmp_path)
    org_id = cast.org_a.pk

    certificates = offboard_due(now=timezone.now() + timedelta(days=31))

    assert len(certificates) == 1
    certificate = certificates[0]
    assert certificate.org_id == org_id
    assert certificate.rows_deleted["crm.Contact"] == 1
    assert certificate.keys_destroyed == 1
    assert len(certificate.digest) == 64
    assert not Organization.objects.filter(pk=org_id).exists()
    for model in tenant_models():
        assert not model.objects.unscoped().filter(org_id=org_id).exists(), model._meta.label
    assert not DataKey.objects.unscoped().filter(org_id=org_id).exists()
    assert not Membership.objects.filter(org_id=org_id).exists()
    assert not ApiToken.objects.filter(org_id=org_id).exists()
    # Staff of org A only are gone; org B is untouched.
    assert not User.objects.filter(email__in=["alice@acme.example", "bob@acme.example"]).exists()
    assert User.objects.filter(email="mallory@bravo.example").exists()
    assert Organization.objects.filter(pk=cast.org_b.pk).exists()
    assert DeletionCertificate.objects.get().org_name == "Acme Praxis"


def _upload(cast, user):
    """An import uploaded and not yet started: the file holds every row, on disk."""
    org = cast.org_b if user == cast.mallory else cast.org_a
    with tenant_scope(org):
        job = import_upload(
            actor=cast.actor(user),
            object_type="contact",
            file_name="people.csv",
            stream=io.BytesIO(b"First name,Email\nGreta,greta@example.org\n"),
        )
    return Path(job.file_path)


def test_the_organisations_files_go_with_it_and_no_one_elses(cast, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "files"
    waiting, elsewhere = _upload(cast, cast.olive), _upload(cast, cast.mallory)
    (waiting.parent / f"{waiting.name}.dry-run").write_bytes(b"rows a dry run kept")
    assert waiting.parent == Path(settings.MEDIA_ROOT) / "imports" / str(cast.org_a.pk)
    _offboard(cast, tmp_path)

    (certificate,) = offboard_due(now=timezone.now() + timedelta(days=31))

    assert not waiting.parent.exists()
    assert elsewhere.read_bytes() == b"First name,Email\nGreta,greta@example.org\n"
    with tenant_scope(cast.org_b):
        assert ImportJob.objects.get().file_path == str(elsewhere)
    assert certificate.rows_deleted["crm.ImportJob"] == 1  # the certificate counts rows, as before
    assert [record["org"] for record in journal_read(DELETIONS)] == [str(cast.org_a.pk)]


def test_cancel_stops_a_scheduled_deletion(cast, tmp_path):
    _offboard(cast, tmp_path)

    call_command("tenant", "offboard", "--org", cast.org_a.slug, "--cancel", stdout=io.StringIO())

    assert offboard_due(now=timezone.now() + timedelta(days=31)) == []
    assert Organization.objects.get(pk=cast.org_a.pk).delete_after is None


def test_bad_offboarding_arguments_are_refused(cast):
    with pytest.raises(CommandError, match="--org"):
        call_command("tenant", "offboard", "--org", "nope", "--export", "x.zip")
    with pytest.raises(CommandError, match="--export"):
        call_command("tenant", "offboard", "--org", cast.org_a.slug)
    assert Organization.objects.get(pk=cast.org_a.pk).delete_after is None
