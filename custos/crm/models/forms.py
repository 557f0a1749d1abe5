"""Web-to-lead forms: what a public form asks, and the record of what it received."""

from __future__ import annotations

import secrets

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from custos.core.ids import org_token
from custos.core.personal_data import DELETE, ONLINE_IDENTIFIER
from custos.core.tenancy import TenantModel, require_org_id
from custos.privacy.models import Purpose

# The lead fields a form may ask, in the order a form shows them.
ASKABLE_FIELDS = ("first_name", "last_name", "email", "phone", "company_name", "job_title", "interest", "country")


def new_public_key() -> str:
    """The form's public address part: its organisation (see `org_token`), then 12 random bytes,
    unguessable, so forms cannot be enumerated. Made inside the organisation's scope."""
    return org_token(require_org_id(), secrets.token_urlsafe(12))


class LeadForm(TenantModel):
    """A form visitors fill in on the organisation's website; each submission becomes a lead."""

    name = models.CharField(_("name"), max_length=100)
    public_key = models.CharField(max_length=40, unique=True, default=new_public_key, editable=False)
    # [{"name": "email", "required": true}, …] in the order shown; names from ASKABLE_FIELDS.
    fields = models.JSONField(default=list)
    purposes = models.ManyToManyField(Purpose, blank=True, related_name="+")
    # Language code → the text shown after a submission.
    thank_you = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    class Privacy:
        subject = None
        fields: dict[str, str] = {}
        not_personal = (
            "id",
            "org",
            "name",
            "public_key",
            "fields",
            "purposes",
            "thank_you",
            "tags",
            "is_active",
            "created_at",
        )

    def __str__(self) -> str:
        return self.name

    def asks(self, name: str) -> bool:
        return any(item.get("name") == name for item in self.fields)

    def requires(self, name: str) -> bool:
        return any(item.get("name") == name and item.get("required") for item in self.fields)


class LeadFormSubmission(TenantModel):
    """That a form brought a lead, so a form's submissions can be listed. The lead and its
    consent events are the record of what was said; this row only links them to the form."""

    form = models.ForeignKey(LeadForm, on_delete=models.CASCADE, related_name="submissions", verbose_name=_("web form"))
    lead = models.ForeignKey("crm.Lead", on_delete=models.CASCADE, related_name="+")
    submitted_at = models.DateTimeField(_("submitted on"), default=timezone.now)
    ip = models.GenericIPAddressField(_("network address"), null=True, blank=True)

    class Meta:
        verbose_name = _("web form submission")
        verbose_name_plural = _("web form submissions")
        indexes = [models.Index(fields=["org", "form", "-submitted_at"], name="lead_form_submissions")]

    class Privacy:
        subject = "lead__subject"
        details = ("form", "submitted_at")
        fields = {"ip": ONLINE_IDENTIFIER}
        not_personal = ("id", "org", "form", "lead", "submitted_at")
        on_erasure = DELETE

    def __str__(self) -> str:
        return f"{self.form_id} {self.submitted_at:%Y-%m-%d}"
