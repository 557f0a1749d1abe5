"""A member's appointments as an iCalendar feed (RFC 5545) behind a secret, revocable link.

What an event says, and why: a subscribed feed is copied into phone and web calendars,
synced by third parties (Apple, Google, Microsoft) and shown on lock screens, outside
anything Custos can protect or erase. So an event carries the time, the service and the
room, and by default nothing about the person: not their name, contact details, notes or
clinical details (never, whatever the setting), since even a service name next to a name
can reveal health data. Its link leads to the appointment in Custos, behind sign-in,
where everything else is. An organisation may choose less (only "Appointment": the time is
booked) or, where practitioners need it, the person's initials (`FeedDetail`); that choice
needs `organization.change` and is audited. A role that may not see contact names gets
no initials either, nor does anyone those of a restricted or erased person.

The link's secret is stored only as its SHA-256, shown once, revoked by its member (or
with their membership); making a new one revokes the old one. Fetches are audited at
most once an hour per feed, as calendar apps poll every few minutes.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from icalendar import Calendar, Event

from custos.accounts.access import actor_for, membership_for
from custos.audit.services import audit_record
from custos.core.actor import Actor, Via
from custos.core.errors import NotFound, PermissionDenied
from custos.core.models import Organization
from custos.core.tenancy import tenant_scope
from custos.privacy.services.restriction import is_restricted
from custos.scheduling.models import ACTIVE_STATUSES, Appointment, CalendarFeed, FeedDetail
from custos.scheduling.selectors.appointments import visible_appointments
from custos.scheduling.services.catalogue import scheduling_settings

TOKEN_PREFIX = "cal_"  # noqa: S105  (a marker that makes leaked feed addresses easy to scan for)
PAST = timedelta(days=31)
AHEAD = timedelta(days=366)
MAX_EVENTS = 2000
USE_AUDIT_INTERVAL = timedelta(hours=1)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def calendar_feed_of(actor: Actor) -> CalendarFeed | None:
    """The acting member's current feed in their organisation, if any."""
    if actor.user_id is None:
        return None
    return (
        CalendarFeed.objects.filter(org_id=actor.org_id, user_id=actor.user_id, revoked_at__isnull=True)
        .order_by("-created_at")
        .first()
    )


def _revoke_all(actor: Actor, now: datetime, user_id: Any = None) -> int:
    """Revoke the live feeds of a member (the acting one unless `user_id` is given)."""
    user_id = user_id or actor.user_id
    if user_id is None:
        return 0
    feeds = list(
        CalendarFeed.objects.select_for_update().filter(org_id=actor.org_id, user_id=user_id, revoked_at__isnull=True)
    )
    for feed in feeds:
        feed.revoked_at = now
        feed.save(update_fields=["revoked_at"])
        audit_record(actor=actor, action="calendar_feed.revoke", object_type="calendar_feed", object_id=feed.pk)
    return len(feeds)


def calendar_feed_create(*, actor: Actor) -> tuple[CalendarFeed, str]:
    """A new feed link for the acting member; the old one stops working. The secret is
    returned once and never stored."""
    actor.require("appointment.view")
    if actor.user_id is None:
        raise PermissionDenied("appointment.view")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        _revoke_all(actor, now)
        feed = CalendarFeed.objects.create(
            org_id=actor.org_id, user_id=actor.user_id, token_hash=_hash(token), prefix=token[4:12], created_at=now
        )
        audit_record(actor=actor, action="calendar_feed.create", object_type="calendar_feed", object_id=feed.pk)
    return feed, token


def calendar_feed_revoke(*, actor: Actor) -> int:
    """Stop the acting member's feed link; returns how many links were stopped (0 or 1)."""
    if actor.user_id is None:
        return 0
    with transaction.atomic():
        return _revoke_all(actor, timezone.now())


def calendar_feed_revoke_member(*, actor: Actor, user_id: Any) -> int:
    """Stop a member's feed links as they leave the organisation, so that being added again
    does not bring an old link back; the caller (removing the member) holds the permission."""
    with transaction.atomic():
        return _revoke_all(actor, timezone.now(), user_id)


