"""What the list and detail pages share: posted searches, keyset pages, partial answers."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils import translation
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext as _

from custos.core.actor import Actor
from custos.core.errors import ValidationFailed
from custos.core.net import local_path
from custos.core.pagination import ListCount, decode_cursor, paginate
from custos.crm.selectors.filters import FILTERS, list_order
from custos.crm.selectors.records import searched_page
from custos.crm.services.custom_fields import fields_of
from custos.privacy.services.breaches import open_breach_titles
from custos.privacy.services.consent import purpose_names
from custos.search.text import query
from custos.web.custom_values import shown_value
from custos.web.selectors import member_names
from custos.web.shortcuts import actor_of

PAGE_SIZE = 50


def search_terms(request: HttpRequest) -> tuple[str, str | None]:
    """The words searched for come only in a POST body, never in the URL; the cursor either way."""
    q = query(request.POST.get("q", "")) if request.method == "POST" else ""
    data = request.POST if request.method == "POST" else request.GET
    return q, data.get("cursor") or None


def filter_value(request: HttpRequest, name: str, allowed: Any = None) -> str:
    """A list filter (never personal: a status, a pipeline id) from the query or the posted search."""
    data = request.POST if request.method == "POST" else request.GET
    value = data.get(name, "")[:64]
    if allowed is not None and value not in allowed:
        return ""
    return value


def posted(request: HttpRequest) -> Any:
    """The posted data for a form, or None on GET: a POST with no fields is still a submission."""
    return request.POST if request.method == "POST" else None


def submitted(request: HttpRequest, form: Any) -> dict[str, Any]:
    """A new record's data as the form sent it: a field left out (rather than emptied) gets
    the domain's default, such as the actor as owner. Values the form derives stay."""
    return {
        name: value for name, value in form.domain_data().items() if name in request.POST or name not in form.fields
    }


def page(queryset: Any, cursor: str | None, order: tuple[str, ...] = ("pk",)) -> tuple[list[Any], str | None]:
    try:
        return paginate(queryset, cursor=cursor, limit=PAGE_SIZE, order=order)
    except ValidationFailed:
        return paginate(queryset, cursor=None, limit=PAGE_SIZE, order=order)


def searched_list_page(
    actor: Actor, object_type: str, records: Any, q: str, cursor: str | None, order: tuple[str, ...] = ("pk",)
) -> tuple[list[Any], str | None, ListCount]:
    """A list page searched for q, its next cursor and the list's size; a cursor of another
    sort order or a tampered one starts again from the first page."""
    if cursor:
        try:
            decode_cursor(cursor, order)
        except ValidationFailed:
            cursor = None
    rows, next_cursor, count = searched_page(
        actor, object_type, records, q, cursor=cursor, order=order, limit=PAGE_SIZE
    )
    return rows, next_cursor, count or ListCount(0)


LIST_FILTERS = ("tag", "owner", "company", "country", "consent", "order")


def list_filters(request: HttpRequest) -> dict[str, str]:
    """A contact or company list's filters and sort order, posted with the search (a custom
    field's value may be personal, so the form posts them, like the words searched for)."""
    data = request.POST if request.method == "POST" else request.GET
    names = [*LIST_FILTERS, *sorted(key for key in data if key.startswith("custom_fields."))[:50]]
    return {name: data.get(name, "")[:200] for name in names if data.get(name, "").strip()}


def wants_partial(request: HttpRequest) -> bool:
    """An htmx request that swaps part of the page (a history restore needs the whole page)."""
    htmx: Any = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request


def next_url(request: HttpRequest, default: str) -> str:
    """Where to go back to after a small action: a local path the form named, else `default`."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    return local_path(request, target) or default


MAX_COLUMNS = 10


def _purposes() -> list[tuple[str, str]]:
    """The consent filter's choices: each purpose in use by its key and name."""
    return [(purpose.key, name) for purpose, name in purpose_names(translation.get_language() or "en")]


