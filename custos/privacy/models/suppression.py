"""The suppression list: people who objected to marketing, kept only as salted hashes."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from custos.core.personal_data import CONTACT
from custos.core.tenancy import TenantModel


class Suppression(TenantModel):
    """A keyed hash of a normalised email or phone. Deliberately not linked to a subject:
    it must outlive the person's erasure, so that an import cannot bring them back."""

    class Kind(models.TextChoices):
        EMAIL = "email", "email"
        PHONE = "phone", "phone"

    kind = models.CharField(max_length=5, choices=Kind.choices)
    digest = models.CharField(max_length=64)
    reason = models.CharField(max_length=16)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "kind", "digest"], name="suppression_once")]

    class Privacy:
        subject = None
        # Pseudonymous: only someone holding the organisation's key can test an address.
        fields = {"digest": CONTACT}
        not_personal = ("id", "org", "kind", "reason", "created_at")

    def __str__(self) -> str:
        return f"{self.kind}:{self.digest[:8]}"
