"""What every page of the staff UI shows around its content."""

from __future__ import annotations

import functools
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext_lazy as _

from custos.accounts.access import organizations_of

# (url name, label, permission needed or None)
NAVIGATION = (
    ("web:home", _("Overview"), None),
    ("web:my-day", _("My day"), "activity.view"),
    ("web:appointment-calendar", _("Appointments"), "appointment.view"),
    ("web:lead-list", _("Leads"), "lead.view"),
    ("web:deal-board", _("Deals"), "deal.view"),
    ("web:contact-list", _("Contacts"), "contact.view"),
    ("web:company-list", _("Companies"), "company.view"),
    ("web:privacy-requests", _("Privacy requests"), "privacy_request.view"),
    ("web:purposes", _("Purposes"), "purpose.view"),
    ("web:breach-list", _("Breaches"), "breach.view"),
    ("web:processor-list", _("Processors"), "processor.view"),
    ("web:retention-policies", _("Retention"), "retention_policy.view"),
    ("web:processing-record", _("Record of processing"), "purpose.view"),
    ("web:audit-log", _("Audit log"), "audit.view"),
    ("web:members", _("Members"), "member.view"),
    ("web:roles", _("Roles"), "role.view"),
    ("web:teams", _("Teams"), "team.view"),
    ("web:pipelines", _("Pipelines"), "pipeline.change"),
    ("web:lead-rules", _("Lead rules"), "lead_rule.view"),
    ("web:lead-forms", _("Web forms"), "lead_rule.view"),
    ("web:custom-fields", _("Custom fields"), "organization.change"),
    ("web:organization", _("Organisation"), "organization.view"),
)


def shell(request: HttpRequest) -> dict[str, Any]:
    actor = getattr(request, "actor", None)
    user: Any = getattr(request, "user", None)
    context: dict[str, Any] = {"languages": settings.LANGUAGES, "actor": actor}
    if actor is not None and user is not None and user.is_authenticated:
        context["navigation"] = [
            (url, label, request.path == url or (url != "/" and request.path.startswith(url)))
            for url, label, permission in _navigation(get_script_prefix(), get_urlconf())
            if permission is None or actor.can(permission)
        ]
        # Read only when shown: a partial answer (a search as you type) has no page frame.
        context["organizations"] = SimpleLazyObject(lambda: organizations_of(user))
        context["current_organization"] = request.membership.org  # type: ignore[attr-defined]
    return context


@functools.lru_cache(maxsize=16)
def _navigation(script_prefix: str, urlconf: str | None) -> tuple[tuple[str, Any, str | None], ...]:
    """NAVIGATION with its addresses: reversed once per process, not on every page."""
    return tuple((reverse(name, urlconf=urlconf), label, permission) for name, label, permission in NAVIGATION)
