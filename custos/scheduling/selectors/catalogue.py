"""Reads of the appointment catalogue: whoever may see appointments may see what they are made of."""

from __future__ import annotations

from typing import Any

from django.db import models

from custos.core.actor import Actor
from custos.core.lookup import get_or_not_found
from custos.scheduling.models import Practitioner, Resource, Service


def _require_read_or_write(actor: Actor, write: bool) -> None:
    actor.require("service.change" if write else "appointment.view")


def service_list(actor: Actor, *, active_only: bool = False) -> models.QuerySet[Service]:
    """Services in id order (the API pages by id); `active_only`: those that can be booked."""
    actor.require("appointment.view")
    queryset = Service.objects.all()
    return (queryset.filter(is_active=True) if active_only else queryset).order_by("id")


def access_service(actor: Actor, service_id: Any, *, write: bool = False) -> Service:
    """The service if the actor may see it (and change it, with write); else NotFound."""
    _require_read_or_write(actor, write)
    return get_or_not_found(Service.objects.all(), pk=service_id)


def resource_list(actor: Actor, *, active_only: bool = False) -> models.QuerySet[Resource]:
    actor.require("appointment.view")
    queryset = Resource.objects.all()
    return (queryset.filter(is_active=True) if active_only else queryset).order_by("id")


def access_resource(actor: Actor, resource_id: Any, *, write: bool = False) -> Resource:
    _require_read_or_write(actor, write)
    return get_or_not_found(Resource.objects.all(), pk=resource_id)


def practitioner_list(actor: Actor, *, active_only: bool = False) -> models.QuerySet[Practitioner]:
    actor.require("appointment.view")
    queryset = Practitioner.objects.select_related("user")
    return (queryset.filter(is_active=True) if active_only else queryset).order_by("id")


def access_practitioner(actor: Actor, practitioner_id: Any, *, write: bool = False) -> Practitioner:
    _require_read_or_write(actor, write)
    return get_or_not_found(Practitioner.objects.select_related("user"), pk=practitioner_id)


def practitioner_of(actor: Actor) -> Practitioner | None:
    """The acting member's own practitioner row, if they give appointments."""
    if actor.user_id is None:
        return None
    return Practitioner.objects.select_related("user").filter(user_id=actor.user_id).first()


def practitioner_name(practitioner: Practitioner) -> str:
    return practitioner.user.full_name or practitioner.user.email
