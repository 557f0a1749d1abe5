"""Notes, tasks, calls, logged emails and meetings on the timeline of any record."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from custos.audit.services import audit_record
from custos.core.actor import Actor
from custos.core.errors import ValidationFailed
from custos.core.validation import Cleaner
from custos.crm.models import Activity, Company, Contact, Deal, Lead
from custos.crm.selectors.records import scoped
from custos.crm.services.records import (
    check_field_rights,
    clean_member,
    clean_reference,
    delete_record,
    given_fields,
    insert_record,
    reject_unknown,
    update_record,
)
from custos.crm.services.rules import rescore
from custos.privacy.services.restriction import require_processable

ACTIVITY_FIELDS = (
    "kind",
    "title",
    "body",
    "occurred_at",
    "duration_minutes",
    "due_at",
    "reminder_at",
    "owner",
    "contact",
    "company",
    "lead",
    "deal",
)
LINKS = {
    "contact": (Contact, gettext_lazy("Choose an existing contact.")),
    "company": (Company, gettext_lazy("Choose an existing company.")),
    "lead": (Lead, gettext_lazy("Choose an existing lead.")),
    "deal": (Deal, gettext_lazy("Choose an existing deal.")),
}


def clean_activity(
    actor: Actor, data: Mapping[str, Any], *, partial: bool, index: int | None = None
) -> tuple[dict[str, Any], Cleaner]:
    cleaner = Cleaner(index)
    cleaned: dict[str, Any] = {}
    reject_unknown(cleaner, data, ACTIVITY_FIELDS)
    for name in ACTIVITY_FIELDS:
        if partial and name not in data:
            continue
        value = data.get(name)
        match name:
            case "kind":
                if partial and value in (None, ""):
                    continue  # a change without a kind keeps it: a task must not become a note
                cleaned[name] = cleaner.choice(name, value, Activity.Kind.values, default=Activity.Kind.NOTE)
            case "title":
                cleaned[name] = cleaner.text(name, value, max_length=200, required=True)
            case "body":
                cleaned[name] = cleaner.text(name, value, max_length=20000, multiline=True)
            case "occurred_at":
                cleaned[name] = cleaner.moment(name, value) or (None if partial else timezone.now())
            case "due_at" | "reminder_at":
                cleaned[name] = cleaner.moment(name, value)
            case "duration_minutes":
                cleaned[name] = cleaner.integer(name, value, minimum=0, maximum=24 * 60 * 31)
            case "owner":
                cleaned["owner_id"] = (
                    clean_member(cleaner, actor, "owner", value) if value is not None or partial else actor.user_id
                )
            case "contact" | "company" | "lead" | "deal":
                model, message = LINKS[name]
                cleaned[f"{name}_id"] = clean_reference(
                    cleaner, name, value, scoped(actor, model._default_manager.all()), str(message)
                )
    if cleaned.get("occurred_at") is None and partial:
        cleaned.pop("occurred_at", None)
    return cleaned, cleaner


def _check_activity(cleaner: Cleaner, activity: Activity) -> None:
    if activity.kind == Activity.Kind.TASK and activity.due_at is None:
        cleaner.fail("due_at", _("Give the task a due date."))
    if activity.reminder_at and activity.due_at and activity.reminder_at > activity.due_at:
        cleaner.fail("reminder_at", _("Remind before the task is due."))


def activity_create(*, actor: Actor, data: Mapping[str, Any]) -> Activity:
    actor.require("activity.add")
    check_field_rights(actor, "activity", given_fields(data))
    cleaned, cleaner = clean_activity(actor, data, partial=False)
    activity = Activity(**cleaned)
    _check_activity(cleaner, activity)
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    with transaction.atomic():
        insert_record(actor, activity, "activity", cleaned)
        _rescore_leads(activity.lead_id)
    return activity


def activity_update(*, actor: Actor, activity: Activity, data: Mapping[str, Any]) -> Activity:
    actor.require("activity.change")
    check_field_rights(actor, "activity", data.keys())
    cleaned, cleaner = clean_activity(actor, data, partial=True)
    after = Activity(**{**{f.attname: getattr(activity, f.attname) for f in Activity._meta.concrete_fields}, **cleaned})
    _check_activity(cleaner, after)
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    # A reminder moved, or handed to someone else, goes (again).
    moved = any(name in cleaned and cleaned[name] != getattr(activity, name) for name in ("reminder_at", "owner_id"))
    with transaction.atomic():
        lead_before = activity.lead_id
        update_record(actor, activity, "activity", cleaned)
        if moved and activity.reminder_at is not None:
            Activity.objects.filter(pk=activity.pk).update(reminded_at=None)
            activity.reminded_at = None
        _rescore_leads(lead_before, activity.lead_id)
    return activity


def activity_complete(*, actor: Actor, activity: Activity, done: bool = True) -> Activity:
    """Tick a task off (or back on)."""
    actor.require("activity.change")
    if (activity.done_at is not None) == done:
        return activity
    require_processable(activity)  # a task about a restricted person is stored, not worked on
    with transaction.atomic():
        activity.done_at = timezone.now() if done else None
        activity.updated_at = timezone.now()
        activity.save(update_fields=["done_at", "updated_at"])
        audit_record(
            actor=actor,
            action="activity.complete" if done else "activity.reopen",
            object_type="activity",
            object_id=activity.pk,
        )
    return activity


def activity_delete(*, actor: Actor, activity: Activity) -> None:
    with transaction.atomic():
        lead_id = activity.lead_id
        delete_record(actor, activity, "activity")
        _rescore_leads(lead_id)


def _rescore_leads(*lead_ids: Any) -> None:
    """A lead's recent activity is part of its score."""
    if any(lead_ids):
        rescore(Lead.objects.filter(pk__in=[pk for pk in lead_ids if pk]))
