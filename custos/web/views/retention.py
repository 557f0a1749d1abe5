"""Staff pages of the privacy engine: retention policies, their previews and runs, and legal holds.

A policy is created switched off; its preview page shows what it would do now and offers to
enable it, so nobody enables a policy without having seen its counts.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.apps import apps
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from custos.core.errors import Conflict, ValidationFailed
from custos.privacy.models import RetentionPolicy
from custos.privacy.services import retention as services
from custos.web.forms import attach_errors
from custos.web.shortcuts import actor_of
from custos.web.views.listing import page, posted

TEMPLATES = "web/privacy/retention/"


def key_label(key: str) -> str:
    """A retention key as staff read it: the records it governs, then the key itself."""
    names = [capfirst(str(d.model._meta.verbose_name_plural)) for d in services.retention_keys().get(key, ())]
    return f"{', '.join(names)} ({key})" if names else key


def describe_policy(policy: RetentionPolicy) -> str:
    """“Anonymise 365 days after the last change”, in words."""
    match policy.condition:
        case RetentionPolicy.Condition.CREATED:
            when = ngettext("%(days)d day after creation", "%(days)d days after creation", policy.days)
        case RetentionPolicy.Condition.DEAL_LOST:
            when = ngettext(
                "%(days)d day after the person's deals were lost",
                "%(days)d days after the person's deals were lost",
                policy.days,
            )
        case RetentionPolicy.Condition.CONTRACT_END:
            when = ngettext(
                "%(days)d day after the person's contract ended",
                "%(days)d days after the person's contract ended",
                policy.days,
            )
        case _:
            when = ngettext("%(days)d day after the last change", "%(days)d days after the last change", policy.days)
    when = when % {"days": policy.days}
    if policy.action == RetentionPolicy.Action.DELETE:
        return _("Delete %(when)s") % {"when": when}
    return _("Anonymise %(when)s") % {"when": when}


class RetentionPolicyForm(forms.Form):
    key = forms.ChoiceField(label=gettext_lazy("Record type"))
    condition = forms.ChoiceField(
        label=gettext_lazy("Due after"),
        choices=RetentionPolicy.Condition.choices,
        required=False,
        help_text=gettext_lazy(
            "Lost deals: once none of the person's deals is open or won, counted from the last one lost "
            "(a deal itself counts from its own loss). Contract end: counted from the latest "
            "“contract ends on” day of the person's contacts."
        ),
    )
    days = forms.IntegerField(label=gettext_lazy("Days"), required=False, min_value=1, max_value=36500)
    action = forms.ChoiceField(label=gettext_lazy("Then"), choices=RetentionPolicy.Action.choices, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["key"].choices = [(key, key_label(key)) for key in services.retention_keys()]  # type: ignore[attr-defined]
        self.fields["days"].help_text = _("From 1 to 36,500 days (100 years).")

    def domain_data(self) -> dict[str, Any]:
        return {name: self.cleaned_data.get(name) for name in ("key", "condition", "days", "action")}


class LegalHoldForm(forms.Form):
    subject = forms.CharField(
        label=gettext_lazy("Person"),
        max_length=40,
        help_text=gettext_lazy("The person's reference (S-…), as their record or a privacy request shows it."),
        widget=forms.TextInput(attrs={"dir": "ltr", "autocomplete": "off"}),
    )
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))
    until = forms.CharField(
        label=gettext_lazy("Last day"),
        required=False,
        max_length=10,
        help_text=gettext_lazy("Leave empty to hold until released."),
        widget=forms.DateInput(attrs={"type": "date"}),
    )


def _policy_rows(request: HttpRequest) -> list[dict[str, Any]]:
    actor = actor_of(request)
    return [
        {
            "policy": policy,
            "label": key_label(policy.key),
            "rule": describe_policy(policy),
            "counts": services.retention_preview(policy),
        }
        for policy in services.retention_policy_list(actor).order_by("key")
    ]


def retention_policies(request: HttpRequest) -> HttpResponse:
    """Every policy with what it would do today, and the legal holds in force."""
    actor = actor_of(request)
    actor.require("retention_policy.view")
    holds = services.legal_hold_list(actor, active_only=True).select_related("subject").order_by("-created_at")
    return render(request, TEMPLATES + "list.html", {"rows": _policy_rows(request), "holds": list(holds[:200])})


def _form_page(request: HttpRequest, form: RetentionPolicyForm, **context: Any) -> HttpResponse:
    return render(request, TEMPLATES + "form.html", {"form": form, **context})


def retention_policy_create_view(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    actor.require("retention_policy.add")
    form = RetentionPolicyForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            policy = services.retention_policy_create(actor=actor, data=form.domain_data())
        except ValidationFailed as error:
            attach_errors(form, error)
        else:
            messages.success(request, _("The policy is saved, switched off. Check its preview, then enable it."))
            return redirect("web:retention-policy-preview", policy.pk)
    return _form_page(request, form, title=_("New retention policy"))


def retention_policy_edit_view(request: HttpRequest, retention_policy_id: str) -> HttpResponse:
    actor = actor_of(request)
    policy = services.access_retention_policy(actor, retention_policy_id, write=True)
    initial = {name: getattr(policy, name) for name in ("key", "condition", "days", "action")}
    form = RetentionPolicyForm(posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        was_enabled = policy.is_enabled
        try:
            policy = services.retention_policy_update(actor=actor, policy=policy, data=form.domain_data())
        except ValidationFailed as error:
            attach_errors(form, error)
        else:
            if was_enabled and not policy.is_enabled:
                messages.warning(request, _("The policy changed, so it is switched off: check its preview again."))
            else:
                messages.success(request, _("The policy is saved."))
            return redirect("web:retention-policy-preview", policy.pk)
    return _form_page(
        request, form, policy=policy, title=_("Retention policy: %(type)s") % {"type": key_label(policy.key)}
    )


@require_POST
def retention_policy_delete_view(request: HttpRequest, retention_policy_id: str) -> HttpResponse:
    actor = actor_of(request)
    actor.require("retention_policy.delete")
    policy = services.access_retention_policy(actor, retention_policy_id)
    services.retention_policy_delete(actor=actor, policy=policy)
    messages.success(request, _("The policy is deleted."))
    return redirect("web:retention-policies")


def retention_policy_preview_view(request: HttpRequest, retention_policy_id: str) -> HttpResponse:
    """What the policy would do now; from here it is enabled or run."""
    actor = actor_of(request)
    policy = services.access_retention_policy(actor, retention_policy_id)
    counts = services.retention_policy_preview(actor=actor, policy=policy)
    return render(
        request,
        TEMPLATES + "preview.html",
        {
            "policy": policy,
            "label": key_label(policy.key),
            "rule": describe_policy(policy),
            "counts": counts,
            "record_types": [_type_name(label) for label in services.record_types(policy.key)],
            "also_deleted": [(_type_name(label), count) for label, count in sorted(counts.also_deleted.items())],
        },
    )


def _type_name(label: str) -> str:
    """A record type as staff know it ("Appointments"), not its internal label."""
    return capfirst(str(apps.get_model(label)._meta.verbose_name_plural))


def _switch(request: HttpRequest, retention_policy_id: str, *, enabled: bool) -> HttpResponse:
    actor = actor_of(request)
    policy = services.access_retention_policy(actor, retention_policy_id, write=True)
    try:
        services.retention_policy_update(actor=actor, policy=policy, data={"is_enabled": enabled})
    except ValidationFailed as error:
        for item in error.errors:
            messages.error(request, item.message)
        return redirect("web:retention-policy-preview", policy.pk)
    if enabled:
        messages.success(request, _("The policy is enabled: it runs every day."))
    else:
        messages.success(request, _("The policy is switched off."))
    return redirect("web:retention-policies")


@require_POST
def retention_policy_enable_view(request: HttpRequest, retention_policy_id: str) -> HttpResponse:
    return _switch(request, retention_policy_id, enabled=True)


@require_POST
def retention_policy_disable_view(request: HttpRequest, retention_policy_id: str) -> HttpResponse:
    return _switch(request, retention_policy_id, enabled=False)


@require_POST
def retention_policy_run_view(request: HttpRequest, retention_policy_id: str) -> HttpResponse:
    actor = actor_of(request)
    policy = services.access_retention_policy(actor, retention_policy_id, write=True)
    try:
        run = services.retention_run(actor=actor, policy=policy)
    except Conflict as error:
        messages.error(request, error.detail)
        return redirect("web:retention-policy-preview", policy.pk)
    messages.success(
        request,
        _("The policy ran. Records changed: %(processed)d; kept by legal holds: %(held)d.")
        % {"processed": run.processed, "held": run.held},
    )
    return redirect("web:retention-policy-runs", policy.pk)


def retention_policy_runs_view(request: HttpRequest, retention_policy_id: str) -> HttpResponse:
    actor = actor_of(request)
    policy = services.access_retention_policy(actor, retention_policy_id)
    runs, next_cursor = page(services.retention_run_list(actor, policy), request.GET.get("cursor"), order=("-pk",))
    return render(
        request,
        TEMPLATES + "runs.html",
        {"policy": policy, "label": key_label(policy.key), "runs": runs, "next_cursor": next_cursor},
    )


def legal_hold_create_view(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    actor.require("retention_policy.add")
    form = LegalHoldForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.legal_hold_create(actor=actor, data=form.cleaned_data)
        except ValidationFailed as error:
            attach_errors(form, error)
        else:
            messages.success(request, _("The legal hold is in force: this person is neither erased nor retained."))
            return redirect("web:retention-policies")
    return render(request, TEMPLATES + "hold_form.html", {"form": form})


@require_POST
def legal_hold_release_view(request: HttpRequest, legal_hold_id: str) -> HttpResponse:
    actor = actor_of(request)
    hold = services.access_legal_hold(actor, legal_hold_id, write=True)
    try:
        services.legal_hold_release(actor=actor, hold=hold)
    except Conflict as error:
        messages.error(request, error.detail)
    else:
        messages.success(request, _("The legal hold is released."))
    return redirect("web:retention-policies")


urlpatterns: list[URLPattern] = [
    path("privacy/retention/", retention_policies, name="retention-policies"),
    path("privacy/retention/new/", retention_policy_create_view, name="retention-policy-create"),
    path("privacy/retention/<str:retention_policy_id>/", retention_policy_edit_view, name="retention-policy-edit"),
    path(
        "privacy/retention/<str:retention_policy_id>/preview/",
        retention_policy_preview_view,
        name="retention-policy-preview",
    ),
    path(
        "privacy/retention/<str:retention_policy_id>/enable/",
        retention_policy_enable_view,
        name="retention-policy-enable",
    ),
    path(
        "privacy/retention/<str:retention_policy_id>/disable/",
        retention_policy_disable_view,
        name="retention-policy-disable",
    ),
    path("privacy/retention/<str:retention_policy_id>/run/", retention_policy_run_view, name="retention-policy-run"),
    path("privacy/retention/<str:retention_policy_id>/runs/", retention_policy_runs_view, name="retention-policy-runs"),
    path(
        "privacy/retention/<str:retention_policy_id>/delete/",
        retention_policy_delete_view,
        name="retention-policy-delete",
    ),
    path("privacy/legal-holds/new/", legal_hold_create_view, name="legal-hold-create"),
    path("privacy/legal-holds/<str:legal_hold_id>/release/", legal_hold_release_view, name="legal-hold-release"),
]
