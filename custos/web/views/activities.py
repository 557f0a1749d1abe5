"""Timelines on every record, notes and tasks added inline, tasks ticked off, and my day."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from custos.core.actor import Actor
from custos.core.errors import Conflict, ValidationFailed
from custos.crm.models import Activity, Company, Contact, Deal, Lead
from custos.crm.selectors.activities import access_activity, my_day, timeline, with_records
from custos.crm.selectors.deals import access_deal
from custos.crm.selectors.leads import access_lead
from custos.crm.selectors.people import access_company, access_contact
from custos.crm.selectors.records import scoped
from custos.crm.services.activities import activity_complete, activity_create, activity_delete, activity_update
from custos.web.forms import ActivityForm, attach_errors
from custos.web.selectors import activity_kinds, member_names
from custos.web.shortcuts import actor_of
from custos.web.templatetags.custos import shown_name
from custos.web.views.listing import next_url, submitted, wants_partial

TIMELINE_LENGTH = 100
Record = Contact | Company | Lead | Deal

# record type → (its detail page, the route adding an activity to it, the activity's link field)
ROUTES: dict[type[models.Model], tuple[str, str, str]] = {
    Contact: ("web:contact-detail", "web:contact-activity-add", "contact"),
    Company: ("web:company-detail", "web:company-activity-add", "company"),
    Lead: ("web:lead-detail", "web:lead-activity-add", "lead"),
    Deal: ("web:deal-detail", "web:deal-activity-add", "deal"),
}


def activity_form(actor: Actor, data: Any = None, initial: dict[str, Any] | None = None) -> ActivityForm:
    return ActivityForm(
        data,
        kinds=activity_kinds(),
        members=list(member_names(actor).items()),
        hidden=actor.hidden_fields_of("activity"),
        initial=initial or {"kind": Activity.Kind.NOTE, "owner": str(actor.user_id or "")},
    )


def _to_the_minute(moment: Any) -> Any:
    """The form shows times to the minute; a stored time's seconds must not count as a change."""
    return timezone.localtime(moment).replace(second=0, microsecond=0) if moment is not None else None


def _initial_of(activity: Activity) -> dict[str, Any]:
    return {
        "kind": activity.kind,
        "title": activity.title,
        "body": activity.body,
        "due_at": _to_the_minute(activity.due_at),
        "reminder_at": _to_the_minute(activity.reminder_at),
        "owner": str(activity.owner_id or ""),
        "occurred_at": _to_the_minute(activity.occurred_at),
        "duration_minutes": activity.duration_minutes,
    }


def _record_links(actor: Actor, activities: list[Activity]) -> dict[Any, list[tuple[str, str]]]:
    """For each activity, the records it belongs to that the actor may open: (name, url).
    A task assigned to someone can sit on a record their role does not show them."""
    visible: dict[str, set[Any]] = {}
    for model, selector_key, link in (
        (Contact, "contact", "contact_id"),
        (Company, "company", "company_id"),
        (Lead, "lead", "lead_id"),
        (Deal, "deal", "deal_id"),
    ):
        ids = {getattr(a, link) for a in activities if getattr(a, link) is not None}
        visible[selector_key] = (
            set(scoped(actor, model.objects.filter(pk__in=ids)).values_list("pk", flat=True))
            if ids and actor.can(f"{selector_key}.view")
            else set()
        )
    links: dict[Any, list[tuple[str, str]]] = {}
    for activity in activities:
        found = []
        if activity.contact_id in visible["contact"] and activity.contact is not None:
            found.append(
                (shown_name(activity.contact, actor), reverse("web:contact-detail", args=[activity.contact_id]))
            )
        if activity.company_id in visible["company"] and activity.company is not None:
            found.append((activity.company.name, reverse("web:company-detail", args=[activity.company_id])))
        if activity.lead_id in visible["lead"] and activity.lead is not None:
            found.append((shown_name(activity.lead, actor), reverse("web:lead-detail", args=[activity.lead_id])))
        if activity.deal_id in visible["deal"] and activity.deal is not None:
            found.append((activity.deal.name, reverse("web:deal-detail", args=[activity.deal_id])))
        links[activity.pk] = found
    return links


def _item_context(actor: Actor, *, back: str, linked: list[Activity] | None = None) -> dict[str, Any]:
    """What an activity's entry needs besides the activity itself; `linked`: the activities
    whose records are named (on my day, where they are not on the record's own page)."""
    return {
        "members": member_names(actor),
        "hidden_activity": actor.hidden_fields_of("activity"),
        "back": back,
        "show_links": linked is not None,
        "record_links": _record_links(actor, linked) if linked else {},
        "now": timezone.now(),
    }


def timeline_context(
    actor: Actor, record: Record, form: ActivityForm | None = None, *, state: str | None = None
) -> dict[str, Any]:
    """The timeline section of a record's page: nothing if the role may not see activities.
    `state`: the record's person's (`processing_state`): no entry is added to or changed on
    a restricted or erased person's records, so none is offered."""
    if not actor.can("activity.view"):
        return {"timeline": None}
    detail, add, _link = ROUTES[type(record)]
    back = reverse(detail, args=[record.pk])
    items = list(timeline(actor, record=record)[: TIMELINE_LENGTH + 1])
    return {
        "timeline": {
            "items": items[:TIMELINE_LENGTH],
            "cut_at": TIMELINE_LENGTH if len(items) > TIMELINE_LENGTH else None,  # said, never silent
            "add_url": reverse(add, args=[record.pk]),
            "form": (form or activity_form(actor)) if actor.can("activity.add") and not state else None,
        },
        "record_state": state,
        **_item_context(actor, back=back),
    }


