"""Calendar feeds: a member's appointments as iCalendar behind a secret, revocable link."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from custos.core.ids import uuid7
from custos.core.models import Organization


class CalendarFeed(models.Model):
    """A member's feed in one organisation; only the SHA-256 of its secret is stored.

    A platform table like `ApiToken`, not behind the tenant wall: the link names its
    organisation before any tenant is known, and a calendar app fetching it has no session.
    Queries always filter by `org` explicitly.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["org", "user"], name="calendar_feed_org_user")]

    class Privacy:
        subject = None
        fields: dict[str, str] = {}
        not_personal = ("id", "org", "user", "token_hash", "prefix", "created_at", "revoked_at", "last_used_at")

    def __str__(self) -> str:
        return f"calendar feed {self.prefix}…"
