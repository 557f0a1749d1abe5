"""Imports of CSV and XLSX files: the job, its progress, and what undo needs."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from custos.core.fields import EncryptedTextField
from custos.core.personal_data import FREE_TEXT
from custos.core.tenancy import TenantModel


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
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    # Row number, field and reason only; the file itself says what the row held.
    rejected = models.JSONField(default=list, blank=True)
    # What undo needs: ids created, and the values an update replaced (personal: encrypted,
    # and cleared when the undo window closes).
    journal = EncryptedTextField(blank=True)
    error = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True)
    undone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    class Privacy:
        # An import holds many people's rows; the file is deleted once processed and the
        # journal once the undo window closes. The file name may name someone.
        subject = None
        fields = {"file_name": FREE_TEXT, "journal": FREE_TEXT}
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
            "created_count",
            "updated_count",
            "skipped_count",
            "rejected_count",
            "rejected",
            "error",
            "created_by",
            "created_at",
            "finished_at",
            "undone_at",
        )

    def __str__(self) -> str:
        return f"{self.object_type} import {self.pk}"


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
