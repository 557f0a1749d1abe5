"""Retention policies per record type, and the report of every run."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from custos.core.tenancy import TenantModel


class RetentionPolicy(TenantModel):
    class Condition(models.TextChoices):
        CREATED = "created", _("time since creation")
        INACTIVE = "inactive", _("time since the last change or activity")
        # Counted from the person, whichever record type the policy governs.
        DEAL_LOST = "deal_lost", _("time since the person's deals were lost")
        CONTRACT_END = "contract_end", _("time since the person's contract ended")

    class Action(models.TextChoices):
        ANONYMISE = "anonymise", _("anonymise")
        DELETE = "delete", _("delete")

    # The declaration's retention key, e.g. "contact.inactive": which records it governs.
    key = models.CharField(_("record type"), max_length=60)
    condition = models.CharField(_("condition"), max_length=12, choices=Condition.choices)
    days = models.PositiveIntegerField(_("after days"))
    action = models.CharField(_("action"), max_length=10, choices=Action.choices)
    is_enabled = models.BooleanField(_("enabled"), default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_run_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "key"], name="retention_policy_unique_key")]

    class Privacy:
        subject = None
        fields: dict[str, str] = {}
        not_personal = ("id", "org", "key", "condition", "days", "action", "is_enabled", "created_at", "last_run_at")

    def __str__(self) -> str:
        return self.key


class RetentionRun(TenantModel):
    policy = models.ForeignKey(RetentionPolicy, on_delete=models.CASCADE, related_name="runs")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    is_preview = models.BooleanField(default=False)
    matched = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    held = models.PositiveIntegerField(default=0)

    class Privacy:
        subject = None
        fields: dict[str, str] = {}
        not_personal = (
            "id",
            "org",
            "policy",
            "started_at",
            "finished_at",
            "is_preview",
            "matched",
            "processed",
            "held",
        )

    def __str__(self) -> str:
        return f"{self.policy_id} {self.started_at:%Y-%m-%d}"
