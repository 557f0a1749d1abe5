"""Administering an organisation: members, roles, teams, settings, everyone's tokens."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from custos.accounts import services
from custos.accounts.access import access_membership
from custos.accounts.models import ApiToken, Membership, Role, Team, TeamMember
from custos.accounts.permissions import ACTION_LABELS, AREA_LABELS, OBJECT_TYPES
from custos.core.errors import Conflict, ValidationFailed
from custos.core.lookup import get_or_not_found
from custos.core.models import Organization
from custos.web.forms import MemberAddForm, MemberRoleForm, OrganizationForm, RoleForm, TeamForm, attach_errors
from custos.web.shortcuts import actor_of


def members(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    actor.require("member.view")
    form = MemberAddForm(request.POST or None)
    if request.method == "POST":
        actor.require("member.add")
        if form.is_valid():
            try:
                membership = services.member_add(
                    actor=actor, email=form.cleaned_data["email"], role=form.cleaned_data["role"]
                )
            except ValidationFailed as error:
                attach_errors(form, error)
            else:
                messages.success(
                    request,
                    _("%(email)s is now a member. An email tells them how to sign in.")
                    % {"email": membership.user.email},
                )
                return redirect("web:members")
    rows = Membership.objects.filter(org_id=actor.org_id).select_related("user", "role").order_by("user__email")
    return render(request, "web/organization/members.html", {"members": rows, "form": form})


def member_edit(request: HttpRequest, membership_id: str) -> HttpResponse:
    actor = actor_of(request)
    actor.require("member.change")
    membership = access_membership(actor, membership_id)
    form = MemberRoleForm(request.POST or None, initial={"role": membership.role_id})
    if request.method == "POST" and form.is_valid():
        try:
            services.member_change_role(actor=actor, membership=membership, role=form.cleaned_data["role"])
        except Conflict as error:
            form.add_error("role", error.detail)
        else:
            messages.success(request, _("The role is changed."))
            return redirect("web:members")
    return render(request, "web/organization/member_edit.html", {"membership": membership, "form": form})


@require_POST
def member_remove(request: HttpRequest, membership_id: str) -> HttpResponse:
    actor = actor_of(request)
    actor.require("member.delete")
    membership = access_membership(actor, membership_id)
    try:
        services.member_remove(actor=actor, membership=membership)
    except Conflict as error:
        messages.error(request, error.detail)
    else:
        messages.success(request, _("The member is removed."))
    return redirect("web:members")


def _permission_choices() -> list[tuple[str, str]]:
    return [
        (f"{t.key}.{a}", f"{AREA_LABELS[t.area]} · {t.label} · {ACTION_LABELS[a]}")
        for t in OBJECT_TYPES
        for a in t.actions
    ]


def roles(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    actor.require("role.view")
    form = RoleForm(request.POST or None, permission_choices=_permission_choices())
    if request.method == "POST":
        actor.require("role.add")
        if form.is_valid():
            data = form.domain_data()
            try:
                role = services.role_create(
                    actor=actor,
                    name=data["name"],
                    permissions=data["permissions"],
                    record_scope=data["record_scope"],
                    hidden_fields=data["hidden_fields"],
                )
            except ValidationFailed as error:
                attach_errors(form, error, rename={"hidden_fields": "restricted_fields"})
            else:
                messages.success(request, _("The role “%(name)s” is created.") % {"name": role.name})
                return redirect("web:roles")
    return render(
        request, "web/organization/roles.html", {"roles": Role.objects.order_by("is_system", "name"), "form": form}
    )


def role_edit(request: HttpRequest, role_id: str) -> HttpResponse:
    actor = actor_of(request)
    actor.require("role.change")
    role = get_or_not_found(Role.objects.all(), pk=role_id)
    initial = {
        "name": role.name,
        "record_scope": role.record_scope,
        "permissions": role.permissions,
        "restricted_fields": ", ".join(role.hidden_fields),
    }
    form = RoleForm(request.POST or None, initial=initial, permission_choices=_permission_choices())
    if request.method == "POST":
        if request.POST.get("delete"):
            try:
                services.role_delete(actor=actor, role=role)
            except Conflict as error:
                messages.error(request, error.detail)
                return redirect("web:role-edit", role.pk)
            messages.success(request, _("The role is deleted."))
            return redirect("web:roles")
        if form.is_valid():
            data = form.domain_data()
            try:
                services.role_update(
                    actor=actor,
                    role=role,
                    name=data["name"],
                    permissions=data["permissions"],
                    record_scope=data["record_scope"],
                    hidden_fields=data["hidden_fields"],
                )
            except ValidationFailed as error:
                attach_errors(form, error, rename={"hidden_fields": "restricted_fields"})
            except Conflict as error:
                form.add_error(None, error.detail)
            else:
                messages.success(request, _("The role is saved."))
                return redirect("web:roles")
    return render(request, "web/organization/role_edit.html", {"role": role, "form": form})


def teams(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    actor.require("team.view")
    form = TeamForm(request.POST or None)
    if request.method == "POST":
        actor.require("team.add")
        if form.is_valid():
            try:
                services.team_create(actor=actor, name=form.cleaned_data["name"])
            except ValidationFailed as error:
                attach_errors(form, error)
            else:
                messages.success(request, _("The team is created."))
                return redirect("web:teams")
    rows = Team.objects.order_by("name")
    member_rows = Membership.objects.filter(org_id=actor.org_id).select_related("user").order_by("user__email")
    team_members: dict[object, set[object]] = {team_id: set() for team_id in rows.values_list("pk", flat=True)}
    for team_id, user_id in TeamMember.objects.values_list("team_id", "user_id"):
        team_members.setdefault(team_id, set()).add(user_id)
    return render(
        request,
        "web/organization/teams.html",
        {"teams": rows, "form": form, "members": member_rows, "team_members": team_members},
    )


@require_POST
def team_members_save(request: HttpRequest, team_id: str) -> HttpResponse:
    actor = actor_of(request)
    team = get_or_not_found(Team.objects.all(), pk=team_id)
    if request.POST.get("delete"):
        services.team_delete(actor=actor, team=team)
        messages.success(request, _("The team is deleted."))
    else:
        services.team_set_members(actor=actor, team=team, user_ids=set(request.POST.getlist("members")))
        messages.success(request, _("The team is saved."))
    return redirect("web:teams")


def organization_settings(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    actor.require("organization.view")
    org = Organization.objects.get(pk=actor.org_id)
    form = OrganizationForm(
        request.POST or None,
        initial={"name": org.name, "country": org.country, "require_two_factor": org.require_two_factor},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.organization_update(actor=actor, org=org, **form.cleaned_data)
        except ValidationFailed as error:
            attach_errors(form, error)
        else:
            messages.success(request, _("The organisation settings are saved."))
            return redirect("web:organization")
    return render(request, "web/organization/settings.html", {"form": form, "org": org})


def all_tokens(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    actor.require("token.view")
    rows = ApiToken.objects.filter(org_id=actor.org_id).select_related("user")
    return render(request, "web/organization/tokens.html", {"tokens": rows})
