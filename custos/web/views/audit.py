"""The audit log page, for those who may read it (Admins, the Privacy Officer)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from custos.accounts.models import Membership, User
from custos.audit.exports import audit_export
from custos.audit.models import AuditEntry
from custos.audit.selectors import audit_list
from custos.core.actor import Actor
from custos.web.forms import AuditFilterForm
from custos.web.shortcuts import actor_of

PAGE_SIZE = 100
VIA_LABELS = {
    "web": _("web"),
    "api": _("API"),
    "portal": _("privacy portal"),
    "cli": _("command line"),
    "automation": _("automation"),
    "system": _("system"),
}


def _members(actor: Actor) -> list[tuple[str, str]]:
    return [
        (str(user_id), email)
        for user_id, email in Membership.objects.filter(org_id=actor.org_id).values_list("user_id", "user__email")
    ]


def _filtered(actor: Actor, query: QueryDict) -> tuple[AuditFilterForm, dict[str, Any], QuerySet[AuditEntry]]:
    """The filter form as submitted, the filters it gave, and the entries they select."""
    form = AuditFilterForm(query or None, members=_members(actor))
    filters = {name: value for name, value in form.cleaned_data.items() if value} if form.is_valid() else {}
    entries = audit_list(
        actor,
        action=filters.get("action", ""),
        user_id=filters.get("user") or None,
        object_type=filters.get("object_type", ""),
        object_id=filters.get("object_id", ""),
        date_from=filters.get("date_from"),
        date_to=filters.get("date_to"),
    )
    return form, filters, entries


def audit_log(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    actor.require("audit.view")
    form, _filters, entries_of_filter = _filtered(actor, request.GET)
    try:
        before = int(request.GET.get("before", "")) or None
    except ValueError:
        before = None
    if before:
        entries_of_filter = entries_of_filter.filter(seq__lt=before)
    entries = list(entries_of_filter[: PAGE_SIZE + 1])
    more = len(entries) > PAGE_SIZE
    entries = entries[:PAGE_SIZE]
    users = dict(
        User.objects.filter(pk__in={e.actor_user_id for e in entries if e.actor_user_id}).values_list("pk", "email")
    )
    query = request.GET.copy()
    query.pop("before", None)
    return render(
        request,
        "web/audit/log.html",
        {
            "form": form,
            "entries": entries,
            "users": users,
            "next_before": entries[-1].seq if more and entries else None,
            "query": query.urlencode(),
            "filters": [(name, query.get(name, "")) for name in form.fields if query.get(name)],
            "via_labels": VIA_LABELS,
            "may_export": actor.can("audit.export"),
        },
    )


@require_POST
def audit_export_view(request: HttpRequest) -> StreamingHttpResponse:
    """The entries the page's filters select, as CSV, oldest first."""
    actor = actor_of(request)
    actor.require("audit.view")
    _form, filters, entries = _filtered(actor, request.POST)
    names = dict(_members(actor))
    chunks = audit_export(actor, entries, names=names, filters=list(filters))
    response = StreamingHttpResponse(chunks, content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y-%m-%d")
    response["Content-Disposition"] = content_disposition_header(True, f"audit-log-{stamp}.csv")
    return response
