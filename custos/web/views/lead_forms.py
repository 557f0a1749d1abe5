"""Web-to-lead forms: the staff builder, and the public pages a visitor fills in.

The public pages (`forms/…`) need no account. The hosted form may be framed by any site
(that is what the embed snippet does), so only it drops X-Frame-Options and allows every
frame ancestor; every other page keeps `frame-ancestors 'none'`. It is exempt from CSRF:
inside another site's frame the browser withholds our cookies, so a token could never
match; an anonymous form changes nothing of anyone's, and the honeypot and the per-address
rate limit stand against robots instead.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils import translation
from django.utils.cache import patch_cache_control
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csp import csp_override
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from custos.core.errors import ValidationFailed
from custos.core.net import client_ip
from custos.core.tenancy import tenant_scope
from custos.crm.models import LeadForm
from custos.crm.models.forms import ASKABLE_FIELDS
from custos.crm.selectors.forms import access_lead_form, lead_form_list, lead_form_submissions
from custos.crm.services import forms as services
from custos.privacy.services.consent import in_language, purpose_names, purpose_text
from custos.web.forms import attach_errors
from custos.web.shortcuts import actor_of
from custos.web.views.listing import posted

LANGUAGES = settings.LANGUAGES
LANGUAGE_CODES = tuple(code for code, _name in LANGUAGES)
ASK_CHOICES = (
    ("", gettext_lazy("not asked")),
    ("optional", gettext_lazy("optional")),
    ("required", gettext_lazy("required")),
)
FIELD_LABELS = {
    "first_name": gettext_lazy("First name"),
    "last_name": gettext_lazy("Last name"),
    "email": gettext_lazy("Email"),
    "phone": gettext_lazy("Phone"),
    "company_name": gettext_lazy("Company"),
    "job_title": gettext_lazy("Job title"),
    "interest": gettext_lazy("What are you interested in?"),
    "country": gettext_lazy("Country"),
}
INPUT_TYPES = {"email": "email", "phone": "tel"}
AUTOCOMPLETE = {
    "first_name": "given-name",
    "last_name": "family-name",
    "email": "email",
    "phone": "tel",
    "company_name": "organization",
    "job_title": "organization-title",
    "country": "country",
}
# Any site may frame the hosted form; everything else of the policy stays as configured.
FRAMEABLE_CSP: dict[str, Collection[str] | str] = {
    **cast(dict[str, Collection[str] | str], settings.SECURE_CSP),
    "frame-ancestors": ["*"],
}


# The builder ----------------------------------------------------------------------------


class LeadFormForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    is_active = forms.BooleanField(label=gettext_lazy("Active: visitors can fill it in"), required=False)
    tags = forms.CharField(
        label=gettext_lazy("Tags for its leads"),
        required=False,
        max_length=500,
        help_text=gettext_lazy("Separated by commas."),
    )

    def __init__(self, *args: Any, purposes: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ASKABLE_FIELDS:
            self.fields[f"ask_{name}"] = forms.ChoiceField(
                label=FIELD_LABELS[name], choices=ASK_CHOICES, required=False
            )
        self.fields["purposes"] = forms.MultipleChoiceField(
            label=gettext_lazy("Consent checkboxes"),
            choices=purposes,
            required=False,
            widget=forms.CheckboxSelectMultiple,
            help_text=gettext_lazy(
                "One checkbox per purpose, with its text at its current version. Marketing purposes "
                "are confirmed by an emailed link (double opt-in)."
            ),
        )
        for code, language_name in LANGUAGES:
            self.fields[f"thank_you_{code}"] = forms.CharField(
                label=_("Thank-you text (%(language)s)") % {"language": language_name},
                required=False,
                max_length=2000,
                widget=forms.Textarea(attrs={"rows": 2, "lang": code}),
            )

    def domain_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "is_active": bool(data["is_active"]),
            "tags": [tag.strip() for tag in data["tags"].split(",") if tag.strip()],
            "fields": [
                {"name": name, "required": data[f"ask_{name}"] == "required"}
                for name in ASKABLE_FIELDS
                if data.get(f"ask_{name}")
            ],
            "purposes": list(data["purposes"]),
            "thank_you": {code: data[f"thank_you_{code}"] for code, _n in LANGUAGES if data[f"thank_you_{code}"]},
        }


def _initial(form: LeadForm) -> dict[str, Any]:
    initial: dict[str, Any] = {
        "name": form.name,
        "is_active": form.is_active,
        "tags": ", ".join(form.tags),
        "purposes": [str(p.pk) for p in form.purposes.all()],
    }
    for item in form.fields:
        initial[f"ask_{item['name']}"] = "required" if item.get("required") else "optional"
    for code, _n in LANGUAGES:
        initial[f"thank_you_{code}"] = form.thank_you.get(code, "")
    return initial


def _purpose_choices() -> list[tuple[str, str]]:
    choices = []
    for purpose, name in purpose_names(translation.get_language() or "en"):
        if purpose.is_marketing:
            name = _("%(name)s (marketing: double opt-in)") % {"name": name}
        choices.append((str(purpose.pk), name))
    return choices


def _builder_form(request: HttpRequest, initial: dict[str, Any] | None = None) -> LeadFormForm:
    return LeadFormForm(posted(request), initial=initial or {"is_active": True}, purposes=_purpose_choices())


def _rename() -> dict[str, str]:
    return {"thank_you": f"thank_you_{LANGUAGE_CODES[0]}", "fields": "ask_email"}


def hosted_url(request: HttpRequest, form: LeadForm) -> str:
    return request.build_absolute_uri(reverse("web:lead-form-public", kwargs={"public_key": form.public_key}))


def lead_form_list_view(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    return render(request, "web/lead_forms/list.html", {"forms": lead_form_list(actor)})


def lead_form_create_view(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    actor.require("lead_rule.change")
    form = _builder_form(request)
    if request.method == "POST" and form.is_valid():
        try:
            created = services.lead_form_create(actor=actor, data=form.domain_data())
        except ValidationFailed as error:
            attach_errors(form, error, _rename())
        else:
            messages.success(request, _("The web form “%(name)s” is saved.") % {"name": created.name})
            return redirect("web:lead-form-edit", created.pk)
    return render(request, "web/lead_forms/form.html", {"form": form, "title": _("New web form")})


def lead_form_edit_view(request: HttpRequest, lead_form_id: str) -> HttpResponse:
    actor = actor_of(request)
    lead_form = access_lead_form(actor, lead_form_id, write=True)
    form = _builder_form(request, _initial(lead_form))
    if request.method == "POST" and form.is_valid():
        try:
            services.lead_form_update(actor=actor, form=lead_form, data=form.domain_data())
        except ValidationFailed as error:
            attach_errors(form, error, _rename())
        else:
            messages.success(request, _("The web form “%(name)s” is saved.") % {"name": lead_form.name})
            return redirect("web:lead-form-edit", lead_form.pk)
    url = hosted_url(request, lead_form)
    snippet = format_html(
        '<iframe src="{}" title="{}" width="100%" height="720" loading="lazy" referrerpolicy="strict-origin"></iframe>',
        url,
        lead_form.name,
    )
    return render(
        request,
        "web/lead_forms/form.html",
        {
            "form": form,
            "lead_form": lead_form,
            "title": _("Web form: %(name)s") % {"name": lead_form.name},
            "hosted_url": url,
            "snippet": snippet,
        },
    )


@require_POST
def lead_form_delete_view(request: HttpRequest, lead_form_id: str) -> HttpResponse:
    actor = actor_of(request)
    lead_form = access_lead_form(actor, lead_form_id, write=True)
    services.lead_form_delete(actor=actor, form=lead_form)
    messages.success(request, _("The web form “%(name)s” is deleted.") % {"name": lead_form.name})
    return redirect("web:lead-forms")


def lead_form_submissions_view(request: HttpRequest, lead_form_id: str) -> HttpResponse:
    actor = actor_of(request)
    lead_form = access_lead_form(actor, lead_form_id)
    submissions = lead_form_submissions(actor, lead_form)
    hidden = actor.hidden_fields_of("lead")
    return render(
        request,
        "web/lead_forms/submissions.html",
        {
            "lead_form": lead_form,
            "submissions": submissions,
            "hidden": hidden,
            "columns": 2 + len({"score", "status"} - hidden),
        },
    )


# The public face ----------------------------------------------------------------------


def _visitor_language(request: HttpRequest) -> str:
    """The language asked for by the page (`?language=de`, as an embedding site sets it),
    else the browser's."""
    chosen = request.POST.get("language") or request.GET.get("language") or getattr(request, "LANGUAGE_CODE", "")
    language = chosen if chosen in LANGUAGE_CODES else settings.LANGUAGE_CODE
    translation.activate(language)
    request.LANGUAGE_CODE = language
    return language