def custom_columns(
    request: HttpRequest, actor: Actor, object_type: str, rows: list[Any], definitions: list[Any] | None = None
) -> dict[str, Any]:
    """The custom fields the user chose to see as list columns (`columns`: their keys, in the
    address or posted with a search), and each row's values as people read them. Special-category
    fields are never columns: they are encrypted and each read of them is audited.
    `definitions`: the object type's custom fields, when the caller has read them already."""
    hidden = "custom_fields" in actor.hidden_fields_of(object_type)
    if definitions is None and not hidden:
        definitions = fields_of(object_type)
    offered = [] if hidden else [f for f in definitions or () if not f.is_special]
    data = request.POST if request.method == "POST" else request.GET
    wanted = {key.strip() for value in data.getlist("columns") for key in value[:1000].split(",")}
    columns = [f for f in offered if f.key in wanted][:MAX_COLUMNS]
    value = ",".join(f.key for f in columns)
    return {
        "column_choices": offered,
        "columns": columns,
        "columns_value": value,
        "column_values": {
            row.pk: [shown_value(f, (getattr(row, "custom_fields", None) or {}).get(f.key)) for f in columns]
            for row in rows
        },
        # Carried by the pager and the search like a filter, so that the next page keeps them.
        "column_filter": [("columns", value)] if value else [],
        "column_keep": [
            (name, item)
            for name in request.GET
            if name not in ("columns", "cursor")
            for item in request.GET.getlist(name)
        ][:20],
    }


# Stands for a row's id in a detail page's address: ids are UUIDs, which need no quoting.
_ROW_ID = "00000000-0000-0000-0000-000000000000"


def detail_urls(url_name: str, rows: list[Any]) -> list[str]:
    """Each row's detail page: the address is reversed once per page, not once per row."""
    pattern = reverse(url_name, args=[_ROW_ID])
    return [pattern.replace(_ROW_ID, str(row.pk)) for row in rows]


def filtered_list(request: HttpRequest, object_type: str, lister: Any, related: tuple[str, ...]) -> dict[str, Any]:
    """A list page (contacts, companies, leads): searched, filtered and sorted; a bad filter is shown
    beside the filters, with no rows, rather than silently ignored."""
    actor = actor_of(request)
    q, cursor = search_terms(request)
    filters = list_filters(request)
    order = filters.pop("order", "")
    errors: list[Any] = []
    rows: list[Any] = []
    next_cursor = None
    count = ListCount(0)
    try:
        ordering = list_order(object_type, order)
        records = lister(actor, q="", filters=filters)
        rows, next_cursor, count = searched_list_page(
            actor, object_type, records.select_related(*related) if related else records, q, cursor, ordering
        )
    except ValidationFailed as failure:
        errors = failure.errors
    chosen = {**filters, **({"order": order} if order else {})}
    definitions = fields_of(object_type)
    columns = custom_columns(request, actor, object_type, rows, definitions)
    return {
        **columns,
        "rows": rows,
        "count": count,
        "next_cursor": next_cursor,
        "q": q,
        "filters": sorted(chosen.items()) + columns["column_filter"],
        "chosen": chosen,
        "filter_errors": errors,
        "filter_fields": columns["column_choices"],  # the same: neither special nor hidden from the role
        # Only the whole page shows the filters' choices, not the part a search as you type swaps in.
        "members": SimpleLazyObject(lambda: member_names(actor)),
        "purposes": SimpleLazyObject(
            lambda: _purposes() if "consent" in FILTERS[object_type] and actor.can("consent.view") else []
        ),
        "orders": [
            ("", _("Oldest first")),
            ("-created", _("Newest first")),
            ("name", _("Name A–Z")),
            ("-name", _("Name Z–A")),
        ],
        "hidden": actor.hidden_fields_of(object_type),
        # A whole contact or lead list can be recorded as affected by an open breach.
        # Only for who may change breaches: no statement for anyone else.
        "open_breaches": SimpleLazyObject(
            lambda: (
                open_breach_titles(actor) if object_type in {"contact", "lead"} and actor.can("breach.change") else []
            )
        ),
    }