def calendar_feed_find(token: str) -> CalendarFeed | None:
    """The live feed of this secret, or None (unknown, revoked, or its member has left)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return None
    feed = (
        CalendarFeed.objects.select_related("user", "org")
        .filter(token_hash=_hash(token), revoked_at__isnull=True)
        .first()
    )
    if feed is None or membership_for(feed.user, feed.org_id) is None:
        return None
    return feed


def _initials(actor: Actor, appointment: Appointment) -> str:
    if is_restricted(appointment.contact.subject):  # restricted or erased: not processed, not shown
        return ""
    parts = [
        getattr(appointment.contact, name)
        for name in ("first_name", "last_name")
        if actor.may_see_field("contact", name)
    ]
    return " ".join(f"{part.strip()[0]}." for part in parts if part and part.strip())


def _summary(actor: Actor, appointment: Appointment, detail: str) -> str:
    if detail == FeedDetail.BUSY or not actor.may_see_field("appointment", "service"):
        return _("Appointment")
    if detail == FeedDetail.SERVICE_INITIALS and (initials := _initials(actor, appointment)):
        return f"{appointment.service.name} — {initials}"
    return appointment.service.name


def _event(actor: Actor, appointment: Appointment, detail: str, link: Callable[[Appointment], str] | None) -> Event:
    event = Event()
    event.add("uid", f"{appointment.pk}@custos")
    event.add("dtstamp", appointment.updated_at.astimezone(UTC))
    event.add("dtstart", appointment.starts_at.astimezone(UTC))
    event.add("dtend", appointment.ends_at.astimezone(UTC))
    event.add("summary", _summary(actor, appointment, detail))
    event.add("status", "TENTATIVE" if appointment.status == Appointment.Status.BOOKED else "CONFIRMED")
    event.add("class", "PRIVATE")
    event.add("transp", "OPAQUE")
    if appointment.resource is not None and detail != FeedDetail.BUSY:
        event.add("location", appointment.resource.name)
    if link is not None:
        event.add("url", link(appointment))
    return event


def calendar_feed_render(
    feed: CalendarFeed, *, link: Callable[[Appointment], str] | None = None, now: datetime | None = None
) -> bytes:
    """The feed's calendar: the member's own appointments as practitioner, a month back and a
    year ahead, as far as their role still lets them see appointments."""
    now = now or timezone.now()
    membership = membership_for(feed.user, feed.org_id)
    if membership is None:
        raise NotFound()
    with tenant_scope(feed.org_id):
        actor = actor_for(membership, via=Via.API)
        if not actor.can("appointment.view"):
            raise NotFound()
        detail = scheduling_settings(feed.org_id).feed_detail
        appointments = list(
            visible_appointments(actor)
            .select_related("contact__subject")
            .filter(
                practitioner__user_id=feed.user_id,
                status__in=ACTIVE_STATUSES,
                starts_at__gte=now - PAST,
                starts_at__lt=now + AHEAD,
            )
            .order_by("starts_at")[:MAX_EVENTS]
        )
        organization = Organization.objects.get(pk=feed.org_id).name
        with translation.override(feed.user.language or settings.LANGUAGE_CODE):
            calendar = Calendar()
            calendar.add("prodid", "-//Custos//Appointments//EN")
            calendar.add("version", "2.0")
            calendar.add("calscale", "GREGORIAN")
            calendar.add("method", "PUBLISH")
            calendar.add("x-wr-calname", _("Appointments at %(organization)s") % {"organization": organization})
            calendar.add("refresh-interval", timedelta(minutes=15), parameters={"VALUE": "DURATION"})
            calendar.add("x-published-ttl", "PT15M")
            for appointment in appointments:
                calendar.add_component(_event(actor, appointment, detail, link))
        _mark_used(actor, feed, now)
    return bytes(calendar.to_ical())


def _mark_used(actor: Actor, feed: CalendarFeed, now: datetime) -> None:
    if feed.last_used_at is not None and now - feed.last_used_at < USE_AUDIT_INTERVAL:
        return
    with transaction.atomic():
        updated = CalendarFeed.objects.filter(pk=feed.pk).filter(
            **({"last_used_at": feed.last_used_at} if feed.last_used_at else {"last_used_at__isnull": True})
        )
        if updated.update(last_used_at=now):
            audit_record(actor=actor, action="calendar_feed.use", object_type="calendar_feed", object_id=feed.pk)
