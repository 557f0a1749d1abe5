"""Processors (Art. 28): who handles personal data on the organisation's behalf, and where."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from custos.core.personal_data import CONTACT
from custos.core.tenancy import TenantModel
from custos.privacy.models.consent import Purpose


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
