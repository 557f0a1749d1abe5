"""The breach register (Art. 33 to 34): incidents, their 72-hour clock, the people affected."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from custos.core.personal_data import ANONYMISE, FREE_TEXT
from custos.core.tenancy import TenantModel
from custos.privacy.models.subjects import Subject

AUTHORITY_DEADLINE = timedelta(hours=72)


class Breach(TenantModel):
    class Status(models.TextChoices):
        OPEN = "open", _("open")
        CLOSED = "closed", _("closed")

    title = models.CharField(_("title"), max_length=200)
    aware_at = models.DateTimeField(_("became aware at"))
    occurred_at = models.DateTimeField(_("occurred at"), null=True, blank=True)
    nature = models.TextField(_("nature of the breach"), blank=True)
    # Category values of custos.core.personal_data.
    data_categories = models.JSONField(default=list, blank=True)
    person_categories = models.TextField(_("categories of persons"), blank=True)
    approx_persons = models.PositiveIntegerField(_("approximate number of persons"), null=True, blank=True)
    approx_records = models.PositiveIntegerField(_("approximate number of records"), null=True, blank=True)
    consequences = models.TextField(_("likely consequences"), blank=True)
    measures = models.TextField(_("measures taken or proposed"), blank=True)
    authority_notified_at = models.DateTimeField(null=True, blank=True)
    persons_notified_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    # Which reminders of the 72-hour clock went to the privacy officers ("24h", "overdue").
    clock_reminders = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Privacy:
        subject = None
        # Descriptions written by staff; they may name people.
        fields = {"nature": FREE_TEXT, "consequences": FREE_TEXT, "measures": FREE_TEXT, "person_categories": FREE_TEXT}
        not_personal = (
            "id",
            "org",
            "title",
            "aware_at",
            "occurred_at",
            "data_categories",
            "approx_persons",
            "approx_records",
            "authority_notified_at",
            "persons_notified_at",
            "status",
            "clock_reminders",
            "created_at",
            "created_by",
        )

    def __str__(self) -> str:
        return self.title

    @property
    def authority_due_at(self):  # type: ignore[no-untyped-def]  # a datetime
        return self.aware_at + AUTHORITY_DEADLINE


class BreachSubject(TenantModel):
    """A person affected by a breach, and when they were told."""

    breach = models.ForeignKey(Breach, on_delete=models.CASCADE, related_name="affected")
    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="+")
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["breach", "subject"], name="breach_subject_once")]

    class Privacy:
        subject = "subject"
        fields: dict[str, str] = {}
        not_personal = ("id", "org", "breach", "subject", "notified_at")
        # The register must show the breach touched someone: the pseudonymous link stays.
        on_erasure = ANONYMISE

    def __str__(self) -> str:
        return f"{self.breach_id}:{self.subject_id}"
