"""Leads in the staff UI: list, detail with timeline, edit, disqualify, convert."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models.functions import Lower
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from custos.core.actor import Actor
from custos.core.errors import Conflict, ValidationFailed
from custos.crm.models import Company, Lead
from custos.crm.selectors.deals import pipeline_list
from custos.crm.selectors.leads import access_lead, lead_list
from custos.crm.selectors.records import scoped
from custos.crm.services import leads as services
from custos.crm.services.deals import pipeline_default
from custos.privacy.services.restriction import processing_state
from custos.web.custom_values import CustomSetup, detail_context, form_setup
from custos.web.forms import LeadConvertForm, LeadDisqualifyForm, LeadForm, address_initial, attach_errors
from custos.web.selectors import consents_at_a_glance, member_names
from custos.web.shortcuts import actor_of
from custos.web.views.activities import timeline_context
from custos.web.views.listing import detail_urls, filter_value, filtered_list, posted, submitted, wants_partial

LEAD_STATUSES = [str(s) for s in Lead.Status.values]


def _status_choices(*, settable: bool) -> list[tuple[str, str]]:
    return [
        (str(value), capfirst(str(label)))
        for value, label in Lead.Status.choices
        if not settable or value in services.SETTABLE_STATUSES
    ]


def _lead_form(
    actor: Actor, data: Any = None, initial: dict[str, Any] | None = None, custom: CustomSetup | None = None
) -> LeadForm:
    custom = custom or form_setup(actor, "lead", shown=False)
    return LeadForm(
        data,
        initial=initial,
        statuses=_status_choices(settable=True),
        sources=[(str(value), capfirst(str(label))) for value, label in Lead.Source.choices],
        members=list(member_names(actor).items()),
        hidden=actor.hidden_fields_of("lead"),
        custom=custom.definitions,
        special=custom.special,
    )


def lead_list_view(request: HttpRequest) -> HttpResponse:
    status = filter_value(request, "status", LEAD_STATUSES)

    def leads(actor: Actor, *, q: str, filters: dict[str, str]) -> Any:
        return lead_list(actor, q=q, status=status, filters=filters)

    context = filtered_list(request, "lead", leads, ())
    rows = context.pop("rows")
    context["leads"] = list(zip(rows, detail_urls("web:lead-detail", rows), strict=True))
    context["status"] = status
    context["statuses"] = _status_choices(settable=False)
    context["filters"] = sorted([*context["filters"], *([("status", status)] if status else [])])
    response = render(request, "web/crm/lead_list.html" + ("#results" if wants_partial(request) else ""), context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def lead_create_view(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    actor.require("lead.add")
    form = _lead_form(actor, posted(request), initial={"owner": str(actor.user_id or ""), "status": "new"})
    if request.method == "POST" and form.is_valid():
        try:
            lead = services.lead_create(actor=actor, data=submitted(request, form))
        except ValidationFailed as error:
            attach_errors(form, error)
        else:
            messages.success(request, _("The lead is saved."))
            return redirect("web:lead-detail", lead.pk)
    return render(request, "web/crm/lead_form.html", {"form": form, "lead": None})


def lead_detail_view(request: HttpRequest, lead_id: str) -> HttpResponse:
    actor = actor_of(request)
    lead = access_lead(actor, lead_id)
    state = processing_state(lead)
    return render(
        request,
        "web/crm/lead_detail.html",
        {
            "lead": lead,
            "privacy_state": state,
            "hidden": actor.hidden_fields_of("lead"),
            "members": member_names(actor),
            "consents": consents_at_a_glance(actor, lead),
            **detail_context(actor, lead, "lead", reveal=request.GET.get("reveal") == "special"),
            **timeline_context(actor, lead, state=state),
        },
    )


def lead_edit_view(request: HttpRequest, lead_id: str) -> HttpResponse:
    actor = actor_of(request)
    lead = access_lead(actor, lead_id, write=True)
    if lead.status == Lead.Status.CONVERTED:
        messages.info(request, _("This lead is converted; change the contact or the deal instead."))
        return redirect("web:lead-detail", lead.pk)
    custom = form_setup(actor, "lead", lead, shown=request.method == "GET")
    initial = {
        "first_name": lead.first_name,
        "last_name": lead.last_name,
        "email": lead.email,
        "phone": lead.phone,
        "company_name": lead.company_name,
        "job_title": lead.job_title,
        "status": lead.status,
        "disqualified_reason": lead.disqualified_reason,
        "source": lead.source,
        "interest": lead.interest,
        "owner": str(lead.owner_id or ""),
        "tags": ", ".join(lead.tags),
        "notes": lead.notes,
        **address_initial(lead),
        **custom.initial,
    }
    hidden = actor.hidden_fields_of("lead")
    form = _lead_form(actor, posted(request), {k: v for k, v in initial.items() if k not in hidden}, custom)
    if request.method == "POST" and form.is_valid():
        data = form.changes()
        try:
            services.lead_update(actor=actor, lead=lead, data=data)
        except ValidationFailed as error:
            attach_errors(form, error)
        else:
            messages.success(request, _("The lead is saved."))
            return redirect("web:lead-detail", lead.pk)
    return render(request, "web/crm/lead_form.html", {"form": form, "lead": lead})


@require_POST
def lead_delete_view(request: HttpRequest, lead_id: str) -> HttpResponse:
    actor = actor_of(request)
    lead = access_lead(actor, lead_id)
    services.lead_delete(actor=actor, lead=lead)
    messages.success(request, _("The lead is deleted."))
    return redirect("web:lead-list")


def lead_disqualify_view(request: HttpRequest, lead_id: str) -> HttpResponse:
    actor = actor_of(request)
    lead = access_lead(actor, lead_id, write=True)
    if lead.status == Lead.Status.CONVERTED:
        messages.info(request, _("This lead is converted; change the contact or the deal instead."))
        return redirect("web:lead-detail", lead.pk)
    form = LeadDisqualifyForm(posted(request))
    if request.method == "POST" and form.is_valid():
        data = {"status": Lead.Status.DISQUALIFIED, "disqualified_reason": form.cleaned_data["reason"]}
        try:
            services.lead_update(actor=actor, lead=lead, data=data)
        except ValidationFailed as error:
            attach_errors(form, error, rename={"disqualified_reason": "reason"})
        else:
            messages.success(request, _("The lead is disqualified."))
            return redirect("web:lead-detail", lead.pk)
    return render(request, "web/crm/lead_disqualify.html", {"form": form, "lead": lead})


def _existing_company(lead: Lead) -> Company | None:
    """The company conversion will link to: found by name, as `lead_convert` finds it."""
    if not lead.company_name:
        return None
    return Company.objects.annotate(name_lower=Lower("name")).filter(name_lower=lead.company_name.lower()).first()


def lead_convert_view(request: HttpRequest, lead_id: str) -> HttpResponse:
    """Show what conversion creates, then convert: contact, company found or new, optional deal."""
    actor = actor_of(request)
    lead = access_lead(actor, lead_id, write=True)
    if lead.status == Lead.Status.CONVERTED and lead.converted_contact_id:
        messages.info(request, _("This lead is converted already."))
        return redirect("web:contact-detail", lead.converted_contact_id)
    actor.require("contact.add")
    may_add_deal = actor.can("deal.add") and actor.can("pipeline.view")
    pipelines = [(str(p.pk), p.name) for p in pipeline_list(actor)] if may_add_deal else []
    if may_add_deal and not pipelines:
        default = pipeline_default(actor)
        pipelines = [(str(default.pk), default.name)]
    form = LeadConvertForm(
        posted(request),
        pipelines=pipelines,
        initial={"deal_name": lead.company_name or str(lead), "create_deal": may_add_deal},
    )
    if not may_add_deal:
        for name in ("create_deal", "deal_name", "amount", "currency", "pipeline", "expected_close"):
            del form.fields[name]
    company = _existing_company(lead)
    if request.method == "POST" and form.is_valid():
        create_deal = bool(form.cleaned_data.get("create_deal"))
        try:
            conversion = services.lead_convert(
                actor=actor,
                lead=lead,
                create_deal=create_deal,
                deal_name=form.cleaned_data.get("deal_name", ""),
                deal_data=form.deal_data() if create_deal else None,
            )
        except ValidationFailed as error:
            attach_errors(form, error, rename={"name": "deal_name"})
        except Conflict as error:
            form.add_error(None, error.detail)
        else:
            messages.success(request, _("The lead is converted."))
            return redirect("web:contact-detail", conversion.contact.pk)
    return render(
        request,
        "web/crm/lead_convert.html",
        {
            "form": form,
            "lead": lead,
            "company": company,
            "company_visible": company is not None and scoped(actor, Company.objects.filter(pk=company.pk)).exists(),
            "may_add_deal": may_add_deal,
            "hidden": actor.hidden_fields_of("lead"),
        },
    )