def _public(response: HttpResponse, language: str) -> HttpResponse:
    patch_cache_control(response, private=True, no_store=True)
    response.headers["Content-Language"] = language
    return response


def _closed(request: HttpRequest, language: str) -> HttpResponse:
    """The page where a deleted or switched-off form was: it shows inside the customer's
    frame, so it is the public page in the visitor's language, not the staff 404."""
    return _public(render(request, "web/lead_forms/closed.html", status=404), language)


def _rows(form: LeadForm, values: dict[str, str], errors: dict[str, str]) -> list[dict[str, Any]]:
    from custos.web.forms import country_choices

    rows = []
    for item in form.fields:
        name = item["name"]
        rows.append(
            {
                "name": name,
                "label": FIELD_LABELS[name],
                "required": bool(item.get("required")),
                "value": values.get(name, ""),
                "error": errors.get(name, ""),
                "type": INPUT_TYPES.get(name, "text"),
                "autocomplete": AUTOCOMPLETE.get(name, "off"),
                "multiline": name == "interest",
                "choices": country_choices() if name == "country" else None,
            }
        )
    return rows


def _consents(form: LeadForm, language: str, ticked: list[str], shown: dict[str, str]) -> list[dict[str, Any]]:
    """The consent boxes; one whose wording changed since the visitor saw it is shown again
    unticked, to be read anew."""
    rows = []
    for purpose in form.purposes.filter(is_active=True).order_by("key"):
        text = purpose_text(purpose)
        rows.append(
            {
                "id": str(purpose.pk),
                "version": purpose.version,
                "name": in_language(text.names, language),
                "description": in_language(text.descriptions, language),
                "ticked": str(purpose.pk) in ticked
                and shown.get(str(purpose.pk), str(purpose.version)) == str(purpose.version),
                "is_marketing": purpose.is_marketing,
            }
        )
    return rows


