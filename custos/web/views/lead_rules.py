"""Lead rules in the settings: points for scoring, who gets which lead, and reps' caps and absences."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from custos.core.errors import ValidationFailed
from custos.crm.selectors.rules import (
    access_assignment_rule,
    access_rep,
    access_scoring_rule,
    assignment_rule_list,
    rep_capacity_of,
    reps,
    scoring_rule_list,
)
from custos.crm.services import rules as services
from custos.web.forms import attach_errors
from custos.web.lead_rules import (
    AssignmentRuleForm,
    RepCapacityForm,
    ScoringRuleForm,
    assignment_initial,
    describe_assignment_rule,
    describe_scoring_rule,
    scorable_fields,
)
from custos.web.selectors import member_names
from custos.web.shortcuts import actor_of
from custos.web.views.listing import posted

FORM = "web/organization/lead_rule_form.html"


def lead_rules(request: HttpRequest) -> HttpResponse:
    """Every rule with what it does, and every rep with what decides whether they get leads."""
    actor = actor_of(request)
    actor.require("lead_rule.view")
    field_names = dict(scorable_fields())
    members = member_names(actor)
    scoring = [(rule, describe_scoring_rule(rule, field_names)) for rule in scoring_rule_list(actor)]
    assignment = [
        (rule, describe_assignment_rule(rule), [members.get(str(user.pk), "—") for user in rule.reps.all()])
        for rule in assignment_rule_list(actor)
    ]
    return render(
        request,
        "web/organization/lead_rules.html",
        {"scoring_rules": scoring, "assignment_rules": assignment, "reps": reps(actor)},
    )


def _saved(request: HttpRequest, message: str) -> HttpResponse:
    messages.success(request, message)
    return redirect("web:lead-rules")


def scoring_rule_create_view(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    actor.require("lead_rule.add")
    form = ScoringRuleForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            rule = services.scoring_rule_create(actor=actor, data=form.domain_data())
        except ValidationFailed as error:
            attach_errors(form, error)
        else:
            return _saved(
                request,
                _("The scoring rule “%(name)s” is saved; every open lead is scored again.") % {"name": rule.name},
            )
    return render(request, FORM, {"form": form, "title": _("New scoring rule")})


def scoring_rule_edit_view(request: HttpRequest, scoring_rule_id: str) -> HttpResponse:
    actor = actor_of(request)
    rule = access_scoring_rule(actor, scoring_rule_id, write=True)
    initial = {name: getattr(rule, name) for name in services.SCORING_FIELDS}
    form = ScoringRuleForm(posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.scoring_rule_update(actor=actor, rule=rule, data=form.domain_data())
        except ValidationFailed as error:
            attach_errors(form, error)
        else:
            return _saved(
                request,
                _("The scoring rule “%(name)s” is saved; every open lead is scored again.") % {"name": rule.name},
            )
    return render(
        request,
        FORM,
        {
            "form": form,
            "title": _("Scoring rule: %(name)s") % {"name": rule.name},
            "delete_url": "web:scoring-rule-delete",
            "rule": rule,
        },
    )


@require_POST
def scoring_rule_delete_view(request: HttpRequest, scoring_rule_id: str) -> HttpResponse:
    actor = actor_of(request)
    actor.require("lead_rule.delete")
    rule = access_scoring_rule(actor, scoring_rule_id)
    services.scoring_rule_delete(actor=actor, rule=rule)
    return _saved(request, _("The scoring rule “%(name)s” is deleted.") % {"name": rule.name})


def _assignment_form(request: HttpRequest, initial: dict[str, object] | None = None) -> AssignmentRuleForm:
    members = list(member_names(actor_of(request)).items())
    return AssignmentRuleForm(posted(request), initial=initial, members=members)


def assignment_rule_create_view(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    actor.require("lead_rule.add")
    form = _assignment_form(request)
    if request.method == "POST" and form.is_valid():
        try:
            rule = services.assignment_rule_create(actor=actor, data=form.domain_data())
        except ValidationFailed as error:
            attach_errors(form, error)
        else:
            return _saved(request, _("The assignment rule “%(name)s” is saved.") % {"name": rule.name})
    return render(request, FORM, {"form": form, "title": _("New assignment rule")})


def assignment_rule_edit_view(request: HttpRequest, assignment_rule_id: str) -> HttpResponse:
    actor = actor_of(request)
    rule = access_assignment_rule(actor, assignment_rule_id, write=True)
    form = _assignment_form(request, assignment_initial(rule))
    if request.method == "POST" and form.is_valid():
        try:
            services.assignment_rule_update(actor=actor, rule=rule, data=form.domain_data())
        except ValidationFailed as error:
            attach_errors(form, error)
        else:
            return _saved(request, _("The assignment rule “%(name)s” is saved.") % {"name": rule.name})
    return render(
        request,
        FORM,
        {
            "form": form,
            "title": _("Assignment rule: %(name)s") % {"name": rule.name},
            "delete_url": "web:assignment-rule-delete",
            "rule": rule,
        },
    )


@require_POST
def assignment_rule_delete_view(request: HttpRequest, assignment_rule_id: str) -> HttpResponse:
    actor = actor_of(request)
    actor.require("lead_rule.delete")
    rule = access_assignment_rule(actor, assignment_rule_id)
    services.assignment_rule_delete(actor=actor, rule=rule)
    return _saved(request, _("The assignment rule “%(name)s” is deleted.") % {"name": rule.name})


def rep_capacity_edit_view(request: HttpRequest, user_id: str) -> HttpResponse:
    actor = actor_of(request)
    member = access_rep(actor, user_id, write=True)
    capacity = rep_capacity_of(member.user_id)
    initial = (
        {"max_open_leads": capacity.max_open_leads, "away_from": capacity.away_from, "away_until": capacity.away_until}
        if capacity
        else {}
    )
    form = RepCapacityForm(posted(request), initial=initial)
    name = member.user.full_name or member.user.email
    if request.method == "POST" and form.is_valid():
        try:
            services.rep_capacity_set(actor=actor, user_id=member.user_id, data=form.domain_data())
        except ValidationFailed as error:
            attach_errors(form, error)
        else:
            return _saved(request, _("The leads and absence of %(name)s are saved.") % {"name": name})
    return render(request, FORM, {"form": form, "title": _("Leads and absence of %(name)s") % {"name": name}})
