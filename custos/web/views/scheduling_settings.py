"""Setting up appointments in the staff UI: services, resources, practitioners, the
organisation's scheduling settings, and each member's calendar feed. Whoever sees
appointments sees the lists; changing them needs `service.*`, the settings `organization.change`."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from custos.core.errors import NotFound, ValidationFailed
from custos.scheduling.models import Practitioner
from custos.scheduling.selectors.catalogue import (
    access_practitioner,
    access_resource,
    access_service,
    practitioner_list,
    practitioner_name,
    practitioner_of,
    resource_list,
    service_list,
)
from custos.scheduling.services import catalogue, feeds
from custos.web.forms import attach_errors
from custos.web.scheduling_forms import PractitionerForm, ResourceForm, SchedulingSettingsForm, ServiceForm
from custos.web.selectors import member_names
from custos.web.shortcuts import actor_of
from custos.web.views.listing import posted, submitted


def service_list_view(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    return render(request, "web/scheduling/service_list.html", {"services": list(service_list(actor))})


def service_create_view(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    actor.require("service.add")
    form = ServiceForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            catalogue.service_create(actor=actor, data=submitted(request, form))
        except ValidationFailed as error:
            attach_errors(form, error)
        else:
            messages.success(request, _("The service is saved."))
            return redirect("web:services")
    return render(request, "web/scheduling/catalogue_form.html", _form_context(form, "service", None))


def service_edit_view(request: HttpRequest, service_id: str) -> HttpResponse:
    actor = actor_of(request)
    service = access_service(actor, service_id, write=True)
    initial = {name: getattr(service, name) for name in catalogue.SERVICE_FIELDS}
    form = ServiceForm(posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            catalogue.service_update(actor=actor, service=service, data=form.domain_data())
        except ValidationFailed as error:
            attach_errors(form, error)
        else:
            messages.success(request, _("The service is saved."))
            return redirect("web:services")
    return render(request, "web/scheduling/catalogue_form.html", _form_context(form, "service", service))


def resource_list_view(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    return render(request, "web/scheduling/resource_list.html", {"resources": list(resource_list(actor))})


def resource_create_view(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    actor.require("service.add")
    form = ResourceForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            catalogue.resource_create(actor=actor, data=submitted(request, form))
        except ValidationFailed as error:
            attach_errors(form, error)
        else:
            messages.success(request, _("The resource is saved."))
            return redirect("web:resources")
    return render(request, "web/scheduling/catalogue_form.html", _form_context(form, "resource", None))


def resource_edit_view(request: HttpRequest, resource_id: str) -> HttpResponse:
    actor = actor_of(request)
    resource = access_resource(actor, resource_id, write=True)
    initial = {name: getattr(resource, name) for name in catalogue.RESOURCE_FIELDS}
    form = ResourceForm(posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            catalogue.resource_update(actor=actor, resource=resource, data=form.domain_data())
        except ValidationFailed as error:
            attach_errors(form, error)
        else:
            messages.success(request, _("The resource is saved."))
            return redirect("web:resources")
    return render(request, "web/scheduling/catalogue_form.html", _form_context(form, "resource", resource))


def _form_context(form: Any, kind: str, record: Any) -> dict[str, Any]:
    titles = {
        ("service", False): _("New service"),
        ("service", True): _("Edit service"),
        ("resource", False): _("New room, chair or equipment"),
        ("resource", True): _("Edit room, chair or equipment"),
    }
    return {
        "form": form,
        "title": titles[(kind, record is not None)],
        "back": "web:services" if kind == "service" else "web:resources",
    }


def practitioner_list_view(request: HttpRequest) -> HttpResponse:
    """Who gives appointments; a member is added here and made inactive when they stop."""
    actor = actor_of(request)
    practitioners = list(practitioner_list(actor))
    taken = {str(p.user_id) for p in practitioners}
    form = None
    if actor.can("service.add"):
        members = [(pk, name) for pk, name in member_names(actor).items() if pk not in taken]
        form = PractitionerForm(posted(request), members=members)
        if request.method == "POST" and form.is_valid():
            try:
                catalogue.practitioner_add(actor=actor, data=form.domain_data())
            except ValidationFailed as error:
                attach_errors(form, error)
            else:
                messages.success(request, _("The member now gives appointments."))
                return redirect("web:practitioners")
    elif request.method == "POST":
        actor.require("service.add")
    return render(
        request,
        "web/scheduling/practitioner_list.html",
        {"practitioners": [(p, practitioner_name(p)) for p in practitioners], "form": form},
    )


@require_POST
def practitioner_active_view(request: HttpRequest, practitioner_id: str) -> HttpResponse:
    """Take new appointments, or stop taking them (past ones stay)."""
    actor = actor_of(request)
    practitioner: Practitioner = access_practitioner(actor, practitioner_id, write=True)
    is_active = request.POST.get("is_active") == "1"
    catalogue.practitioner_update(actor=actor, practitioner=practitioner, data={"is_active": is_active})
    name = practitioner_name(practitioner)
    if is_active:
        messages.success(request, _("%(name)s takes appointments again.") % {"name": name})
    else:
        messages.success(request, _("%(name)s takes no new appointments.") % {"name": name})
    return redirect("web:practitioners")


def scheduling_settings_view(request: HttpRequest) -> HttpResponse:
    """Reminder lead time, language and time zone, and what calendar feeds show."""
    actor = actor_of(request)
    actor.require("organization.change")
    current = catalogue.scheduling_settings(actor.org_id)
    initial = {name: getattr(current, name) for name in catalogue.SETTINGS_FIELDS}
    form = SchedulingSettingsForm(posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            catalogue.scheduling_settings_update(actor=actor, data=form.domain_data())
        except ValidationFailed as error:
            attach_errors(form, error)
        else:
            messages.success(request, _("The appointment settings are saved."))
            return redirect("web:scheduling-settings")
    return render(request, "web/scheduling/settings.html", {"form": form})


# The member's calendar feed ---------------------------------------------------------------


def calendar_feed_view(request: HttpRequest) -> HttpResponse:
    """The member's feed link: made (and shown once), replaced, or stopped."""
    actor = actor_of(request)
    actor.require("appointment.view")
    created_url = ""
    if request.method == "POST":
        _feed, token = feeds.calendar_feed_create(actor=actor)
        created_url = request.build_absolute_uri(reverse("web:calendar-feed-ics", args=[token]))
    return render(
        request,
        "web/scheduling/calendar_feed.html",
        {
            "feed": feeds.calendar_feed_of(actor),
            "created_url": created_url,
            "is_practitioner": practitioner_of(actor) is not None,
        },
    )


@require_POST
def calendar_feed_revoke_view(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    if feeds.calendar_feed_revoke(actor=actor):
        messages.success(request, _("The calendar link is stopped. Calendar apps using it get nothing new."))
    return redirect("web:calendar-feed")


@login_not_required
@require_safe
def calendar_feed_ics_view(request: HttpRequest, token: str) -> HttpResponse:
    """The feed itself, fetched by calendar apps without a session: the secret in the path is the key."""
    feed = feeds.calendar_feed_find(token)
    if feed is None:
        raise NotFound()
    body = feeds.calendar_feed_render(
        feed, link=lambda a: request.build_absolute_uri(reverse("web:appointment-detail", args=[a.pk]))
    )
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="appointments.ics"'
    patch_cache_control(response, private=True, no_store=True)
    return response