@login_not_required
@csrf_exempt
@xframe_options_exempt
@csp_override(FRAMEABLE_CSP)
@require_http_methods(["GET", "POST"])
def lead_form_public_view(request: HttpRequest, public_key: str) -> HttpResponse:
    """The hosted form: fields, consent checkboxes, a honeypot; on success the thank-you page."""
    language = _visitor_language(request)
    form = services.lead_form_public(public_key)
    if form is None:
        return _closed(request, language)
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    ticked: list[str] = []
    shown: dict[str, str] = {}
    asked = {item["name"] for item in form.fields}
    status = 200
    with tenant_scope(form.org_id):
        if request.method == "POST":
            values = {name: request.POST.get(name, "") for name in ASKABLE_FIELDS if name in request.POST}
            ticked = request.POST.getlist("purposes")
            shown = services.shown_versions(request.POST.getlist("shown"))
            data = {
                **values,
                "purposes": ticked,
                "shown": shown,
                services.HONEYPOT: request.POST.get(services.HONEYPOT, ""),
            }
            try:
                services.form_submit(
                    form=form,
                    data=data,
                    ip=client_ip(request),
                    user_agent=request.headers.get("User-Agent", ""),
                    language=language,
                )
            except services.TooManySubmissions as error:
                errors = {"": error.detail}
                status = 429
            except ValidationFailed as error:
                errors = {}
                for item in error.errors:
                    errors.setdefault(item.field or "", item.message)
                status = 422
            else:
                target = reverse("web:lead-form-thanks", kwargs={"public_key": form.public_key})
                return redirect(f"{target}?{urlencode({'language': language})}")
        context = {
            "lead_form": form,
            "rows": _rows(form, values, errors),
            "consents": _consents(form, language, ticked, shown),
            # Errors on fields this form does not ask for (the email a marketing consent needs).
            "general_errors": [message for field, message in errors.items() if field not in asked],
            "language": language,
            "honeypot": services.HONEYPOT,
        }
        response = render(request, "web/lead_forms/public.html", context, status=status)
    return _public(response, language)


@login_not_required
@xframe_options_exempt
@csp_override(FRAMEABLE_CSP)
def lead_form_thanks_view(request: HttpRequest, public_key: str) -> HttpResponse:
    language = _visitor_language(request)
    form = services.lead_form_public(public_key)
    if form is None:
        return _closed(request, language)
    text = services.thank_you_text(form, language) or _("Thank you. We will be in touch soon.")
    response = render(request, "web/lead_forms/thanks.html", {"lead_form": form, "text": text})
    return _public(response, language)


@login_not_required
@require_http_methods(["GET", "POST"])
def lead_form_confirm_view(request: HttpRequest, token: str) -> HttpResponse:
    """The double opt-in link from the mail asks; the person's click on its button confirms."""
    language = _visitor_language(request)
    if request.method == "GET":
        services.form_consent_check(token)
        response = render(request, "web/lead_forms/confirm.html", {})
    else:
        services.form_consent_confirm(token, ip=client_ip(request), user_agent=request.headers.get("User-Agent", ""))
        response = render(request, "web/lead_forms/confirmed.html", {})
    response.headers["Referrer-Policy"] = "no-referrer"
    return _public(response, language)


urlpatterns: list[URLPattern] = [
    path("settings/web-forms/", lead_form_list_view, name="lead-forms"),
    path("settings/web-forms/new/", lead_form_create_view, name="lead-form-create"),
    path("settings/web-forms/<str:lead_form_id>/", lead_form_edit_view, name="lead-form-edit"),
    path("settings/web-forms/<str:lead_form_id>/delete/", lead_form_delete_view, name="lead-form-delete"),
    path(
        "settings/web-forms/<str:lead_form_id>/submissions/",
        lead_form_submissions_view,
        name="lead-form-submissions",
    ),
    path("forms/confirm/<str:token>/", lead_form_confirm_view, name="lead-form-confirm"),
    path("forms/<str:public_key>/", lead_form_public_view, name="lead-form-public"),
    path("forms/<str:public_key>/thanks/", lead_form_thanks_view, name="lead-form-thanks"),
]
