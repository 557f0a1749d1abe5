"""Deals in the staff UI: the board per pipeline, a list, detail with history, moves."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from custos.core.actor import Actor
from custos.core.errors import Conflict, PermissionDenied, ValidationFailed
from custos.core.validation import Cleaner
from custos.crm.models import Company, Contact, CustomField, Deal, Pipeline, Stage
from custos.crm.selectors.deals import access_deal, access_pipeline, board, deal_history, deal_list, pipeline_list
from custos.crm.selectors.records import scoped
from custos.crm.services import deals as services
from custos.crm.services.custom_fields import fields_of
from custos.privacy.services.restriction import processing_state
from custos.search.text import query
from custos.web.custom_values import CustomSetup, detail_context, form_setup
from custos.web.forms import DealForm, DealMoveForm, attach_errors
from custos.web.pickers import (
    company_by_id_label,
    company_label,
    contact_by_id_label,
    contact_label,
    linked_contact,
    with_company,
    with_contact,
)
from custos.web.selectors import member_names
from custos.web.shortcuts import actor_of
from custos.web.views.activities import timeline_context
from custos.web.views.listing import (
    custom_columns,
    filter_value,
    next_url,
    posted,
    search_terms,
    searched_list_page,
    submitted,
    wants_partial,
)

DEAL_STATUSES = [str(s) for s in Deal.Status.values]
# The board's company filter is a select, since its choice goes into the board's address as an
# id (a company's name may name a sole trader); the chosen company is always among them.
CHOICES_LIMIT = 500


def _pipelines(actor: Actor) -> list[Pipeline]:
    """Every pipeline with its stages; the first use of deals creates the default one."""
    pipelines = list(pipeline_list(actor))
    if not pipelines:
        services.pipeline_default(actor)
        pipelines = list(pipeline_list(actor))
    return pipelines


def _default_pipeline(pipelines: list[Pipeline]) -> Pipeline:
    return next((p for p in pipelines if p.is_default), pipelines[0])


# The board's filters that may sit in its address: ids, tags and dates, never a person's data.
BOARD_FILTERS = ("owner", "company", "tag", "close_from", "close_to")


@dataclass(frozen=True)
class BoardFilters:
    """What the board is narrowed to. `shown`: the filters given, by name; `in_address` the
    part kept in the board's URL. The words searched for and values of personal custom fields
    are posted, never put into an address (like the lists' searches); `posted` are those,
    which every card's move posts again, so that the board it answers with keeps them."""

    q: str
    shown: dict[str, str]
    in_address: str
    posted: tuple[tuple[str, str], ...] = ()


def _filter_fields() -> list[CustomField]:
    """The deal custom fields the board filters by: every one but special-category ones."""
    return [f for f in fields_of("deal") if not f.is_special]


def _board_filters(request: HttpRequest, custom: list[CustomField]) -> BoardFilters:
    personal = {f"custom_fields.{f.key}" for f in custom if f.category != CustomField.NOT_PERSONAL}
    given: dict[str, str] = {}
    for data in (request.GET, request.POST if request.method == "POST" else {}):
        for name in data:
            if (name in BOARD_FILTERS or name.startswith("custom_fields.")) and str(data.get(name, "")).strip():
                given[name] = str(data.get(name, ""))[:200]
    addressed = sorted((name, value) for name, value in given.items() if name not in personal)
    q = query(request.POST.get("q", "")) if request.method == "POST" else ""
    return BoardFilters(
        q=q,
        shown=dict(sorted(given.items())),
        in_address=urlencode(addressed),
        posted=(*((("q", q),) if q.strip() else ()), *sorted((n, v) for n, v in given.items() if n in personal)),
    )


def _board_deals(actor: Actor, pipeline: Pipeline, filters: BoardFilters) -> Any:
    """The pipeline's deals the filters let through; ValidationFailed naming each bad filter."""
    cleaner = Cleaner()
    close_from = cleaner.date("close_from", filters.shown.get("close_from"))
    close_to = cleaner.date("close_to", filters.shown.get("close_to"))
    if close_from and close_to and close_to < close_from:
        cleaner.fail("close_to", _("Choose a date on or after the start of the range."))
    try:
        deals = deal_list(
            actor,
            q=filters.q,
            pipeline_id=pipeline.pk,
            filters={k: v for k, v in filters.shown.items() if k not in ("close_from", "close_to")},
        )
    except ValidationFailed as failure:
        cleaner.errors.extend(failure.errors)
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    if close_from:
        deals = deals.filter(expected_close__gte=close_from)
    if close_to:
        deals = deals.filter(expected_close__lte=close_to)
    return deals


def _board_context(
    actor: Actor, pipeline: Pipeline, pipelines: list[Pipeline] | None = None, request: HttpRequest | None = None
) -> dict[str, Any]:
    custom = _filter_fields()
    filters = _board_filters(request, custom) if request is not None else BoardFilters("", {}, "")
    errors: list[Any] = []
    try:
        deals = _board_deals(actor, pipeline, filters)
    except ValidationFailed as failure:
        errors = failure.errors
        deals = deal_list(actor).none()
    columns = board(actor, pipeline, deals)
    currencies = set().union(*(column.currencies for column in columns))
    return {
        "filters": filters,
        "filter_errors": errors,
        "filter_fields": custom,
        "companies": _company_choices(actor, filters.shown.get("company", "")),
        "board_query": filters.in_address,
        "board_url": reverse("web:deal-board-pipeline", args=[pipeline.pk])
        + (f"?{filters.in_address}" if filters.in_address else ""),
        "pipeline": pipeline,
        "pipelines": pipelines if pipelines is not None else _pipelines(actor),
        "columns": columns,
        "stages": [(str(column.stage.pk), column.stage.name, column.stage.outcome) for column in columns],
        # An empty column shows 0 in the currency of the deals shown, when they have one.
        "currency": currencies.pop() if len(currencies) == 1 else "",
        "mixed_currencies": len(currencies) > 1,
        "members": member_names(actor),
        "hidden": actor.hidden_fields_of("deal"),
        "may_move": actor.can("deal.change"),
    }


def deal_board_view(request: HttpRequest, pipeline_id: str | None = None) -> HttpResponse:
    """The kanban board of one pipeline (the default one without an id)."""
    actor = actor_of(request)
    actor.require("deal.view")
    if "stage" in actor.hidden_fields_of("deal"):
        return redirect("web:deal-list")  # its columns are the stages this role may not see
    pipelines = _pipelines(actor)
    pipeline = access_pipeline(actor, pipeline_id) if pipeline_id else _default_pipeline(pipelines)
    return render(request, "web/crm/deal_board.html", _board_context(actor, pipeline, pipelines, request))


def _company_choices(actor: Actor, chosen: str) -> list[tuple[str, str]]:
    """Companies to narrow the board to; the chosen one always among them."""
    companies = scoped(actor, Company.objects.all()).order_by("name")
    choices = [(str(pk), name) for pk, name in companies.values_list("pk", "name")[:CHOICES_LIMIT]]
    if chosen and chosen not in {pk for pk, _name in choices}:
        with contextlib.suppress(Company.DoesNotExist, ValueError, DjangoValidationError):
            choices.insert(0, (chosen, companies.get(pk=chosen).name))
    return choices


def deal_list_view(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    actor.require("deal.view")
    q, cursor = search_terms(request)
    pipelines = _pipelines(actor)
    status = filter_value(request, "status", DEAL_STATUSES)
    pipeline_id = filter_value(request, "pipeline", [str(p.pk) for p in pipelines])
    stage_id = filter_value(request, "stage", [str(s.pk) for p in pipelines for s in p.stages.all()])
    hidden = actor.hidden_fields_of("deal")
    # A filter on a field the role may not see would tell its values all the same.
    status = "" if "status" in hidden else status
    stage_id = "" if "stage" in hidden else stage_id
    queryset = deal_list(actor, status=status, pipeline_id=pipeline_id or None, stage_id=stage_id or None)
    rows, next_cursor, count = searched_list_page(actor, "deal", queryset, q, cursor)
    columns = custom_columns(request, actor, "deal", rows)
    filters = [
        (name, value) for name, value in (("status", status), ("pipeline", pipeline_id), ("stage", stage_id)) if value
    ] + columns["column_filter"]
    context = {
        **columns,
        "count": count,
        "deals": rows,
        "next_cursor": next_cursor,
        "q": q,
        "status": status,
        "statuses": [(str(value), str(label)) for value, label in Deal.Status.choices],
        "pipeline_id": pipeline_id,
        "stage_id": stage_id,
        "pipelines": pipelines,
        "filters": filters,
        "hidden": actor.hidden_fields_of("deal"),
        "members": member_names(actor),
    }
    response = render(request, "web/crm/deal_list.html" + ("#results" if wants_partial(request) else ""), context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _deal_form(
    actor: Actor, data: Any, initial: dict[str, Any], deal: Deal | None = None, custom: CustomSetup | None = None
) -> DealForm:
    custom = custom or form_setup(actor, "deal", shown=False)
    pipelines = _pipelines(actor)
    stages = [(p.name, [(str(s.pk), s.name) for s in p.stages.all()]) for p in pipelines]
    pipeline_of_stage = {str(s.pk): str(p.pk) for p in pipelines for s in p.stages.all()}
    return DealForm(
        data,
        initial=initial,
        stages=stages,
        pipeline_of_stage=pipeline_of_stage,
        members=list(member_names(actor).items()),
        hidden=actor.hidden_fields_of("deal"),
        custom=custom.definitions,
        special=custom.special,
    )


def deal_create_view(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    actor.require("deal.add")
    pipelines = _pipelines(actor)
    first_open = next((s for s in _default_pipeline(pipelines).stages.all() if s.outcome == Stage.Outcome.OPEN), None)
    initial = {
        "owner": str(actor.user_id or ""),
        "currency": "EUR",
        "stage": request.GET.get("stage") or (str(first_open.pk) if first_open else ""),
        "company": company_by_id_label(actor, request.GET.get("company", "")),
        "contact": contact_by_id_label(actor, request.GET.get("contact", "")[:64]),
    }
    form = _deal_form(actor, posted(request), initial)
    if request.method == "POST" and form.is_valid():
        try:
            data = with_contact(actor, with_company(actor, submitted(request, form)))
            deal = services.deal_create(actor=actor, data=data)
        except ValidationFailed as error:
            attach_errors(form, error, rename={"pipeline": "stage"})
        else:
            messages.success(request, _("The deal is saved."))
            return redirect("web:deal-detail", deal.pk)
    return render(request, "web/crm/deal_form.html", {"form": form, "deal": None})


def deal_detail_view(request: HttpRequest, deal_id: str) -> HttpResponse:
    actor = actor_of(request)
    deal = access_deal(actor, deal_id)
    state = processing_state(deal)
    return render(
        request,
        "web/crm/deal_detail.html",
        {
            "deal": deal,
            "privacy_state": state,
            "history": list(deal_history(deal)),
            "hidden": actor.hidden_fields_of("deal"),
            "members": member_names(actor),
            **detail_context(actor, deal, "deal", reveal=request.GET.get("reveal") == "special"),
            "contact_visible": deal.contact_id is not None
            and actor.can("contact.view")
            and scoped(actor, Contact.objects.filter(pk=deal.contact_id)).exists(),
            "company_visible": deal.company_id is not None
            and actor.can("company.view")
            and scoped(actor, Company.objects.filter(pk=deal.company_id)).exists(),
            **timeline_context(actor, deal, state=state),
        },
    )


def deal_edit_view(request: HttpRequest, deal_id: str) -> HttpResponse:
    actor = actor_of(request)
    deal = access_deal(actor, deal_id, write=True)
    custom = form_setup(actor, "deal", deal, shown=request.method == "GET")
    contact = linked_contact(deal.contact_id)
    initial = {
        "name": deal.name,
        "stage": str(deal.stage_id),
        "amount": deal.amount,
        "currency": deal.currency,
        "expected_close": deal.expected_close,
        "lost_reason": deal.lost_reason,
        "owner": str(deal.owner_id or ""),
        "company": company_label(deal.company),
        "contact": contact_label(actor, contact),
        "tags": ", ".join(deal.tags),
        "notes": deal.notes,
        **custom.initial,
    }
    hidden = actor.hidden_fields_of("deal")
    form = _deal_form(actor, posted(request), {k: v for k, v in initial.items() if k not in hidden}, deal, custom)
    if request.method == "POST" and form.is_valid():
        data = form.changes()
        if "stage" in data:
            data["pipeline"] = form.pipeline_of_stage[data["stage"]]
        try:
            data = with_contact(actor, with_company(actor, data), current=contact)
            services.deal_update(actor=actor, deal=deal, data=data)
        except ValidationFailed as error:
            attach_errors(form, error, rename={"pipeline": "stage"})
        else:
            messages.success(request, _("The deal is saved."))
            return redirect("web:deal-detail", deal.pk)
    return render(request, "web/crm/deal_form.html", {"form": form, "deal": deal})


@require_POST
def deal_delete_view(request: HttpRequest, deal_id: str) -> HttpResponse:
    actor = actor_of(request)
    deal = access_deal(actor, deal_id)
    services.deal_delete(actor=actor, deal=deal)
    messages.success(request, _("The deal is deleted."))
    return redirect("web:deal-list")


def deal_move_view(request: HttpRequest, deal_id: str) -> HttpResponse:
    """Move a deal to another stage: the board's drag and drop (htmx, answered with the
    board) and its keyboard form (a page), asking for a reason when the stage is lost."""
    actor = actor_of(request)
    deal = access_deal(actor, deal_id, write=True)
    if not actor.may_see_field("deal", "stage"):
        raise PermissionDenied("deal.stage")  # the page names the stage the deal is in
    stages = list(deal.pipeline.stages.order_by("position"))
    form = DealMoveForm(
        request.POST if request.method == "POST" else None,
        stages=[(str(s.pk), s.name) for s in stages],
        initial={"stage": request.GET.get("stage") or str(deal.stage_id)},
    )
    board_url = reverse("web:deal-board-pipeline", args=[deal.pipeline_id])
    message = ""
    if request.method == "POST" and form.is_valid():
        stage = next(s for s in stages if str(s.pk) == form.cleaned_data["stage"])
        try:
            services.deal_move(actor=actor, deal=deal, stage=stage, lost_reason=form.cleaned_data["lost_reason"])
        except ValidationFailed as error:
            attach_errors(form, error)
        except Conflict as error:  # the person's processing is restricted
            form.add_error(None, str(error.detail))
        else:
            message = _("“%(deal)s” is now in %(stage)s.") % {"deal": deal.name, "stage": stage.name}
            if wants_partial(request):
                context = {
                    **_board_context(actor, deal.pipeline, request=request),
                    "board_message": message,
                    "moved": deal.pk,
                }
                return render(request, "web/crm/deal_board.html#board", context)
            messages.success(request, message)
            if _board_filters(request, _filter_fields()).posted:
                # A posted search cannot ride a redirect without entering an address: the board
                # is answered here (posting the same move again changes nothing).
                return render(request, "web/crm/deal_board.html", _board_context(actor, deal.pipeline, request=request))
            return redirect(next_url(request, board_url) + f"#deal-{deal.pk}")
    if request.method == "POST" and wants_partial(request):
        errors = [str(error) for errors in form.errors.values() for error in errors]
        context = {
            **_board_context(actor, deal.pipeline, request=request),
            "board_message": " ".join(errors),
            "moved": deal.pk,
        }
        return render(request, "web/crm/deal_board.html#board", context, status=422)
    return render(
        request,
        "web/crm/deal_move.html",
        {
            "form": form,
            "deal": deal,
            "stages": stages,
            "next": next_url(request, board_url),
            "posted": _board_filters(request, _filter_fields()).posted,
        },
    )
