"""Reads of activities: timelines and the day's tasks."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import timezone

from custos.core.actor import Actor, RecordScope
from custos.core.lookup import get_or_not_found
from custos.crm.models import Activity, Company, Contact, Deal, Lead
from custos.crm.selectors.records import scoped


def visible_activities(actor: Actor) -> models.QuerySet[Activity]:
    """An activity is visible to whoever owns it or may see a record it belongs to."""
    actor.require("activity.view")
    queryset = Activity.objects.select_related("contact", "company", "lead", "deal")
    if actor.record_scope == RecordScope.ALL:
        return queryset
    owners = actor.team_member_ids if actor.record_scope == RecordScope.TEAM else {actor.user_id}
    return queryset.filter(
        Q(owner_id__in=owners)
        | Q(contact__in=scoped(actor, Contact.objects.all()).values("pk"))
        | Q(company__in=scoped(actor, Company.objects.all()).values("pk"))
        | Q(lead__in=scoped(actor, Lead.objects.all()).values("pk"))
        | Q(deal__in=scoped(actor, Deal.objects.all()).values("pk"))
    )


def access_activity(actor: Actor, activity_id: Any, *, write: bool = False) -> Activity:
    if write:
        actor.require("activity.change")
    return get_or_not_found(visible_activities(actor), pk=activity_id)


def timeline(actor: Actor, *, record: Contact | Company | Lead | Deal) -> models.QuerySet[Activity]:
    """Everything that happened on a record, newest first."""
    link = {Contact: "contact", Company: "company", Lead: "lead", Deal: "deal"}[type(record)]
    return visible_activities(actor).filter(**{link: record}).order_by("-occurred_at", "-id")


def activity_list(actor: Actor, *, kind: str = "", open_tasks: bool = False) -> models.QuerySet[Activity]:
    queryset = visible_activities(actor)
    if kind:
        queryset = queryset.filter(kind=kind)
    if open_tasks:
        queryset = queryset.filter(kind=Activity.Kind.TASK, done_at__isnull=True)
    return queryset.order_by("id")


def my_day(actor: Actor, *, now: datetime | None = None) -> models.QuerySet[Activity]:
    """The actor's open tasks due by the end of today, overdue ones first: their own, so
    visible whatever their scope. Without the rows of the records they belong to: a page
    reads those for its own tasks (`with_records`), for joined before the limit the planner
    may read every deal or contact of the organisation."""
    actor.require("activity.view")
    now = timezone.localtime(now or timezone.now())
    end_of_day = timezone.make_aware(datetime.combine(now.date() + timedelta(days=1), time.min))
    return Activity.objects.filter(
        owner_id=actor.user_id, kind=Activity.Kind.TASK, done_at__isnull=True, due_at__lt=end_of_day
    ).order_by("due_at", "id")


def with_records(activities: models.QuerySet[Activity], limit: int) -> list[Activity]:
    """The first `limit` activities, in order, each with the records it belongs to."""
    ids = list(activities.values_list("pk", flat=True)[:limit])
    found = Activity.objects.select_related("contact", "company", "lead", "deal").in_bulk(ids)
    return [found[pk] for pk in ids if pk in found]
