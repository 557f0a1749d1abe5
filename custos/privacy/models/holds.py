"""What erasure must not touch: legal holds on a person, and records kept by law."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from custos.core.personal_data import FREE_TEXT
from custos.core.tenancy import TenantModel
from custos.privacy.models.subjects import Subject


class LegalHold(TenantModel):
    """A reason (litigation, an authority's order) to keep a person's data for now:
    erasure and retention leave them alone until the hold is released or ends."""

    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(
        _("reason"),
    )
    until = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("legal hold")
        verbose_name_plural = _("legal holds")
        indexes = [models.Index(fields=["org", "subject"], name="legal_hold_subject")]

    class Privacy:
        subject = "subject"
        fields = {"reason": FREE_TEXT}
        not_personal = ("id", "org", "subject", "until", "created_at", "created_by", "released_at")
        on_erasure = "keep_restricted"

    def __str__(self) -> str:
        return f"hold {self.subject_id}"


class KeptRecord(TenantModel):
    """A record an erasure kept because the law says so, restricted, and when it goes."""

    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="+")
    object_type = models.CharField(max_length=60)  # model label
    object_id = models.CharField(max_length=40)
    reason = models.CharField(max_length=200)
    keep_until = models.DateField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "object_type", "object_id"], name="kept_record_once"),
        ]
        indexes = [models.Index(fields=["org", "keep_until"], name="kept_record_until")]

    class Privacy:
        subject = "subject"
        fields: dict[str, str] = {}
        not_personal = (
            "id",
            "org",
            "subject",
            "object_type",
            "object_id",
            "reason",
            "keep_until",
            "created_at",
            "deleted_at",
        )
        on_erasure = "keep_restricted"

    def __str__(self) -> str:
        return f"{self.object_type}:{self.object_id}"
