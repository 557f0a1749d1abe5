"""Pipelines of ordered stages, and the deals that move through them."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from custos.core.fields import EncryptedTextField
from custos.core.personal_data import ANONYMISE, FINANCIAL, FREE_TEXT, SPECIAL
from custos.core.tenancy import TenantModel
from custos.crm.models.people import Searchable


class Pipeline(TenantModel):
    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveIntegerField(default=0)
    is_default = models.BooleanField(default=False)

    class Meta:
        ordering = ["position", "name"]
        constraints = [models.UniqueConstraint(fields=["org", "name"], name="pipeline_unique_name")]

    class Privacy:
        subject = None
        fields: dict[str, str] = {}
        not_personal = ("id", "org", "name", "position", "is_default")

    def __str__(self) -> str:
        return self.name


class Stage(TenantModel):
    class Outcome(models.TextChoices):
        OPEN = "open", _("open")
        WON = "won", _("won")
        LOST = "lost", _("lost")

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveIntegerField(default=0)
    probability = models.PositiveSmallIntegerField(
        _("probability (%)"), default=10, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    outcome = models.CharField(max_length=8, choices=Outcome.choices, default=Outcome.OPEN)

    class Meta:
        ordering = ["pipeline", "position"]

    class Privacy:
        subject = None
        fields: dict[str, str] = {}
        not_personal = ("id", "org", "pipeline", "name", "position", "probability", "outcome")

    def __str__(self) -> str:
        return self.name


class Deal(Searchable, TenantModel):
    class Status(models.TextChoices):
        OPEN = "open", _("open")
        WON = "won", _("won")
        LOST = "lost", _("lost")

    name = models.CharField(_("name"), max_length=200)
    pipeline = models.ForeignKey(Pipeline, on_delete=models.PROTECT, related_name="+", verbose_name=_("pipeline"))
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="+", verbose_name=_("stage"))
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2, null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    expected_close = models.DateField(_("expected close"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.OPEN)
    lost_reason = models.CharField(_("reason lost"), max_length=500, blank=True)
    closed_at = models.DateTimeField(_("closed on"), null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    company = models.ForeignKey("crm.Company", null=True, blank=True, on_delete=models.SET_NULL, related_name="deals")
    contact = models.ForeignKey("crm.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="deals")
    tags = models.JSONField(_("tags"), default=list, blank=True)
    custom_fields = models.JSONField(_("further fields"), default=dict, blank=True)
    # Values of custom fields declared special category, as encrypted JSON.
    custom_special = EncryptedTextField(_("further sensitive fields"), blank=True)
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("deal")
        verbose_name_plural = _("deals")
        indexes = [
            # A board's column: its newest cards first.
            models.Index(fields=["org", "pipeline", "stage", "updated_at", "id"], name="deal_org_board_newest"),
            models.Index(fields=["org", "owner", "id"], name="deal_org_owner"),
            models.Index(fields=["org", "id"], name="deal_org_id"),
            models.Index(fields=["org", "status", "expected_close"], name="deal_org_status_close"),
            models.Index(fields=["org", "contact"], name="deal_org_contact"),
            models.Index(fields=["org", "company", "id"], name="deal_org_company"),
        ]

    class Privacy:
        # A deal with a person reaches them through its contact; its name and notes may
        # mention them, and the amount is what they spend.
        subject = "contact__subject"
        details = ("pipeline", "stage", "currency", "status", "expected_close", "closed_at")
        fields = {
            "name": FREE_TEXT,
            "amount": FINANCIAL,
            "lost_reason": FREE_TEXT,
            "tags": FREE_TEXT,
            "custom_fields": FREE_TEXT,
            "custom_special": SPECIAL,
            "notes": FREE_TEXT,
        }
        not_personal = (
            "id",
            "org",
            "pipeline",
            "stage",
            "currency",
            "expected_close",
            "status",
            "closed_at",
            "owner",
            "company",
            "contact",
            "created_at",
            "updated_at",
        )
        copies = ("search_text",)
        on_erasure = ANONYMISE
        retention = "deal.closed"

    def __str__(self) -> str:
        return self.name


class DealStageChange(TenantModel):
    """One move of a deal between stages: the history the board does not show."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.ForeignKey(Stage, null=True, on_delete=models.SET_NULL, related_name="+")
    to_stage = models.ForeignKey(Stage, null=True, on_delete=models.SET_NULL, related_name="+")
    changed_at = models.DateTimeField(default=timezone.now)
    actor_user_id = models.UUIDField(null=True, blank=True)

    class Meta:
        ordering = ["changed_at"]
        indexes = [models.Index(fields=["org", "deal", "changed_at"], name="deal_stage_change_deal")]

    class Privacy:
        subject = None
        fields: dict[str, str] = {}
        not_personal = ("id", "org", "deal", "from_stage", "to_stage", "changed_at", "actor_user_id")

    def __str__(self) -> str:
        return f"{self.deal_id}: {self.from_stage_id} → {self.to_stage_id}"
