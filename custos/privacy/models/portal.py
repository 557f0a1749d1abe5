"""Links into the self-service privacy portal: one person, time-limited, revocable."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from custos.core.personal_data import DELETE
from custos.core.tenancy import TenantModel
from custos.privacy.models.subjects import Subject


class PortalLink(TenantModel):
    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="+")
    # SHA-256 of the secret in the link; the secret itself is never stored.
    digest = models.CharField(max_length=64, unique=True)
    language = models.CharField(max_length=8, default="en")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["org", "subject"], name="portal_link_subject")]

    class Privacy:
        subject = "subject"
        fields: dict[str, str] = {}
        not_personal = (
            "id",
            "org",
            "subject",
            "digest",
            "language",
            "created_at",
            "expires_at",
            "revoked_at",
            "last_used_at",
            "created_by",
        )
        on_erasure = DELETE

    def __str__(self) -> str:
        return f"portal link {self.pk}"

    @property
    def is_valid(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()
