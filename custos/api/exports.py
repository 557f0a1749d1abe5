"""/contacts/export, /companies/export, /leads/export, /deals/export: a list as CSV or XLSX.

Registered before the item routes, so that `export` is never taken for a record id.
"""

from __future__ import annotations

from django.http import HttpRequest, StreamingHttpResponse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from ninja import Router

from custos.api.rendering import actor_of, choice_filter, list_filters, record_filter
from custos.crm.exports import Export, export_records
from custos.crm.models import Deal, Lead
from custos.crm.selectors.deals import access_pipeline, access_stage, deal_list
from custos.crm.selectors.leads import lead_list
from custos.crm.selectors.people import company_list, contact_list

router = Router(tags=["exports"])

FILE_TYPES = {
    "text/csv": {"schema": {"type": "string"}},
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
        "schema": {"type": "string", "format": "binary"}
    },
}
DOWNLOAD = {"responses": {200: {"description": "The file, as an attachment", "content": FILE_TYPES}}}


def _download(export: Export) -> StreamingHttpResponse:
    """Streamed: a long list never sits whole in memory."""
    response = StreamingHttpResponse(export.chunks, content_type=export.content_type)
    response["Content-Disposition"] = content_disposition_header(True, export.filename)
    return response


@router.get("/contacts/export", summary="Export contacts as CSV or XLSX", openapi_extra=DOWNLOAD)
def export_contacts(
    request: HttpRequest,
    q: str = "",
    tag: str = "",
    owner: str = "",
    company: str = "",
    country: str = "",
    consent: str = "",
    format: str = "csv",
) -> StreamingHttpResponse:
    """The contacts the list would show (with `q` and the list's filters), in the columns the
    member may see; `format` is csv (UTF-8 with a byte-order mark) or xlsx. Formulas are
    neutralised; the export is audited."""
    actor = actor_of(request)
    filters = list_filters(request, tag=tag, owner=owner, company=company, country=country, consent=consent)
    contacts = contact_list(actor, q=q, filters=filters).select_related("company", "owner")
    return _download(export_records(actor, "contact", contacts, file_format=format))


@router.get("/companies/export", summary="Export companies as CSV or XLSX", openapi_extra=DOWNLOAD)
def export_companies(
    request: HttpRequest, q: str = "", tag: str = "", owner: str = "", country: str = "", format: str = "csv"
) -> StreamingHttpResponse:
    actor = actor_of(request)
    companies = company_list(actor, q=q, filters=list_filters(request, tag=tag, owner=owner, country=country))
    return _download(export_records(actor, "company", companies, file_format=format))


@router.get("/leads/export", summary="Export leads as CSV or XLSX", openapi_extra=DOWNLOAD)
def export_leads(
    request: HttpRequest,
    q: str = "",
    status: str = "",
    tag: str = "",
    owner: str = "",
    country: str = "",
    consent: str = "",
    format: str = "csv",
) -> StreamingHttpResponse:
    actor = actor_of(request)
    status = choice_filter("status", status, Lead.Status.values)
    filters = list_filters(request, tag=tag, owner=owner, country=country, consent=consent)
    leads = lead_list(actor, q=q, status=status, filters=filters).select_related("owner")
    return _download(export_records(actor, "lead", leads, file_format=format))


@router.get("/deals/export", summary="Export deals as CSV or XLSX", openapi_extra=DOWNLOAD)
def export_deals(
    request: HttpRequest,
    q: str = "",
    pipeline: str | None = None,
    stage: str | None = None,
    status: str = "",
    tag: str = "",
    owner: str = "",
    company: str = "",
    format: str = "csv",
) -> StreamingHttpResponse:
    actor = actor_of(request)
    status = choice_filter("status", status, Deal.Status.values)
    in_pipeline = record_filter(
        "pipeline", pipeline, lambda pk: access_pipeline(actor, pk), _("Choose an existing pipeline.")
    )
    in_stage = record_filter("stage", stage, lambda pk: access_stage(actor, pk), _("Choose an existing stage."))
    deals = deal_list(
        actor,
        q=q,
        pipeline_id=in_pipeline.pk if in_pipeline else None,
        stage_id=in_stage.pk if in_stage else None,
        status=status,
        filters=list_filters(request, tag=tag, owner=owner, company=company),
    ).select_related("owner")
    return _download(export_records(actor, "deal", deals, file_format=format))
