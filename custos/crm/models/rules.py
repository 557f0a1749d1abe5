"""The organisation's own rules for leads: points for scoring, and who gets which lead."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from custos.core.tenancy import TenantModel


class ScoringRule(TenantModel):
    """Points a lead earns (or loses) when a condition holds; the score lists each rule's share."""

    class Condition(models.TextChoices):
        FIELD_EQUALS = "field_equals", _("a field has a value")
        FIELD_CONTAINS = "field_contains", _("a field contains a text")
        TAG = "tag", _("it has a tag")
        RECENT_ACTIVITY = "recent_activity", _("something happened with it recently")
        FIELD_AT_LEAST = "field_at_least", _("a number field is at least")
        CAME_FROM_FORM = "came_from_form", _("it came through a web form")

    name = models.CharField(_("name"), max_length=100)
    condition = models.CharField(_("condition"), max_length=20, choices=Condition.choices)
    # A lead field, or "custom:<key>" for a custom field (such as company size).
    field = models.CharField(_("field"), max_length=60, blank=True)
    value = models.CharField(_("value"), max_length=200, blank=True)
    days = models.PositiveIntegerField(_("within days"), default=7)
    points = models.IntegerField(_("points"))
    is_active = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]

    class Privacy:
        # A rule names criteria ("country is DE"), never a person.
        subject = None
        fields: dict[str, str] = {}
        not_personal = ("id", "org", "name", "condition", "field", "value", "days", "points", "is_active", "position")

    def __str__(self) -> str:
        return self.name


class AssignmentRule(TenantModel):
    """Which reps may get a lead that matches; the first matching rule decides, round robin."""

    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveIntegerField(default=0)
    countries = models.JSONField(default=list, blank=True)
    postcode_prefixes = models.JSONField(default=list, blank=True)
    sources = models.JSONField(default=list, blank=True)
    interest_contains = models.CharField(max_length=100, blank=True)
    reps = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="+")
    is_active = models.BooleanField(default=True)
    reassign_after_hours = models.PositiveIntegerField(_("reassign when untouched for (hours)"), null=True, blank=True)
    last_assigned = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["position", "name"]

    class Privacy:
        subject = None
        fields: dict[str, str] = {}
        not_personal = (
            "id",
            "org",
            "name",
            "position",
            "countries",
            "postcode_prefixes",
            "sources",
            "interest_contains",
            "reps",
            "is_active",
            "reassign_after_hours",
            "last_assigned",
        )

    def __str__(self) -> str:
        return self.name


class RepCapacity(TenantModel):
    """How many open leads a rep may hold, and when they are away (no new leads then)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    max_open_leads = models.PositiveIntegerField(null=True, blank=True)
    away_from = models.DateField(null=True, blank=True)
    away_until = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "user"], name="rep_capacity_unique_user")]

    class Privacy:
        # When a member is away is about staff, handled like their account.
        subject = None
        fields: dict[str, str] = {}
        not_personal = ("id", "org", "user", "max_open_leads", "away_from", "away_until")

    def __str__(self) -> str:
        return f"{self.user_id}: {self.max_open_leads}"

    def is_away(self, day: object = None) -> bool:
        today = day or timezone.localdate()
        return bool(self.away_from and self.away_until and self.away_from <= today <= self.away_until)  # type: ignore[operator]
