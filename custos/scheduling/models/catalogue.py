"""What appointments are made of: services, resources, practitioners, and the organisation's settings."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from custos.core.tenancy import TenantModel


class Resource(TenantModel):
    """A room, a chair or a piece of equipment that one appointment at a time can use."""

    class Kind(models.TextChoices):
        ROOM = "room", pgettext_lazy("resource kind", "room")
        CHAIR = "chair", pgettext_lazy("resource kind", "chair")
        EQUIPMENT = "equipment", pgettext_lazy("resource kind", "equipment")

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.ROOM)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "name"], name="resource_unique_name")]

    class Privacy:
        subject = None
        fields: dict[str, str] = {}
        not_personal = ("id", "org", "name", "kind", "is_active", "created_at", "updated_at")

    def __str__(self) -> str:
        return self.name


class Service(TenantModel):
    """Something a practice or team offers by appointment: how long it takes, what it costs."""

    name = models.CharField(_("name"), max_length=200)
    duration_minutes = models.PositiveIntegerField(_("duration (minutes)"))
    price = models.DecimalField(_("price"), max_digits=12, decimal_places=2, default=Decimal("0.00"))
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    # The kind of resource an appointment of this service usually takes (a chair for a check-up).
    resource_kind = models.CharField(_("resource kind"), max_length=12, choices=Resource.Kind.choices, blank=True)
    # A done appointment of this service schedules the person's next one this many months on.
    recall_months = models.PositiveSmallIntegerField(_("recall after (months)"), null=True, blank=True)
    # Hours before the start that the reminder goes out; the organisation's setting when empty.
    reminder_hours = models.PositiveSmallIntegerField(_("reminder (hours before)"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "name"], name="service_unique_name")]

    class Privacy:
        subject = None
        fields: dict[str, str] = {}
        not_personal = (
            "id",
            "org",
            "name",
            "duration_minutes",
            "price",
            "currency",
            "resource_kind",
            "recall_months",
            "reminder_hours",
            "is_active",
            "created_at",
            "updated_at",
        )

    def __str__(self) -> str:
        return self.name


class Practitioner(TenantModel):
    """A member who gives appointments. The row is also what a booking locks, so that two
    bookings of one person at the same time cannot both pass the conflict check."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "user"], name="practitioner_unique_user")]

    class Privacy:
        # Staff, not data subjects of the tenant: their name lives on the user (platform data).
        subject = None
        fields: dict[str, str] = {}
        not_personal = ("id", "org", "user", "is_active", "created_at", "updated_at")

    def __str__(self) -> str:
        return str(self.user)

    @property
    def public_name(self) -> str:
        """How a patient's access report names them: their name, never their sign-in address."""
        return self.user.full_name


class FeedDetail(models.TextChoices):
    """How much an event in a calendar feed says (see custos.scheduling.services.feeds)."""

    BUSY = "busy", _("Only that the time is booked")
    SERVICE = "service", _("The service")
    SERVICE_INITIALS = "service_initials", _("The service and the person's initials")


class SchedulingSettings(TenantModel):
    """The organisation's appointment settings; one row, created when first changed."""

    reminder_hours = models.PositiveSmallIntegerField(_("reminder (hours before)"), default=24)
    language = models.CharField(_("language of reminders"), max_length=8, choices=settings.LANGUAGES, default="en")
    time_zone = models.CharField(_("time zone of reminders"), max_length=64, default="Europe/Berlin")
    feed_detail = models.CharField(
        _("calendar feeds show"), max_length=20, choices=FeedDetail.choices, default=FeedDetail.SERVICE
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org"], name="scheduling_settings_unique_org")]

    class Privacy:
        subject = None
        fields: dict[str, str] = {}
        not_personal = ("id", "org", "reminder_hours", "language", "time_zone", "feed_detail", "updated_at")

    def __str__(self) -> str:
        return f"scheduling settings of {self.org_id}"