def _added_message(activity: Activity) -> str:
    return {
        Activity.Kind.TASK: _("The task is added."),
        Activity.Kind.CALL: _("The call is logged."),
        Activity.Kind.EMAIL: _("The email is logged."),
        Activity.Kind.MEETING: _("The meeting is logged."),
    }.get(Activity.Kind(activity.kind), _("The note is added."))


def _activity_add(request: HttpRequest, actor: Actor, record: Record) -> HttpResponse:
    """Add a note, task, call, email or meeting to a record; inline with htmx, a page without."""
    actor.require("activity.add")
    detail, add, link = ROUTES[type(record)]
    form = activity_form(actor, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            activity = activity_create(actor=actor, data={**submitted(request, form), link: str(record.pk)})
        except ValidationFailed as error:
            attach_errors(form, error)
        else:
            if wants_partial(request):
                context = {**timeline_context(actor, record), "status_message": _added_message(activity)}
                return render(request, "web/crm/timeline.html#swap", context)
            messages.success(request, _added_message(activity))
            return redirect(reverse(detail, args=[record.pk]) + "#activities")
    if request.method == "POST" and wants_partial(request):
        context = {**timeline_context(actor, record, form), "status_message": _("The entry is not saved yet.")}
        return render(request, "web/crm/timeline.html#swap", context)
    return render(
        request,
        "web/crm/activity_form.html",
        {
            "form": form,
            "record_name": shown_name(record, actor) if isinstance(record, Contact | Lead) else str(record),
            "add_url": reverse(add, args=[record.pk]),
            "back": reverse(detail, args=[record.pk]),
        },
    )


def contact_activity_add(request: HttpRequest, contact_id: str) -> HttpResponse:
    actor = actor_of(request)
    return _activity_add(request, actor, access_contact(actor, contact_id))


def company_activity_add(request: HttpRequest, company_id: str) -> HttpResponse:
    actor = actor_of(request)
    return _activity_add(request, actor, access_company(actor, company_id))


def lead_activity_add(request: HttpRequest, lead_id: str) -> HttpResponse:
    actor = actor_of(request)
    return _activity_add(request, actor, access_lead(actor, lead_id))


def deal_activity_add(request: HttpRequest, deal_id: str) -> HttpResponse:
    actor = actor_of(request)
    return _activity_add(request, actor, access_deal(actor, deal_id))


@require_POST
def activity_done(request: HttpRequest, activity_id: str) -> HttpResponse:
    """Tick a task off, or (with done=0) back on."""
    actor = actor_of(request)
    activity = access_activity(actor, activity_id, write=True)
    done = request.POST.get("done", "1") != "0"
    refused = ""
    try:
        activity_complete(actor=actor, activity=activity, done=done)
    except Conflict as error:  # the person's processing is restricted: said where the task is
        refused = str(error.detail)
    message = refused or (_("The task is done.") if done else _("The task is open again."))
    back = next_url(request, reverse("web:my-day"))
    if wants_partial(request):
        context = {
            "activity": activity,
            "status_message": message,
            **_item_context(actor, back=back, linked=[activity] if request.POST.get("links") == "1" else None),
        }
        return render(request, "web/crm/timeline.html#item-swap", context)
    (messages.error if refused else messages.success)(request, message)
    return redirect(back)


def _record_page(actor: Actor, activity: Activity) -> str:
    """The page of the record the activity sits on and the actor may open; else my day."""
    for model, (detail, _add, link) in ROUTES.items():
        record_id = getattr(activity, f"{link}_id")
        if (
            record_id is not None
            and actor.can(f"{link}.view")
            and scoped(actor, model._default_manager.filter(pk=record_id)).exists()
        ):
            return reverse(detail, args=[record_id]) + "#activities"
    return reverse("web:my-day")


def activity_edit_view(request: HttpRequest, activity_id: str) -> HttpResponse:
    """Change a note, task, call, email or meeting; only the fields changed are sent, so a
    time shown to the minute is not rewritten, and a field hidden from the role is never touched."""
    actor = actor_of(request)
    activity = access_activity(actor, activity_id, write=True)
    back = next_url(request, _record_page(actor, activity))
    form = activity_form(actor, request.POST if request.method == "POST" else None, initial=_initial_of(activity))
    if request.method == "POST" and form.is_valid():
        data = {name: form.cleaned_data[name] for name in form.changed_data}
        try:
            activity_update(actor=actor, activity=activity, data=data)
        except ValidationFailed as error:
            attach_errors(form, error)
        else:
            messages.success(request, _("The entry is saved."))
            return redirect(back)
    return render(
        request,
        "web/crm/activity_form.html",
        {
            "form": form,
            "activity": activity,
            "add_url": reverse("web:activity-edit", args=[activity.pk]),
            "back": back,
        },
    )


@require_POST
def activity_delete_view(request: HttpRequest, activity_id: str) -> HttpResponse:
    actor = actor_of(request)
    activity = access_activity(actor, activity_id)
    activity_delete(actor=actor, activity=activity)
    messages.success(request, _("The entry is deleted."))
    return redirect(next_url(request, reverse("web:my-day")))


def my_day_view(request: HttpRequest) -> HttpResponse:
    """My open tasks due today, and those overdue, oldest first."""
    actor = actor_of(request)
    tasks = with_records(my_day(actor), 500) if actor.user_id is not None else []
    today = timezone.localdate()
    overdue = [task for task in tasks if task.due_at is not None and timezone.localtime(task.due_at).date() < today]
    due_today = [task for task in tasks if task not in overdue]
    return render(
        request,
        "web/crm/my_day.html",
        {"overdue": overdue, "due_today": due_today, **_item_context(actor, back=request.path, linked=tasks)},
    )
