"""The one search box of the top bar: companies, contacts, leads and deals on one page."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from custos.crm.selectors.search import global_search
from custos.search.text import query
from custos.web.shortcuts import actor_of

# Object type → (heading, detail page), in the order the groups are shown.
GROUPS = {
    "contact": (_("Contacts"), "web:contact-detail"),
    "company": (_("Companies"), "web:company-detail"),
    "lead": (_("Leads"), "web:lead-detail"),
    "deal": (_("Deals"), "web:deal-detail"),
}
RESULTS_LIMIT = 50


def search_view(request: HttpRequest) -> HttpResponse:
    """The words come in a POST body only, so that they never sit in a URL or a log."""
    actor = actor_of(request)
    q = query(request.POST.get("q", "")) if request.method == "POST" else ""
    results = global_search(actor, q, limit=RESULTS_LIMIT) if q else []
    groups = []
    for object_type, (heading, url_name) in GROUPS.items():
        hits = [(r.label, reverse(url_name, args=[r.object_id])) for r in results if r.object_type == object_type]
        if hits:
            groups.append({"type": object_type, "heading": heading, "hits": hits})
    return render(request, "web/search.html", {"q": q, "groups": groups, "searched": bool(q)})
