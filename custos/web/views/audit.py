"""The audit log page, for those who may read it (Admins, the Privacy Officer)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from custos.accounts.models import Membership, User
from custos.audit.selectors import audit_list
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


def audit_log(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    actor.require("audit.view")
    members = [
        (str(user_id), email)
        for user_id, email in Membership.objects.filter(org_id=actor.org_id).values_list("user_id", "user__email")
    ]
    form = AuditFilterForm(request.GET or None, members=members)
    filters = form.cleaned_data if form.is_valid() else {}
    try:
        before = int(request.GET.get("before", "")) or None
    except ValueError:
        before = None
    entries = list(
        audit_list(
            actor,
            action=filters.get("action", ""),
            user_id=filters.get("user") or None,
            object_type=filters.get("object_type", ""),
            object_id=filters.get("object_id", ""),
            date_from=filters.get("date_from"),
            date_to=filters.get("date_to"),
            before_seq=before,
        )[: PAGE_SIZE + 1]
    )
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
            "via_labels": VIA_LABELS,
        },
    )
