"""The audit log: append-only, HMAC-chained per organisation.

Each entry's hash covers its content and the previous entry's hash under a key derived
from the organisation's data key, which only the master key opens: whoever can write
to the database still cannot forge a consistent chain. Entries carry ids and field
names, never personal values. The IP address and user agent are chained through keyed
digests (the address twice: whole, and shortened to its network), so the periodic job
that shortens old addresses and drops old user agents does not break the chain, while
the verifier still checks whatever remains against its digest.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils import timezone

from custos.core.personal_data import ONLINE_IDENTIFIER
from custos.core.tenancy import TenantModel


class AuditEntry(TenantModel):
    # On PostgreSQL the application role may not delete rows, and may update only these
    # columns (for the job that shortens old addresses): see custos.core.db.rls.
    append_only: ClassVar[tuple[str, ...]] = ("ip", "ip_truncated", "user_agent", "identifier_salt")

    seq = models.BigIntegerField()
    at = models.DateTimeField(default=timezone.now)
    actor_user_id = models.UUIDField(null=True, blank=True)
    via = models.CharField(max_length=16)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    fields = models.JSONField(default=list, blank=True)
    extra = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    ip_digest = models.CharField(max_length=64, blank=True)
    ip_network_digest = models.CharField(max_length=64, blank=True)
    ip_truncated = models.BooleanField(default=False)
    user_agent = models.CharField(max_length=300, blank=True)
    user_agent_digest = models.CharField(max_length=64, blank=True)
    # Salts the two digests above; wiped with the address, after which they reveal nothing.
    identifier_salt = models.CharField(max_length=32, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "seq"], name="audit_entry_unique_seq")]
        indexes = [
            models.Index(fields=["org", "-at"], name="audit_entry_org_at"),
            models.Index(fields=["org", "object_type", "object_id"], name="audit_entry_object"),
            models.Index(fields=["org", "actor_user_id", "-at"], name="audit_entry_actor"),
        ]
        ordering = ["-seq"]

    class Privacy:
        # Staff sign-ins and portal visits: the address is kept truncated after 90 days.
        subject = None
        fields = {"ip": ONLINE_IDENTIFIER, "user_agent": ONLINE_IDENTIFIER, "identifier_salt": ONLINE_IDENTIFIER}
        not_personal = (
            "id",
            "org",
            "seq",
            "at",
            "actor_user_id",
            "via",
            "action",
            "object_type",
            "object_id",
            "fields",
            "extra",
            "ip_digest",
            "ip_network_digest",
            "ip_truncated",
            "user_agent_digest",
            "prev_hash",
            "hash",
        )


class AuditHead(TenantModel):
    """The end of an organisation's chain, sealed so that cutting off the tail shows."""

    append_only: ClassVar[tuple[str, ...]] = ("seq", "hash", "seal")

    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64)
    seal = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org"], name="audit_head_one_per_org")]

    class Privacy:
        subject = None
        fields: dict[str, str] = {}
        not_personal = ("id", "org", "seq", "hash", "seal")
