"""Django's admin, for platform operators only: organisations and accounts, never tenant data."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.http import urlencode

from custos.accounts.models import Membership, User
from custos.core.models import Organization


class PlatformAdminSite(admin.AdminSite):
    """Django's admin behind Custos's own sign-in (lockout, second factor), for operators only."""

    site_header = "Custos platform"
    site_title = "Custos platform"

    def has_permission(self, request: HttpRequest) -> bool:
        user: Any = request.user
        return bool(user.is_active and user.is_staff and user.has_two_factor)

    @method_decorator(login_not_required)
    def login(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        target = request.GET.get("next") or reverse("admin:index")
        if not request.user.is_authenticated:
            return redirect(f"{reverse('web:sign-in')}?{urlencode({'next': target})}")
        if self.has_permission(request):
            return redirect(target if target.startswith("/platform-admin/") else reverse("admin:index"))
        # Signed in, but not an operator with a second factor: no way in from here.
        return render(request, "403.html", status=403)


platform_site = PlatformAdminSite(name="admin")


class NoLogEntries(admin.ModelAdmin):  # type: ignore[type-arg]
    """Django's admin log stores each object's text (an email); Custos logs ids only."""

    def log_addition(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        return None

    def log_change(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        return None

    def log_deletions(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        return None


@admin.register(Organization, site=platform_site)
class OrganizationAdmin(NoLogEntries):
    list_display = ("name", "slug", "country", "require_two_factor", "created_at")
    search_fields = ("name", "slug")
    readonly_fields = ("slug", "created_at")

    def has_add_permission(self, request: Any) -> bool:
        return False  # `custos tenant create` makes one whole: data key, roles, owner, audit chain

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False  # an organisation ends through offboarding, which exports and certifies


@admin.register(User, site=platform_site)
class UserAdmin(NoLogEntries):
    list_display = ("email", "full_name", "is_active", "is_staff", "date_joined", "last_login")
    search_fields = ("email",)
    fields = ("email", "full_name", "language", "time_zone", "is_active", "is_staff", "is_superuser")


@admin.register(Membership, site=platform_site)
class MembershipAdmin(NoLogEntries):
    list_display = ("user", "org", "is_active", "created_at")
    list_select_related = ("user", "org")
    fields = ("user", "org", "is_active")
    readonly_fields = ("user", "org")

    def has_add_permission(self, request: Any) -> bool:
        return False  # members are added inside the organisation, where it is audited
