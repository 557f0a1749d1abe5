"""The search index: one row per searchable value of a record, normalised.

A row per (record, field) rather than per record, so that a search can leave out the
fields a role may not see. Copies of personal values: declared, linked to the subject,
and deleted with the person (special-category data is never indexed).
"""

from __future__ import annotations

from django.db import models

from custos.core.personal_data import DELETE, IDENTITY
from custos.core.tenancy import TenantModel
from custos.privacy.models import Subject


class SearchEntry(TenantModel):
    # Every entry is written and deleted with its record, so each index costs every import
    # and every erasure: the organisation is the first column of the indexes below (no index
    # of its own), and the person's entries are found through the subject's key alone.
    org = models.ForeignKey(
        "core.Organization", on_delete=models.CASCADE, related_name="+", editable=False, db_index=False
    )
    object_type = models.CharField(max_length=24)
    object_id = models.UUIDField()
    field = models.CharField(max_length=24)
    value = models.CharField(max_length=300)
    owner_id = models.UUIDField(null=True, blank=True)
    subject = models.ForeignKey(Subject, null=True, blank=True, on_delete=models.CASCADE, related_name="+")

    class Meta:
        indexes = [
            models.Index(fields=["org", "object_type", "object_id"], name="search_entry_object"),
        ]

    class Privacy:
        subject = "subject"
        fields = {"value": IDENTITY}
        not_personal = ("id", "org", "object_type", "object_id", "field", "owner_id", "subject")
        on_erasure = DELETE
        copy_of_personal_data = True

    def __str__(self) -> str:
        return f"{self.object_type}:{self.object_id}:{self.field}"
