"""The organisation's custom fields, for those who may change its settings."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from custos.core.errors import ValidationFailed
from custos.crm.models import CustomField
from custos.crm.selectors.custom_fields import access_custom_field, custom_field_list
from custos.crm.services import custom_fields as services
from custos.web.forms import CustomFieldForm, attach_errors
from custos.web.shortcuts import actor_of
from custos.web.views.listing import posted


def custom_fields(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    actor.require("organization.change")
    form = CustomFieldForm(posted(request), initial={"category": CustomField.NOT_PERSONAL})
    if request.method == "POST" and form.is_valid():
        try:
            field = services.custom_field_create(actor=actor, data=form.domain_data())
        except ValidationFailed as error:
            attach_errors(form, error)
        else:
            messages.success(request, _("The field “%(label)s” is added.") % {"label": field.label})
            return redirect("web:custom-fields")
    groups = [
        (label, [field for field in custom_field_list(actor) if field.object_type == value])
        for value, label in CustomField.ObjectType.choices
    ]
    return render(request, "web/organization/custom_fields.html", {"groups": groups, "form": form})


def custom_field_edit(request: HttpRequest, custom_field_id: str) -> HttpResponse:
    actor = actor_of(request)
    actor.require("organization.change")
    field = access_custom_field(actor, custom_field_id)
    initial = {"label": field.label, "options": "\n".join(field.options), "position": field.position + 1}
    form = CustomFieldForm(posted(request), initial=initial, editing=field)
    if request.method == "POST" and form.is_valid():
        data = {name: value for name, value in form.domain_data().items() if name in form.changed_data}
        try:
            services.custom_field_update(actor=actor, field=field, data=data)
        except ValidationFailed as error:
            attach_errors(form, error)
        else:
            messages.success(request, _("The field “%(label)s” is saved.") % {"label": field.label})
            return redirect("web:custom-fields")
    return render(request, "web/organization/custom_field_edit.html", {"field": field, "form": form})


@require_POST
def custom_field_delete_view(request: HttpRequest, custom_field_id: str) -> HttpResponse:
    actor = actor_of(request)
    field = access_custom_field(actor, custom_field_id)
    services.custom_field_delete(actor=actor, field=field)
    messages.success(request, _("The field “%(label)s” and its values are deleted.") % {"label": field.label})
    return redirect("web:custom-fields")
