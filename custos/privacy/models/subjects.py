"""The data subject: one natural person inside one organisation.

Contacts, leads, consents, requests, portal sessions and activities link to their
Subject, so that everything about a person is an indexed walk from here. The Subject
itself holds no personal values, only a pseudonymous reference that survives erasure.
"""

from __future__ import annotations

import secrets

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from custos.core.tenancy import TenantModel

REFERENCE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def new_reference() -> str:
    return "S-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(10))


class Subject(TenantModel):
    class State(models.TextChoices):
        ACTIVE = "active", _("active")
        RESTRICTED = "restricted", _("processing restricted")
        ERASED = "erased", _("erased")

    reference = models.CharField(max_length=16, default=new_reference, editable=False)
    state = models.CharField(max_length=12, choices=State.choices, default=State.ACTIVE)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    restricted_at = models.DateTimeField(null=True, blank=True)
    erased_at = models.DateTimeField(null=True, blank=True)
    # Objections (Art. 21): to direct marketing (also on the suppression list) and to profiling.
    objected_to_marketing_at = models.DateTimeField(null=True, blank=True)
    objected_to_profiling_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "reference"], name="subject_unique_reference")]
        # Erasure and retention leave the erased alone: a few among a million, found without
        # reading every person (at a million, 185 ms for each retention batch).
        # Retention leaves the restricted alone too, found the same way.
        indexes = [
            models.Index(fields=["org"], condition=models.Q(state="erased"), name="subject_erased"),
            models.Index(fields=["org"], condition=models.Q(state="restricted"), name="subject_restricted"),
        ]

    class Privacy:
        subject = "self"
        fields: dict[str, str] = {}
        not_personal = (
            "id",
            "org",
            "reference",
            "state",
            "created_at",
            "restricted_at",
            "erased_at",
            "objected_to_marketing_at",
            "objected_to_profiling_at",
        )
        on_erasure = "keep_restricted"

    def __str__(self) -> str:
        return self.reference
