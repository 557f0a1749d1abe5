from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency, format_decimal
from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import capfirst
from django.utils.translation import get_language, gettext, to_locale

from custos.web.forms import country_choices
from custos.web.labels import ACTIVITY_KINDS, person_name, phone_number

register = template.Library()


@register.filter
def get_item(mapping: Any, key: Any) -> Any:
    """`mapping|get_item:key` — a dict lookup by a variable key."""
    if not hasattr(mapping, "get"):
        return None
    return mapping.get(key)


@register.filter
def shown_name(record: Any, actor: Any) -> str:
    """A contact's or lead's name as this actor may see it: hidden fields never show through."""
    hidden = actor.hidden_fields_of(record._meta.model_name) if actor is not None else frozenset()
    return person_name(record, hidden)


def _locale() -> Locale:
    try:
        return Locale.parse(to_locale(get_language() or "en"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")


@register.filter
def money(amount: Decimal | int | None, currency: str = "") -> str:
    """An amount in the reader's locale: `1.250,50 €` in German, `€1,250.50` in English;
    without a currency, the number alone."""
    if amount is None or amount == "":
        return "—"
    if not currency:
        return format_decimal(amount, format="#,##0.00", locale=_locale())
    return format_currency(amount, currency, locale=_locale())


@register.filter
def number(value: int | Decimal | None) -> str:
    """A count or number with the reader's digit grouping."""
    if value is None:
        return ""
    return format_decimal(value, locale=_locale())


@register.filter
def points(value: int | None) -> str:
    """Points with their sign, as a score's reasons show them: “+20”, and a true minus sign (U+2212) for “-30”."""
    if value is None:
        return ""
    shown = format_decimal(abs(value), locale=_locale())
    if value > 0:
        return f"+{shown}"
    return f"\u2212{shown}" if value < 0 else shown


@register.filter
def member_name(members: dict[str, str], user_id: Any) -> str:
    """A member's name from `member_names`, by user id; a dash for nobody or a former member."""
    if user_id is None:
        return "—"
    return members.get(str(user_id), "—")


@register.filter
def activity_kind(kind: str) -> str:
    """The label of an activity's kind (note, task, call, email, meeting)."""
    return str(ACTIVITY_KINDS.get(kind, capfirst(kind)))


@register.filter
def country_name(code: str) -> str:
    """An ISO country code as the country's name in the language of the request."""
    if not code:
        return ""
    try:
        names = Locale.parse(to_locale(get_language() or "en")).territories
    except (UnknownLocaleError, ValueError):
        return code
    return str(names.get(code, code))


register.filter("phone_number", phone_number)


@register.simple_tag
def country_options(chosen: str = "") -> SafeString:
    """The options of a country select, `chosen` selected: made once per language and process,
    since a list page's filters offer every country and rendering them was a good part of it."""
    options = _country_options(get_language() or "en")
    # Each part was escaped by format_html.
    return SafeString("".join(selected if chosen and code == chosen else plain for code, plain, selected in options))


@functools.lru_cache(maxsize=64)
def _country_options(language: str) -> tuple[tuple[str, str, str], ...]:
    """(code, option, the option selected) by country name in `language` (the active one);
    the empty choice first, labelled "All"."""
    options = []
    for code, name in country_choices():
        label = name if code else gettext("All")
        plain = format_html('<option value="{}">{}</option>', code, label)
        options.append((code, plain, format_html('<option value="{}" selected>{}</option>', code, label)))
    return tuple(options)
