"""Data-subject requests (Art. 15 to 22) and the organisation's privacy settings."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from custos.core.personal_data import ANONYMISE, CONTACT, FREE_TEXT, Category
from custos.core.tenancy import TenantModel
from custos.privacy.models.subjects import Subject

# What the self-service portal shows by default: every kind of data (Art. 15 entitles the
# person to all of it); what the person may correct there: identity and contact details.
# Special-category and free-text data are corrected by staff, through a rectification request.
PORTAL_EDITABLE_CHOICES = (Category.IDENTITY, Category.CONTACT)


def default_portal_visible() -> list[str]:
    return [str(category) for category in Category]


def default_portal_editable() -> list[str]:
    return [str(category) for category in PORTAL_EDITABLE_CHOICES]


class PrivacySettings(TenantModel):
    """One row per organisation; absent means the defaults below."""

    # What the controller publishes about itself: a sole practitioner's name and address, a
    # data protection officer's; contact details, kept with the organisation.

    request_days = models.PositiveIntegerField(_("days to answer a request"), default=30)
    reminder_days = models.PositiveIntegerField(_("remind this many days before the deadline"), default=7)
    portal_link_days = models.PositiveIntegerField(_("days a portal link stays valid"), default=7)
    invoice_keep_years = models.PositiveIntegerField(_("years issued invoices are kept"), default=10)
    inform_recipients = models.BooleanField(
        _("inform recipients of rectifications, erasures and restrictions"), default=False
    )
    # Category values of custos.core.personal_data.
    portal_visible = models.JSONField(_("data shown in the portal"), default=default_portal_visible)
    portal_editable = models.JSONField(_("data the person may correct in the portal"), default=default_portal_editable)
    # Art. 13(1)(a)(b) and 30(1)(a): who is responsible and how to reach them, in the notice and the record.
    controller_contact = models.TextField(_("address and contact for privacy matters"), blank=True)
    dpo_contact = models.TextField(_("data protection officer"), blank=True)
    # A closed request is proof of how it was answered; after these years it keeps no more than
    # its kind, dates and outcome (`requests_forget`).
    request_keep_years = models.PositiveSmallIntegerField(
        _("years a closed request keeps the requester's details"), default=3
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org"], name="privacy_settings_once")]

    class Privacy:
        subject = None
        fields = {"controller_contact": CONTACT, "dpo_contact": CONTACT}
        not_personal = (
            "id",
            "org",
            "request_days",
            "reminder_days",
            "portal_link_days",
            "invoice_keep_years",
            "inform_recipients",
            "portal_visible",
            "portal_editable",
            "request_keep_years",
        )


class PrivacyRequest(TenantModel):
    class Kind(models.TextChoices):
        ACCESS = "access", _("Access")
        RECTIFICATION = "rectification", _("Rectification")
        ERASURE = "erasure", _("Erasure")
        RESTRICTION = "restriction", _("Restriction")
        PORTABILITY = "portability", _("Portability")
        OBJECTION = "objection", _("Objection")

    class Status(models.TextChoices):
        RECEIVED = "received", _("received")
        VERIFIED = "verified", _("verified")
        IN_PROGRESS = "in_progress", _("in progress")
        COMPLETED = "completed", _("completed")
        REJECTED = "rejected", _("rejected")

    class Source(models.TextChoices):
        STAFF = "staff", _("Staff")
        API = "api", _("API")
        PORTAL = "portal", _("Privacy portal")

    class Verification(models.TextChoices):
        EMAIL = "email", _("possession of the email on record")
        STAFF = "staff", _("confirmed by staff")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.RECEIVED)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.STAFF)
    # Null when the email matches nobody: the request is kept and answered all the same.
    subject = models.ForeignKey(Subject, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    email = models.EmailField(_("email"), blank=True)
    language = models.CharField(max_length=8, default="en")
    # Objection: "marketing" or "profiling"; rectification: the corrections asked for.
    details = models.JSONField(_("details"), default=dict, blank=True)
    received_at = models.DateTimeField(_("received on"), default=timezone.now)
    due_at = models.DateTimeField(_("due"))
    extended_at = models.DateTimeField(null=True, blank=True)
    extension_reason = models.TextField(blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    verification = models.CharField(max_length=8, choices=Verification.choices, blank=True)
    verification_reason = models.TextField(_("how the identity was verified"), blank=True)
    verification_digest = models.CharField(max_length=64, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    handler = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    completed_at = models.DateTimeField(_("completed on"), null=True, blank=True)
    rejection_reason = models.TextField(blank=True)
    # What was done: record types, counts, reasons and dates; never personal values.
    result = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("privacy request")
        verbose_name_plural = _("privacy requests")
        indexes = [
            models.Index(fields=["org", "status", "due_at"], name="privacy_request_due"),
            models.Index(fields=["org", "subject"], name="privacy_request_subject"),
            models.Index(fields=["org", "verification_digest"], name="privacy_request_verification"),
        ]

    class Privacy:
        subject = "subject"
        details = ("kind", "status", "received_at", "due_at", "completed_at")
        fields = {"email": CONTACT, "details": FREE_TEXT, "verification_reason": FREE_TEXT}
        not_personal = (
            "id",
            "org",
            "kind",
            "status",
            "source",
            "subject",
            "language",
            "received_at",
            "due_at",
            "extended_at",
            "extension_reason",
            "reminded_at",
            "verification",
            "verification_digest",
            "verified_at",
            "handler",
            "completed_at",
            "rejection_reason",
            "result",
        )
        # The request and its outcome stay as proof of compliance, pseudonymous.
        on_erasure = ANONYMISE

    def __str__(self) -> str:
        return f"{self.kind} {self.received_at:%Y-%m-%d}"

    @property
    def is_open(self) -> bool:
        return self.status not in (self.Status.COMPLETED, self.Status.REJECTED)
