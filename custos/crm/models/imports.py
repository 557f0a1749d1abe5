"""Imports of CSV and XLSX files: the job, its progress, and what undo needs."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from custos.core.fields import EncryptedTextField
from custos.core.personal_data import DELETE, FREE_TEXT, SPECIAL
from custos.core.tenancy import TenantModel
from custos.privacy.models import Subject


class ImportJob(TenantModel):
    """One file being imported. Rows are processed in batches; the checkpoint lets an
    interrupted job resume where it stopped instead of starting over."""

    class Status(models.TextChoices):
        UPLOADED = "uploaded", _("uploaded")
        RUNNING = "running", _("running")
        COMPLETED = "completed", _("completed")
        FAILED = "failed", _("failed")
        UNDONE = "undone", _("undone")

    class Duplicates(models.TextChoices):
        SKIP = "skip", _("skip the row")
        UPDATE = "update", _("update the existing record")
        CREATE = "create", _("create another record")

    object_type = models.CharField(max_length=16)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.UPLOADED)
    file_name = models.CharField(max_length=255)
    file_path = models.CharField(max_length=500, blank=True)
    file_sha256 = models.CharField(max_length=64)
    file_format = models.CharField(max_length=8)
    encoding = models.CharField(max_length=16, blank=True)
    delimiter = models.CharField(max_length=2, blank=True)
    headers = models.JSONField(default=list)
    mapping = models.JSONField(default=dict, blank=True)
    duplicates = models.CharField(max_length=8, choices=Duplicates.choices, default=Duplicates.SKIP)
    dry_run = models.BooleanField(default=False)
    total_rows = models.PositiveIntegerField(default=0)
    checkpoint = models.PositiveIntegerField(default=0)
    # When the checkpoint last moved (or the job started), and how often a worker was given the
    # job again since: a running job standing still has lost its worker (`imports_resume`).
    progressed_at = models.DateTimeField(null=True, blank=True)
    resumes = models.PositiveSmallIntegerField(default=0)
    # The language the import was started in: the rejected rows' reasons are written in it
    # where the member who started it chose no language of their own.
    language = models.CharField(max_length=8, blank=True)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    # Rows of people on the suppression list (objected or erased), imported flagged.
    suppressed_count = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    # Until when undo may run: set when a written import finishes, emptied (with its journal)
    # when the window closes or the import is undone.
    undo_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    class Privacy:
        # An import holds many people's rows; the file is deleted once processed and the
        # journal (`ImportJournalEntry`) once the undo window closes. The file name may name someone.
        subject = None
        fields = {"file_name": FREE_TEXT}
        not_personal = (
            "id",
            "org",
            "object_type",
            "status",
            "file_path",
            "file_sha256",
            "file_format",
            "encoding",
            "delimiter",
            "headers",
            "mapping",
            "duplicates",
            "dry_run",
            "total_rows",
            "checkpoint",
            "progressed_at",
            "resumes",
            "language",
            "created_count",
            "updated_count",
            "skipped_count",
            "rejected_count",
            "suppressed_count",
            "error",
            "created_by",
            "created_at",
            "finished_at",
            "undone_at",
            "undo_until",
        )

    @property
    def undoable(self) -> bool:
        """Finished, written, and still inside its undo window."""
        return (
            self.status == self.Status.COMPLETED
            and not self.dry_run
            and self.undo_until is not None
            and self.undo_until > timezone.now()
        )

    def __str__(self) -> str:
        return f"{self.object_type} import {self.pk}"


class ImportJournalEntry(TenantModel):
    """One record an import created or changed, for its undo: a row per record, appended with
    the batch that wrote it (and rolled back with it), deleted when the undo window closes.

    An update's entry holds the values it replaced, encrypted, and belongs to that person:
    their erasure deletes it, so a replaced value never outlives the person in a journal."""

    class Kind(models.TextChoices):
        CREATED = "created", _("created")
        UPDATED = "updated", _("updated")

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="+", db_index=False)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    object_type = models.CharField(max_length=16)  # a model name: contact, company, contactpoint
    object_id = models.UUIDField()
    subject = models.ForeignKey(Subject, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    # An update's replaced values as JSON, field by field (a health note too): encrypted.
    previous = EncryptedTextField(_("values an import replaced"), blank=True)

    class Meta:
        verbose_name = _("import journal entry")
        verbose_name_plural = _("import journal entries")
        # Undo and the window's end read a job's entries in id order; undo also asks whether a
        # record has a journaled update, which would otherwise scan the whole job's journal.
        indexes = [
            models.Index(fields=["job", "id"], name="import_journal_job"),
            models.Index(fields=["job", "object_id"], name="import_journal_job_object"),
        ]

    class Privacy:
        subject = "subject"
        fields = {"previous": SPECIAL}
        not_personal = ("id", "org", "job", "kind", "object_type", "object_id", "subject")
        on_erasure = DELETE

    def __str__(self) -> str:
        return f"{self.kind} {self.object_type} {self.object_id}"


class ImportRejectedRow(TenantModel):
    """One reason a row of an import was rejected: its line number, the field and the message.
    The messages say what is wrong and never quote the value (the file holds it)."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="+", db_index=False)
    row = models.PositiveIntegerField()
    field = models.CharField(max_length=100, blank=True)
    message = models.CharField(max_length=500)

    class Meta:
        indexes = [models.Index(fields=["job", "row", "id"], name="import_rejected_job_row")]

    class Privacy:
        subject = None
        fields: dict[str, str] = {}
        not_personal = ("id", "org", "job", "row", "field", "message")

    def __str__(self) -> str:
        return f"row {self.row}: {self.field}"


class ImportMapping(TenantModel):
    """A column mapping remembered for the next file with the same headers."""

    object_type = models.CharField(max_length=16)
    headers_key = models.CharField(max_length=64)
    mapping = models.JSONField(default=dict)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "object_type", "headers_key"], name="import_mapping_unique")
        ]

    class Privacy:
        subject = None
        fields: dict[str, str] = {}
        not_personal = ("id", "org", "object_type", "headers_key", "mapping", "updated_at")

    def __str__(self) -> str:
        return f"{self.object_type} mapping {self.headers_key[:8]}"
