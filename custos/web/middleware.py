"""The staff UI's request context: language, organisation, actor, second factor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequiredMiddleware
from django.http import HttpRequest, HttpResponse
from django.middleware.locale import LocaleMiddleware
from django.shortcuts import redirect
from django.utils import timezone, translation
from django.utils.cache import patch_cache_control
from django.utils.encoding import escape_uri_path
from django.utils.http import escape_leading_slashes
from django.utils.translation import gettext as _

from custos.accounts.access import actor_for, membership_for, needs_two_factor
from custos.accounts.models import Membership, User
from custos.core.actor import Via
from custos.core.net import client_ip, staff_link_organization
from custos.core.tenancy import enter_tenant

# Pages a member who still has to set up a second factor may reach.
TWO_FACTOR_SETUP_PATHS = ("/account/two-factor/", "/logout/", "/i18n/", "/static/")
# The query parameters by which a mail's link names its organisation (`core.net.staff_link`).
LINK_ORGANIZATION, LINK_SIGNATURE = "org", "sig"


class UserLanguageMiddleware(LocaleMiddleware):
    """The language a signed-in user chose in their profile wins over the browser's."""

    def process_request(self, request: HttpRequest) -> None:
        user = getattr(request, "user", None)
        language = getattr(user, "language", "") if user is not None and user.is_authenticated else ""
        if language and translation.check_for_language(language):
            translation.activate(language)
            request.LANGUAGE_CODE = translation.get_language()
            return
        super().process_request(request)


class OrganizationMiddleware:
    """Enter the signed-in member's current organisation and build their Actor."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.actor = None  # type: ignore[attr-defined]
        request.membership = None  # type: ignore[attr-defined]
        user: Any = request.user
        if request.path.startswith(("/api/", "/static/")) or not user.is_authenticated:
            return self.get_response(request)
        if request.method == "GET" and LINK_ORGANIZATION in request.GET:
            return self._follow_link(request, user)
        membership = self._membership(request, user)
        if membership is not None:
            enter_tenant(membership.org_id)
            request.membership = membership  # type: ignore[attr-defined]
            request.actor = actor_for(  # type: ignore[attr-defined]
                membership, via=Via.WEB, ip=client_ip(request), user_agent=request.headers.get("User-Agent", "")
            )
            if self._must_set_up_two_factor(request, user, membership):
                return redirect("web:two-factor-setup")
        timezone.activate(user.time_zone)
        try:
            response = self.get_response(request)
        finally:
            timezone.deactivate()
        if "Cache-Control" not in response:
            # Pages of a signed-in person hold personal data (and sometimes a secret shown
            # once): no browser cache, no shared proxy may keep them.
            patch_cache_control(response, private=True, no_store=True)
        return response

    @staticmethod
    def _follow_link(request: HttpRequest, user: Any) -> HttpResponse:
        """A mail's link names the organisation its page belongs to (`staff_link`): a member
        of it works there from now on, and lands on the page without the parameters. Only a
        page opened as such (not an image or a frame), and only by a link this server signed:
        another site cannot switch anyone's organisation."""
        query = request.GET.copy()
        wanted = query.pop(LINK_ORGANIZATION)[-1]
        signature = (query.pop(LINK_SIGNATURE, None) or [""])[-1]
        signed = staff_link_organization(request.path, wanted, signature)
        if signed and request.headers.get("Sec-Fetch-Dest", "document") == "document":
            membership = membership_for(user, signed)
            if membership is None:
                messages.error(request, _("You are not a member of that organisation."))
            elif str(membership.org_id) != str(request.session.get("org_id") or user.last_organization_id):
                choose_organization(request, membership)  # not where they would have been anyway
        # Encoded again, and never "//host": the page on this site, wherever the path points.
        path = escape_leading_slashes(escape_uri_path(request.path))
        return redirect(f"{path}?{query.urlencode()}" if query else path)

    @staticmethod
    def _membership(request: HttpRequest, user: Any) -> Membership | None:
        org_id = request.session.get("org_id") or user.last_organization_id
        membership = membership_for(user, org_id) if org_id else None
        if membership is None:
            membership = (
                Membership.objects.select_related("org")
                .filter(user=user, is_active=True)
                .order_by("created_at")
                .first()
            )
        if membership is not None and request.session.get("org_id") != str(membership.org_id):
            request.session["org_id"] = str(membership.org_id)
        return membership

    @staticmethod
    def _must_set_up_two_factor(request: HttpRequest, user: Any, membership: Membership) -> bool:
        if user.has_two_factor or request.path.startswith(TWO_FACTOR_SETUP_PATHS):
            return False
        return needs_two_factor(membership)


def choose_organization(request: HttpRequest, membership: Membership) -> None:
    """The member works in this organisation from now on, in this session and the next."""
    request.session["org_id"] = str(membership.org_id)
    User.objects.filter(pk=membership.user_id).update(last_organization=membership.org_id)
    messages.success(request, _("You are now working in %(org)s.") % {"org": membership.org.name})


class DomainErrorMiddleware:
    """Render a domain error that escaped a view as the page a person expects."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        from django.shortcuts import render

        from custos.core.errors import DomainError, NotFound, PermissionDenied

        if request.path.startswith("/api/") or not isinstance(exception, DomainError):
            return None
        from custos.web.shortcuts import NoOrganization

        if isinstance(exception, NoOrganization):
            return render(request, "web/no_organization.html", status=403)
        if isinstance(exception, NotFound):
            return render(request, "404.html", status=404)
        if isinstance(exception, PermissionDenied):
            return render(request, "403.html", status=403)
        return render(request, "web/error.html", {"message": exception.detail}, status=exception.status)


class LoginRequiredMiddleware(DjangoLoginRequiredMiddleware):
    """Every staff page needs a signed-in user unless marked @login_not_required.

    The API authenticates by token on its own, so it is left alone here.
    """

    def process_view(self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any) -> Any:
        if request.path.startswith("/api/"):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)
