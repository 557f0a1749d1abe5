"""Downloads of the contact, company, lead and deal lists, with the search and filters shown."""

from __future__ import annotations

import uuid

from django.http import HttpRequest, StreamingHttpResponse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_POST

from custos.crm.exports import Export, export_records
from custos.crm.selectors.deals import deal_list
from custos.crm.selectors.leads import lead_list
from custos.crm.selectors.people import company_list, contact_list
from custos.web.shortcuts import actor_of
from custos.web.views.deals import DEAL_STATUSES
from custos.web.views.leads import LEAD_STATUSES
from custos.web.views.listing import filter_value, list_filters, search_terms


def download(export: Export) -> StreamingHttpResponse:
    """The export streamed as an attachment: a long list never sits whole in memory."""
    response = StreamingHttpResponse(export.chunks, content_type=export.content_type)
    response["Content-Disposition"] = content_disposition_header(True, export.filename)
    return response


def _format(request: HttpRequest) -> str:
    return request.POST.get("format", "csv")[:8]


def _filters(request: HttpRequest) -> dict[str, str]:
    """The list's filters; the export keeps the order in which records were created."""
    filters = list_filters(request)
    filters.pop("order", None)
    return filters


@require_POST
def contact_export_view(request: HttpRequest) -> StreamingHttpResponse:
    actor = actor_of(request)
    q, _cursor = search_terms(request)
    contacts = contact_list(actor, q=q, filters=_filters(request)).select_related("company", "owner")
    return download(export_records(actor, "contact", contacts, file_format=_format(request)))


@require_POST
def company_export_view(request: HttpRequest) -> StreamingHttpResponse:
    actor = actor_of(request)
    q, _cursor = search_terms(request)
    companies = company_list(actor, q=q, filters=_filters(request))
    return download(export_records(actor, "company", companies, file_format=_format(request)))


@require_POST
def lead_export_view(request: HttpRequest) -> StreamingHttpResponse:
    actor = actor_of(request)
    q, _cursor = search_terms(request)
    status = filter_value(request, "status", LEAD_STATUSES)
    leads = lead_list(actor, q=q, status=status, filters=_filters(request)).select_related("owner")
    return download(export_records(actor, "lead", leads, file_format=_format(request)))


@require_POST
def deal_export_view(request: HttpRequest) -> StreamingHttpResponse:
    """Pipeline and stage filters are ids; one of another organisation matches nothing."""
    actor = actor_of(request)
    q, _cursor = search_terms(request)
    deals = deal_list(
        actor,
        q=q,
        status=filter_value(request, "status", DEAL_STATUSES),
        pipeline_id=_uuid_or_none(filter_value(request, "pipeline")),
        stage_id=_uuid_or_none(filter_value(request, "stage")),
    ).select_related("owner")
    return download(export_records(actor, "deal", deals, file_format=_format(request)))


def _uuid_or_none(value: str) -> str | None:
    try:
        return str(uuid.UUID(value)) if value else None
    except ValueError:
        return None
