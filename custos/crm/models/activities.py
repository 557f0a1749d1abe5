"""Notes, tasks, calls, logged emails and meetings: the timeline of any record."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from custos.core.personal_data import DELETE, FREE_TEXT
from custos.core.tenancy import TenantModel


class Activity(TenantModel):
    class Kind(models.TextChoices):
        NOTE = "note", pgettext_lazy("activity kind", "note")
        TASK = "task", pgettext_lazy("activity kind", "task")
        CALL = "call", pgettext_lazy("activity kind", "call")
        EMAIL = "email", pgettext_lazy("activity kind", "email")
        MEETING = "meeting", pgettext_lazy("activity kind", "meeting")

    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.NOTE)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("details"), blank=True)
    occurred_at = models.DateTimeField(_("when"), default=timezone.now)
    duration_minutes = models.PositiveIntegerField(_("duration (minutes)"), null=True, blank=True)
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    reminder_at = models.DateTimeField(_("reminder"), null=True, blank=True)
    # When the reminder was claimed for mailing to the assignee; cleared when the reminder moves.
    reminded_at = models.DateTimeField(null=True, blank=True, editable=False)
    done_at = models.DateTimeField(_("done"), null=True, blank=True)
    # Whom it belongs to: the assignee of a task, the author of a note.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    contact = models.ForeignKey(
        "crm.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="activities"
    )
    company = models.ForeignKey(
        "crm.Company", null=True, blank=True, on_delete=models.SET_NULL, related_name="activities"
    )
    lead = models.ForeignKey("crm.Lead", null=True, blank=True, on_delete=models.SET_NULL, related_name="activities")
    deal = models.ForeignKey("crm.Deal", null=True, blank=True, on_delete=models.SET_NULL, related_name="activities")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        indexes = [
            models.Index(fields=["org", "contact", "-occurred_at"], name="activity_contact_timeline"),
            models.Index(fields=["org", "company", "-occurred_at"], name="activity_company_timeline"),
            models.Index(fields=["org", "lead", "-occurred_at"], name="activity_lead_timeline"),
            models.Index(fields=["org", "deal", "-occurred_at"], name="activity_deal_timeline"),
            models.Index(fields=["org", "owner", "done_at", "due_at"], name="activity_owner_due"),
            # Open tasks only (a small part of millions of activities): my day, the tasks due
            # on the dashboard and in the menu, whether for one owner or for everyone's.
            models.Index(
                fields=["org", "owner", "due_at"],
                condition=models.Q(kind="task", done_at__isnull=True),
                name="activity_open_tasks",
            ),
            # Reminders not yet sent: the job every few minutes reads these few, not every task.
            models.Index(
                fields=["org", "reminder_at"],
                condition=models.Q(kind="task", done_at__isnull=True, reminded_at__isnull=True),
                name="activity_reminders_due",
            ),
        ]

    class Privacy:
        # On a person's timeline, whether as a contact or still as a lead, or on their deal.
        subject = ("contact__subject", "lead__subject", "deal__contact__subject")
        details = ("kind", "occurred_at", "due_at", "done_at")
        fields = {"title": FREE_TEXT, "body": FREE_TEXT}
        not_personal = (
            "id",
            "org",
            "kind",
            "occurred_at",
            "duration_minutes",
            "due_at",
            "reminder_at",
            "reminded_at",
            "done_at",
            "owner",
            "contact",
            "company",
            "lead",
            "deal",
            "created_at",
            "updated_at",
        )
        on_erasure = DELETE
        retention = "activity.old"

    def __str__(self) -> str:
        return self.title

    @property
    def is_open_task(self) -> bool:
        return self.kind == self.Kind.TASK and self.done_at is None
