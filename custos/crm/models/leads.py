"""Leads: people who may become customers, before they are contacts."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from custos.core.fields import EncryptedTextField
from custos.core.personal_data import ANONYMISE, CONTACT, FREE_TEXT, IDENTITY, SPECIAL
from custos.core.tenancy import TenantModel
from custos.crm.models.people import ADDRESS, PostalAddress, Searchable
from custos.privacy.models import Subject


class Lead(PostalAddress, Searchable, TenantModel):
    class Status(models.TextChoices):
        NEW = "new", _("new")
        CONTACTED = "contacted", _("contacted")
        QUALIFIED = "qualified", _("qualified")
        DISQUALIFIED = "disqualified", _("disqualified")
        CONVERTED = "converted", _("converted")

    class AssignedBecause(models.TextChoices):
        NEXT_IN_TURN = "next_in_turn", _("next in turn under the rule")
        UNTOUCHED = "untouched", _("reassigned: untouched for too long")

    class Source(models.TextChoices):
        MANUAL = "manual", _("entered by hand")
        WEB_FORM = "web_form", _("web form")
        IMPORT = "import", _("import")
        API = "api", _("API")
        REFERRAL = "referral", _("referral")
        EVENT = "event", _("event")
        OTHER = "other", _("other")

    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="+")
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    company_name = models.CharField(_("company"), max_length=200, blank=True)
    job_title = models.CharField(_("job title"), max_length=100, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.NEW)
    disqualified_reason = models.CharField(_("reason"), max_length=500, blank=True)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices, default=Source.MANUAL)
    interest = models.CharField(_("interest"), max_length=500, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    score = models.IntegerField(_("score"), default=0)
    score_reasons = models.JSONField(_("reasons for the score"), default=list, blank=True)
    assigned_at = models.DateTimeField(null=True, blank=True)
    assignment_rule = models.ForeignKey(
        "crm.AssignmentRule", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assigned_because = models.CharField(max_length=16, choices=AssignedBecause.choices, blank=True)
    tags = models.JSONField(_("tags"), default=list, blank=True)
    custom_fields = models.JSONField(_("further fields"), default=dict, blank=True)
    # Values of custom fields declared special category, as encrypted JSON.
    custom_special = EncryptedTextField(_("further sensitive fields"), blank=True)
    notes = models.TextField(_("notes"), blank=True)
    converted_at = models.DateTimeField(_("converted on"), null=True, blank=True)
    converted_contact = models.ForeignKey(
        "crm.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    converted_deal = models.ForeignKey("crm.Deal", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        indexes = [
            models.Index(fields=["org", "status", "-created_at"], name="lead_org_status"),
            # The dashboard's funnel and sources: leads counted, and the converted ones' deals
            # found, from the index alone.
            models.Index(fields=["org", "status", "source", "converted_deal"], name="lead_org_status_source"),
            models.Index(fields=["org", "owner", "id"], name="lead_org_owner"),
            models.Index(fields=["org", "subject"], name="lead_org_subject"),
            models.Index(F("org"), Lower("email"), name="lead_org_email_lower"),
            models.Index(fields=["org", "country", "id"], name="lead_org_country"),
            models.Index(fields=["org", "id"], name="lead_org_id"),
        ]

    class Privacy:
        subject = "subject"
        details = ("status", "source", "converted_at")
        fields = {
            "first_name": IDENTITY,
            "last_name": IDENTITY,
            "email": CONTACT,
            "phone": CONTACT,
            "company_name": IDENTITY,
            "job_title": IDENTITY,
            "disqualified_reason": FREE_TEXT,
            "interest": FREE_TEXT,
            "tags": FREE_TEXT,
            "custom_fields": FREE_TEXT,
            "custom_special": SPECIAL,
            "notes": FREE_TEXT,
            **ADDRESS,
        }
        not_personal = (
            "id",
            "org",
            "subject",
            "status",
            "source",
            "owner",
            "score",
            "score_reasons",
            "assigned_at",
            "assignment_rule",
            "assigned_because",
            "converted_at",
            "converted_contact",
            "converted_deal",
            "created_at",
            "updated_at",
        )
        copies = ("search_text",)
        on_erasure = ANONYMISE
        retention = "lead.inactive"
        profiling = ("score", "score_reasons")

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email or self.company_name
