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

    class Privacy:
        subject = None
        fields: dict[str, str] = {}
        not_personal = ("id", "name", "slug", "country", "require_two_factor", "created_at")

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
