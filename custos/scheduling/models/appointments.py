"""Appointments of a contact (patient or customer) with a practitioner, and recalls."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from custos.core.fields import EncryptedTextField
from custos.core.personal_data import DELETE, FREE_TEXT, SPECIAL
from custos.core.tenancy import TenantModel


class Appointment(TenantModel):
    class Status(models.TextChoices):
        BOOKED = "booked", pgettext_lazy("appointment status", "booked")
        CONFIRMED = "confirmed", pgettext_lazy("appointment status", "confirmed")
        DONE = "done", pgettext_lazy("appointment status", "done")
        NO_SHOW = "no_show", pgettext_lazy("appointment status", "no-show")
        CANCELLED = "cancelled", pgettext_lazy("appointment status", "cancelled")

    service = models.ForeignKey(
        "scheduling.Service", on_delete=models.PROTECT, related_name="appointments", verbose_name=_("service")
    )
    practitioner = models.ForeignKey(
        "scheduling.Practitioner",
        on_delete=models.PROTECT,
        related_name="appointments",
        verbose_name=_("practitioner"),
    )
    resource = models.ForeignKey(
        "scheduling.Resource", null=True, blank=True, on_delete=models.PROTECT, related_name="appointments"
    )
    # An appointment without its person means nothing, and would keep their details: it goes with them.
    contact = models.ForeignKey("crm.Contact", on_delete=models.CASCADE, related_name="appointments")
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.BOOKED)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    # The reason for the visit and clinical details: health data (Art. 9), encrypted, read audited.
    clinical_details = EncryptedTextField(_("reason and clinical details"), blank=True)
    send_reminder = models.BooleanField(_("send a reminder"), default=True)
    # Set when the reminder is handed to the mailer (and cleared again if that fails): sent once.
    reminder_sent_at = models.DateTimeField(null=True, blank=True)
    recall = models.ForeignKey(
        "scheduling.Recall", null=True, blank=True, on_delete=models.SET_NULL, related_name="appointments"
    )
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("appointment")
        verbose_name_plural = _("appointments")
        indexes = [
            models.Index(fields=["org", "practitioner", "starts_at"], name="appointment_practitioner_time"),
            models.Index(fields=["org", "resource", "starts_at"], name="appointment_resource_time"),
            models.Index(fields=["org", "contact", "starts_at"], name="appointment_contact_time"),
            models.Index(fields=["org", "status", "starts_at"], name="appointment_status_time"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(ends_at__gt=models.F("starts_at")), name="appointment_ends_later")
        ]

    class Privacy:
        subject = "contact__subject"
        details = ("service", "practitioner", "starts_at", "ends_at", "status")
        fields = {"notes": FREE_TEXT, "clinical_details": SPECIAL}
        not_personal = (
            "id",
            "org",
            "service",
            "practitioner",
            "resource",
            "contact",
            "starts_at",
            "ends_at",
            "status",
            "status_changed_at",
            "send_reminder",
            "reminder_sent_at",
            "recall",
            "booked_by",
            "created_at",
            "updated_at",
        )
        # Scheduling is not the clinical record (which has its own retention duty): erased with the person.
        on_erasure = DELETE
        retention = "appointment.past"

    def __str__(self) -> str:
        return f"{self.service_id} at {self.starts_at:%Y-%m-%d %H:%M}"

    @property
    def is_active(self) -> bool:
        """Whether it holds its time: cancelled and missed appointments free the slot."""
        return self.status in ACTIVE_STATUSES


ACTIVE_STATUSES = (Appointment.Status.BOOKED, Appointment.Status.CONFIRMED, Appointment.Status.DONE)


class Recall(TenantModel):
    """A person's next appointment of a service, due every so many months (a check-up)."""

    class Status(models.TextChoices):
        WAITING = "waiting", pgettext_lazy("recall status", "waiting")
        DUE = "due", pgettext_lazy("recall status", "due")
        BOOKED = "booked", pgettext_lazy("recall status", "booked")
        STOPPED = "stopped", pgettext_lazy("recall status", "stopped")

    contact = models.ForeignKey("crm.Contact", on_delete=models.CASCADE, related_name="recalls")
    service = models.ForeignKey(
        "scheduling.Service", on_delete=models.PROTECT, related_name="recalls", verbose_name=_("service")
    )
    interval_months = models.PositiveSmallIntegerField(_("every (months)"))
    due_on = models.DateField(_("due"))
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.WAITING)
    last_done_on = models.DateField(_("last done"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("recall")
        verbose_name_plural = _("recalls")
        constraints = [
            models.UniqueConstraint(fields=["org", "contact", "service"], name="recall_unique_contact_service")
        ]
        indexes = [models.Index(fields=["org", "status", "due_on"], name="recall_status_due")]

    class Privacy:
        subject = "contact__subject"
        details = ("service", "interval_months", "due_on", "status", "last_done_on")
        fields: dict[str, str] = {}
        not_personal = (
            "id",
            "org",
            "contact",
            "service",
            "interval_months",
            "due_on",
            "status",
            "last_done_on",
            "created_at",
            "updated_at",
        )
        on_erasure = DELETE
        retention = "recall.stopped"

    def __str__(self) -> str:
        return f"recall {self.service_id} due {self.due_on}"
