"""Contacts and companies in the staff UI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from custos.core.errors import ValidationFailed
from custos.crm.models import Company, Contact, Deal
from custos.crm.selectors.deals import deal_list
from custos.crm.selectors.people import (
    access_affiliation,
    access_company,
    access_contact,
    affiliations_of,
    company_list,
    contact_list,
    people_of,
)
from custos.crm.services import people as services
from custos.crm.services.custom_fields import fields_of
from custos.privacy.services.restriction import processing_state
from custos.web.custom_values import form_setup, shown_values
from custos.web.forms import CompanyForm, ContactForm, address_initial, attach_errors, points_as_text
from custos.web.labels import person_name, phone_number
from custos.web.pickers import company_from_label, company_label, company_options, contact_options, with_company
from custos.web.selectors import consents_at_a_glance
from custos.web.shortcuts import actor_of
from custos.web.views.activities import timeline_context
from custos.web.views.duplicates import duplicates_of, possible_duplicates
from custos.web.views.listing import detail_urls, filtered_list, wants_partial
from custos.web.views.scheduling import contact_appointments_context


def _deals_of(actor: Any, *, contact: Contact | None = None, company: Company | None = None) -> list[Deal] | None:
    """The deals of a contact or company the actor may see, newest first; None without the right."""
    if not actor.can("deal.view"):
        return None
    link = {"contact": contact} if contact is not None else {"company": company}
    return list(deal_list(actor).filter(**link).order_by("-created_at")[:50])


def _list_response(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    response = render(request, template + ("#results" if wants_partial(request) else ""), context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@dataclass(frozen=True, slots=True)
class ContactRow:
    """A line of the contact list, worked out in Python: rendering fifty rows through the
    template's lookups, filters and `{% url %}` tags was most of the page's time."""

    url: str
    name: str
    email: str
    phone: str
    company: str
    values: list[str]  # the custom fields chosen as columns, as people read them


def _contact_rows(contacts: list[Contact], context: dict[str, Any]) -> list[ContactRow]:
    hidden, values = context["hidden"], context["column_values"]
    return [
        ContactRow(
            url=url,
            name=person_name(contact, hidden),
            email=contact.email,
            phone=phone_number(contact.phone) if "phone" not in hidden else "",
            company=contact.company.name if contact.company and "company" not in hidden else "",
            values=values.get(contact.pk, []),
        )
        for contact, url in zip(contacts, detail_urls("web:contact-detail", contacts), strict=True)
    ]


def contact_list_view(request: HttpRequest) -> HttpResponse:
    context = filtered_list(request, "contact", contact_list, ("company",))
    context["contacts"] = _contact_rows(context.pop("rows"), context)
    return _list_response(request, "web/crm/contact_list.html", context)


def company_options_view(request: HttpRequest) -> HttpResponse:
    """The options of a company picker for what was typed so far (the input's own value)."""
    actor = actor_of(request)
    if not wants_partial(request):  # a plain visit, not the picker asking: the list it picks from
        return redirect("web:company-list")
    typed = str(next(iter(request.GET.values()), ""))
    return render(request, "web/widgets/company_options.html", {"options": company_options(actor, typed)})


@require_POST
def contact_options_view(request: HttpRequest) -> HttpResponse:
    """The options of a contact picker for what was typed so far. Posted only: what is typed
    may be an email, and a picked label holds one, which stays out of addresses and logs."""
    actor = actor_of(request)
    if not wants_partial(request):  # not the picker asking: the list it picks from
        return redirect("web:contact-list")
    data = request.POST
    typed = data.get("q") or next((value for name, value in data.items() if name != "csrfmiddlewaretoken"), "")
    response = render(request, "web/widgets/company_options.html", {"options": contact_options(actor, str(typed))})
    patch_cache_control(response, private=True, no_store=True)  # people's emails: kept by no cache
    return response


def contact_create_view(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    actor.require("contact.add")
    form = ContactForm(
        request.POST or None,
        show_special=actor.can("special_category.change"),
        hidden=actor.hidden_fields_of("contact"),
        custom=fields_of("contact"),
    )
    # The same person may be here already: say so before saving, unless told to save anyway.
    duplicates = possible_duplicates(request, actor) if request.method == "POST" and form.is_valid() else []
    if request.method == "POST" and form.is_valid() and not duplicates:
        try:
            contact = services.contact_create(actor=actor, data=with_company(actor, form.domain_data()))
        except ValidationFailed as error:
            attach_errors(form, error)
        else:
            messages.success(request, _("The contact is saved."))
            return redirect("web:contact-detail", contact.pk)
    return render(request, "web/crm/contact_form.html", {"form": form, "contact": None, "duplicates": duplicates})


def contact_detail_view(request: HttpRequest, contact_id: str) -> HttpResponse:
    actor = actor_of(request)
    contact = access_contact(actor, contact_id)
    special = None
    if actor.can("special_category.view") and request.GET.get("reveal") == "special":
        special = services.contact_read_special(actor=actor, contact=contact)
    state = processing_state(contact)
    return render(
        request,
        "web/crm/contact_detail.html",
        {
            "contact": contact,
            "privacy_state": state,
            "points": [
                point
                for point in services.points_of(contact)
                if actor.may_see_field("contact", "email" if point.email else "phone")
            ],
            "special": special,
            "has_special": bool(contact.health_notes or contact.custom_special),
            "custom_values": shown_values(actor, contact, "contact"),
            "special_custom_values": shown_values(actor, contact, "contact", revealed=special["custom_fields"])
            if special
            else [],
            "hidden": actor.hidden_fields_of("contact"),
            "deals": _deals_of(actor, contact=contact),
            "deal_hidden": actor.hidden_fields_of("deal"),
            "affiliations": list(affiliations_of(actor, contact)),
            "may_add_affiliation": actor.can("contact.change") and actor.can("company.view") and not state,
            "consents": consents_at_a_glance(actor, contact),
            **duplicates_of(actor, contact),
            **contact_appointments_context(actor, contact),
            **timeline_context(actor, contact, state=state),
        },
    )


@require_POST
def contact_affiliation_add_view(request: HttpRequest, contact_id: str) -> HttpResponse:
    actor = actor_of(request)
    contact = access_contact(actor, contact_id, write=True)
    try:
        company = company_from_label(actor, "company", request.POST.get("company", "")[:240])
        data = {"company": str(company.pk) if company else "", "role": request.POST.get("role", "")}
        services.affiliation_add(actor=actor, contact=contact, data=data)
    except ValidationFailed as failure:
        for error in failure.errors:
            messages.error(request, error.message)
    else:
        messages.success(request, _("The company is added."))
    return redirect("web:contact-detail", contact.pk)


@require_POST
def contact_affiliation_remove_view(request: HttpRequest, contact_id: str, affiliation_id: str) -> HttpResponse:
    actor = actor_of(request)
    contact = access_contact(actor, contact_id, write=True)
    services.affiliation_remove(actor=actor, affiliation=access_affiliation(actor, contact, affiliation_id))
    messages.success(request, _("The company is removed."))
    return redirect("web:contact-detail", contact.pk)


def contact_edit_view(request: HttpRequest, contact_id: str) -> HttpResponse:
    actor = actor_of(request)
    contact = access_contact(actor, contact_id, write=True)
    custom = form_setup(
        actor, "contact", contact, shown=request.method == "GET", builtin=services.SPECIAL_CONTACT_FIELDS
    )
    points = services.stored_points(contact)
    initial = {
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "email": contact.email,
        "phone": contact.phone,
        "other_emails": points_as_text(points["other_emails"], "email"),
        "other_phones": points_as_text(points["other_phones"], "phone"),
        "language": contact.language,
        "contract_ends_on": contact.contract_ends_on,
        **address_initial(contact),
        "company": company_label(contact.company),
        "tags": ", ".join(contact.tags),
        "notes": contact.notes,
        **custom.initial,
    }
    hidden = actor.hidden_fields_of("contact")
    form = ContactForm(
        request.POST or None,
        initial={name: value for name, value in initial.items() if name not in hidden},
        show_special=custom.special,
        hidden=hidden,
        custom=custom.definitions,
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.contact_update(actor=actor, contact=contact, data=with_company(actor, form.changes()))
        except ValidationFailed as error:
            attach_errors(form, error)
        else:
            messages.success(request, _("The contact is saved."))
            return redirect("web:contact-detail", contact.pk)
    return render(request, "web/crm/contact_form.html", {"form": form, "contact": contact})


@require_POST
def contact_delete_view(request: HttpRequest, contact_id: str) -> HttpResponse:
    actor = actor_of(request)
    actor.require("contact.delete")
    contact = access_contact(actor, contact_id)
    services.contact_delete(actor=actor, contact=contact)
    messages.success(request, _("The contact is deleted."))
    return redirect("web:contact-list")


def company_list_view(request: HttpRequest) -> HttpResponse:
    context = filtered_list(request, "company", company_list, ())
    rows = context.pop("rows")
    context["companies"] = list(zip(rows, detail_urls("web:company-detail", rows), strict=True))
    return _list_response(request, "web/crm/company_list.html", context)


def company_create_view(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    actor.require("company.add")
    form = CompanyForm(request.POST or None, hidden=actor.hidden_fields_of("company"), custom=fields_of("company"))
    if request.method == "POST" and form.is_valid():
        try:
            company = services.company_create(actor=actor, data=form.domain_data())
        except ValidationFailed as error:
            attach_errors(form, error)
        else:
            messages.success(request, _("The company is saved."))
            return redirect("web:company-detail", company.pk)
    return render(request, "web/crm/company_form.html", {"form": form, "company": None})


def company_detail_view(request: HttpRequest, company_id: str) -> HttpResponse:
    actor = actor_of(request)
    company = access_company(actor, company_id)
    people = people_of(actor, company) if actor.can("contact.view") else []
    return render(
        request,
        "web/crm/company_detail.html",
        {
            "company": company,
            "people": people,
            "custom_values": shown_values(actor, company, "company"),
            "hidden": actor.hidden_fields_of("company"),
            "deals": _deals_of(actor, company=company),
            "deal_hidden": actor.hidden_fields_of("deal"),
            **timeline_context(actor, company),
        },
    )


def company_edit_view(request: HttpRequest, company_id: str) -> HttpResponse:
    actor = actor_of(request)
    company = access_company(actor, company_id, write=True)
    custom = form_setup(actor, "company", company, shown=request.method == "GET")
    initial = {
        "name": company.name,
        "vat_id": company.vat_id,
        "website": company.website,
        "email": company.email,
        "phone": company.phone,
        **address_initial(company),
        "tags": ", ".join(company.tags),
        **custom.initial,
    }
    hidden = actor.hidden_fields_of("company")
    form = CompanyForm(
        request.POST or None,
        initial={k: v for k, v in initial.items() if k not in hidden},
        hidden=hidden,
        custom=custom.definitions,
    )
    if request.method == "POST" and form.is_valid():
        data = form.changes()
        try:
            services.company_update(actor=actor, company=company, data=data)
        except ValidationFailed as error:
            attach_errors(form, error)
        else:
            messages.success(request, _("The company is saved."))
            return redirect("web:company-detail", company.pk)
    return render(request, "web/crm/company_form.html", {"form": form, "company": company})


@require_POST
def company_delete_view(request: HttpRequest, company_id: str) -> HttpResponse:
    actor = actor_of(request)
    actor.require("company.delete")
    company = access_company(actor, company_id)
    services.company_delete(actor=actor, company=company)
    messages.success(request, _("The company is deleted."))
    return redirect("web:company-list")
