"""Processors (Art. 28): who handles personal data on the organisation's behalf, and where;
the notices they are sent of rectifications, erasures and restrictions (Art. 19)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from custos.core.fields import EncryptedTextField
from custos.core.personal_data import CONTACT, DELETE
from custos.core.tenancy import TenantModel
from custos.privacy.models.consent import Purpose
from custos.privacy.models.requests import PrivacyRequest
from custos.privacy.models.subjects import Subject


class Processor(TenantModel):
    class Safeguard(models.TextChoices):
        NONE_NEEDED = "none_needed", _("inside the EU/EEA, none needed")
        ADEQUACY = "adequacy", _("adequacy decision")
        SCC = "scc", _("standard contractual clauses")
        BCR = "bcr", _("binding corporate rules")
        DEROGATION = "derogation", _("derogation (Art. 49)")

    name = models.CharField(_("name"), max_length=200)
    service = models.CharField(_("service"), max_length=300)
    location = models.CharField(_("country"), max_length=2)
    safeguard = models.CharField(_("transfer safeguard"), max_length=12, choices=Safeguard.choices)
    dpa_signed_on = models.DateField(_("data processing agreement signed on"), null=True, blank=True)
    purposes = models.ManyToManyField(Purpose, blank=True, related_name="processors")
    is_active = models.BooleanField(_("active"), default=True)
    # Art. 19: where to tell the processor of a rectification, erasure or restriction.
    contact_email = models.EmailField(_("contact email"), blank=True)
    inform_of_changes = models.BooleanField(_("inform of rectification, erasure and restriction"), default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Privacy:
        subject = None
        # A business address, but it may name a person at the processor.
        fields = {"contact_email": CONTACT}
        not_personal = (
            "id",
            "org",
            "name",
            "service",
            "location",
            "safeguard",
            "dpa_signed_on",
            "purposes",
            "is_active",
            "inform_of_changes",
            "created_at",
        )

    def __str__(self) -> str:
        return self.name


class RecipientNotice(TenantModel):
    """One Art. 19 mail to one recipient, recorded in the transaction of the change it reports,
    so that a crash before the mail went leaves it pending for the sweeper, not lost.

    `details` holds what the mail names the person by (addresses, corrected values), encrypted,
    and only until the mail went or was given up: then it is emptied."""

    class Kind(models.TextChoices):
        RECTIFICATION = "rectification", _("rectification")
        ERASURE = "erasure", _("erasure")
        RESTRICTION = "restriction", _("restriction")
        RESTRICTION_LIFTED = "restriction_lifted", _("restriction lifted")

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        INFORMED = "informed", _("informed")
        FAILED = "failed", _("failed")

    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="+")
    # The request whose completion it reports; none for a restriction staff set or lifted directly.
    request = models.ForeignKey(PrivacyRequest, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    processor = models.ForeignKey(Processor, null=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    details = EncryptedTextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # When the sweeper may take it: a while after it was recorded (the mail normally goes right
    # after commit), then after each attempt (a claim lasts until then).
    next_attempt_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["org", "status", "next_attempt_at"], name="recipient_notice_due")]

    class Privacy:
        subject = "subject"
        fields = {"details": CONTACT}
        not_personal = (
            "id",
            "org",
            "subject",
            "request",
            "processor",
            "kind",
            "status",
            "attempts",
            "next_attempt_at",
            "created_at",
            "sent_at",
        )
        # A passing copy of values the person's records hold: left out of access reports, and
        # gone with the person (an erasure's own notice is recorded after it).
        copy_of_personal_data = True
        on_erasure = DELETE

    def __str__(self) -> str:
        return f"{self.kind} notice {self.pk}"
