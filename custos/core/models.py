from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from custos.core.ids import uuid7
from custos.core.tenancy import TenantModel


class Organization(models.Model):
    """A tenant: one customer of Custos and everything it holds."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("short name"), max_length=60, unique=True)
    country = models.CharField(_("country"), max_length=2, default="DE")
    require_two_factor = models.BooleanField(_("require two-factor sign-in for everyone"), default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Offboarding: when the contract ends, everything goes after a grace period.
    offboarding_since = models.DateTimeField(null=True, blank=True)
    delete_after = models.DateTimeField(null=True, blank=True)

    class Privacy:
        subject = None
        fields: dict[str, str] = {}
        not_personal = (
            "id",
            "name",
            "slug",
            "country",
            "require_two_factor",
            "created_at",
            "offboarding_since",
            "delete_after",
        )

    def __str__(self) -> str:
        return self.name


class DataKey(TenantModel):
    """An organisation's data key, wrapped by a master key that never enters the database."""

    version = models.PositiveIntegerField()
    wrapped = models.TextField()
    master_key_id = models.CharField(max_length=16)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "version"], name="data_key_unique_version")]

    class Privacy:
        subject = None
        fields: dict[str, str] = {}
        not_personal = ("id", "org", "version", "wrapped", "master_key_id", "created_at")


class PeriodicRun(models.Model):
    """One enqueued run of a periodic job; the unique slot stops two schedulers doubling it."""

    name = models.CharField(max_length=100)
    slot = models.DateTimeField()
    enqueued_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["name", "slot"], name="periodic_run_unique_slot")]

    def __str__(self) -> str:
        return f"{self.name} @ {self.slot:%Y-%m-%d %H:%M}"

    class Privacy:
        subject = None
        fields: dict[str, str] = {}
        not_personal = ("id", "name", "slot", "enqueued_at")


class DeletionCertificate(models.Model):
    """Proof that an organisation's data, files and keys were deleted; outlives the tenant."""

    org_id = models.UUIDField()
    org_name = models.CharField(max_length=200)
    offboarding_since = models.DateTimeField()
    deleted_at = models.DateTimeField(default=timezone.now)
    rows_deleted = models.JSONField(default=dict)
    keys_destroyed = models.PositiveIntegerField(default=0)
    digest = models.CharField(max_length=64)

    class Privacy:
        subject = None
        fields: dict[str, str] = {}
        not_personal = (
            "id",
            "org_id",
            "org_name",
            "offboarding_since",
            "deleted_at",
            "rows_deleted",
            "keys_destroyed",
            "digest",
        )

    def __str__(self) -> str:
        return f"deletion of {self.org_name} on {self.deleted_at:%Y-%m-%d}"
