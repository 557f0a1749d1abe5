"""Type-ahead pickers: a record chosen by typing its name, for lists too long for a select.

The field is a text input tied to a `<datalist>` that htmx refills as the user types; the
browser offers the options natively, and without JavaScript the exact name (or VAT ID)
typed still works. A name several companies share is told apart by its VAT ID or city
("Nordwind GmbH · Hamburg"), and the server reads the same label back.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models.functions import Lower
from django.utils.translation import gettext as _

from custos.core.actor import Actor
from custos.core.errors import ValidationFailed
from custos.crm.models import Company
from custos.crm.selectors.people import company_list

SEPARATOR = " · "
OPTIONS = 20


class CompanyPicker(forms.TextInput):
    template_name = "web/widgets/company_picker.html"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__({"autocomplete": "off", "maxlength": "240", **(attrs or {})})


def company_field(label: Any, *, required: bool = False) -> forms.CharField:
    return forms.CharField(label=label, required=required, max_length=240, widget=CompanyPicker())


def _qualified(company: Company) -> str:
    """A company's name with what tells it from others of the same name."""
    return f"{company.name}{SEPARATOR}{company.vat_id or company.city or str(company.pk)[-6:]}"


def _labels(companies: list[Company]) -> list[str]:
    """Each company by its name, qualified where the name alone is not unique."""
    names = [c.name.casefold() for c in companies]
    return [_qualified(c) if names.count(c.name.casefold()) > 1 else c.name for c in companies]


def company_options(actor: Actor, text: str) -> list[str]:
    """Labels of the companies the actor may see that match what was typed, names first."""
    text = text.strip()[:200]
    if len(text) < 2 or not actor.can("company.view"):
        return []
    by_name: list[Company] = list(
        company_list(actor)
        .annotate(lower_name=Lower("name"))
        .filter(lower_name__startswith=text.lower())
        .order_by("name")[:OPTIONS]
    )
    if len(by_name) < OPTIONS:
        seen = {c.pk for c in by_name}
        by_name += [c for c in company_list(actor, q=text)[: OPTIONS * 2] if c.pk not in seen][: OPTIONS - len(by_name)]
    # Every company of a shared name is listed, so that its label tells it from the others.
    shared = {c.name.casefold() for c in by_name}
    twins = company_list(actor).annotate(lower_name=Lower("name")).filter(lower_name__in=shared)[: OPTIONS * 2]
    return _labels(sorted({c.pk: c for c in [*by_name, *twins]}.values(), key=lambda c: c.name.casefold()))


def company_from_label(actor: Actor, field: str, text: str) -> Company | None:
    """The company a picker's text names: by its label, its name, or its VAT ID. Empty: none."""
    text = text.strip()
    if not text:
        return None
    if not actor.can("company.view"):
        raise ValidationFailed.single(field, _("Your role may not see companies, so it cannot choose one."))
    visible = company_list(actor).annotate(lower_name=Lower("name"))
    name, separator, qualifier = text.rpartition(SEPARATOR)
    if separator:
        for company in visible.filter(lower_name=name.strip().lower())[:50]:
            if qualifier.strip().casefold() in {
                company.vat_id.casefold(),
                company.city.casefold(),
                str(company.pk)[-6:],
            }:
                return company
    named = list(visible.filter(lower_name=text.lower())[:2])
    if len(named) == 1:
        return named[0]
    if len(named) > 1:
        raise ValidationFailed.single(field, _("Several companies have this name: choose one from the list."))
    compact = "".join(ch for ch in text.upper() if ch.isalnum())
    by_vat = list(visible.filter(vat_id=compact)[:2]) if compact else []
    if len(by_vat) == 1:
        return by_vat[0]
    raise ValidationFailed.single(field, _("No company of this name: check the spelling, or create the company first."))


def company_label(company: Company | None) -> str:
    """What the picker shows for a chosen company (on an edit form)."""
    if company is None:
        return ""
    twins = Company.objects.annotate(lower_name=Lower("name")).filter(lower_name=company.name.lower())
    return company.name if twins.count() < 2 else _qualified(company)


def company_by_id_label(actor: Actor, company_id: str) -> str:
    """The picker's text for a company named by id (a link such as "new deal for this
    company"); empty for one the actor may not see or that does not exist."""
    if not company_id or not actor.can("company.view"):
        return ""
    try:
        return company_label(company_list(actor).filter(pk=company_id).first())
    except (ValueError, DjangoValidationError):
        return ""


def with_company(actor: Actor, data: dict[str, Any], field: str = "company") -> dict[str, Any]:
    """A form's data with the company picked by its label, as the domain takes it (an id)."""
    if field in data:
        company = company_from_label(actor, field, data[field] or "")
        data[field] = str(company.pk) if company else None
    return data
