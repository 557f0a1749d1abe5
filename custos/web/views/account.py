"""The signed-in person's own things: overview, organisation switch, profile, security, tokens."""

from __future__ import annotations

from typing import Any

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import PasswordChangeForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django.views.i18n import set_language

from custos.accounts import throttle
from custos.accounts.access import membership_for, two_factor_required
from custos.accounts.models import ApiToken, User
from custos.accounts.services import (
    recovery_codes_regenerate,
    sign_out_everywhere,
    token_create,
    token_revoke,
    totp_begin,
    totp_confirm,
    totp_disable,
    totp_provisioning_uri,
    totp_verify,
    user_audit,
)
from custos.accounts.throttle import rate_exceeded
from custos.core import crypto
from custos.core.errors import ValidationFailed
from custos.core.lookup import get_or_not_found
from custos.core.net import client_ip
from custos.web.forms import CodeForm, ConfirmTwoFactorForm, ProfileForm, TokenForm, attach_errors
from custos.web.middleware import choose_organization
from custos.web.shortcuts import actor_of, user_of


@require_POST
def switch_organization(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    membership = membership_for(user, request.POST.get("org", "")) if request.POST.get("org") else None
    if membership is None:
        messages.error(request, _("You are not a member of that organisation."))
        return redirect("web:home")
    choose_organization(request, membership)
    return redirect("web:home")


def profile(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    form = ProfileForm(
        request.POST or None,
        initial={"full_name": user.full_name, "language": user.language, "time_zone": user.time_zone},
    )
    if request.method == "POST" and form.is_valid():
        user.full_name = form.cleaned_data["full_name"].strip()
        user.language = form.cleaned_data["language"]
        user.time_zone = form.cleaned_data["time_zone"]
        user.save(update_fields=["full_name", "language", "time_zone"])
        response = redirect("web:profile")
        if user.language:
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME, user.language, samesite="Lax", httponly=True, secure=request.is_secure()
            )
        messages.success(request, _("Your profile is saved."))
        return response
    return render(request, "web/account/profile.html", {"form": form})


def _audit_self(request: HttpRequest, action: str) -> None:
    user_audit(user_of(request), action, ip=client_ip(request), user_agent=request.headers.get("User-Agent", ""))


def security(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    password_form = PasswordChangeForm(user, request.POST if request.POST.get("form") == "password" else None)
    # The page is about more than the password: do not pull the cursor into it.
    password_form.fields["old_password"].widget.attrs.pop("autofocus", None)
    if request.method == "POST" and request.POST.get("form") == "password" and password_form.is_valid():
        password_form.save()
        update_session_auth_hash(request, password_form.user)
        _audit_self(request, "auth.password_change")
        messages.success(request, _("Your password is changed."))
        return redirect("web:security")
    return render(
        request,
        "web/account/security.html",
        {"password_form": password_form, "recovery_left": len(user.recovery_code_hashes)},
    )


def two_factor_setup(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    if user.has_two_factor:
        return redirect("web:security")
    form = ConfirmTwoFactorForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and user.totp_secret:
        try:
            codes = totp_confirm(user, form.cleaned_data["code"])
        except ValidationFailed as error:
            attach_errors(form, error)
        else:
            _audit_self(request, "auth.two_factor_enable")
            return render(request, "web/account/recovery_codes.html", {"codes": codes, "first_time": True})
    # The key stays the same until it is confirmed: reloading must not void a scanned key.
    secret = crypto.open_platform(user.totp_secret, aad=f"totp|{user.pk}") if user.totp_secret else totp_begin(user)
    uri = totp_provisioning_uri(user, secret)
    qr_svg = segno.make(uri, error="m").svg_inline(scale=5, dark="#111", light="#fff", omitsize=False)
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return render(request, "web/account/two_factor_setup.html", {"form": form, "qr_svg": qr_svg, "secret": grouped})


def two_factor_disable(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    form = CodeForm(request.POST or None)
    if two_factor_required(user):
        messages.error(request, _("Your role or organisation requires a second factor, so it cannot be turned off."))
        return redirect("web:security")
    if request.method == "POST" and form.is_valid():
        ip = client_ip(request)
        if throttle.sign_in_attempt(user.email, ip) is not None:
            form.add_error("code", _("Too many wrong codes. Try again later."))
        elif totp_verify(user, form.cleaned_data["code"]):
            throttle.sign_in_succeeded(user.email)
            totp_disable(user)
            _audit_self(request, "auth.two_factor_disable")
            messages.success(request, _("Two-factor sign-in is turned off."))
            return redirect("web:security")
        else:
            throttle.sign_in_failed(user.email, ip)
            form.add_error("code", _("This code is not valid."))
    return render(request, "web/account/two_factor_disable.html", {"form": form})


@require_POST
def recovery_codes_new(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    if not user.has_two_factor:
        return redirect("web:security")
    codes = recovery_codes_regenerate(user)
    _audit_self(request, "auth.recovery_codes_regenerate")
    return render(request, "web/account/recovery_codes.html", {"codes": codes, "first_time": False})


@require_POST
def sign_out_everywhere_view(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    _audit_self(request, "auth.sign_out_everywhere")
    sign_out_everywhere(user)
    update_session_auth_hash(request, user)  # this session stays; every other one ends
    messages.success(request, _("Every other session of your account has ended."))
    return redirect("web:security")


def tokens(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    form = TokenForm(request.POST or None)
    created: dict[str, Any] | None = None
    if request.method == "POST" and form.is_valid():
        if rate_exceeded("token-create", str(actor.member_id), limit=20, window=3600):
            form.add_error(None, _("You created many tokens in the last hour. Try again later."))
        else:
            try:
                token, plaintext = token_create(
                    actor=actor,
                    name=form.cleaned_data["name"],
                    scopes=form.cleaned_data["scopes"],
                    expires_days=form.cleaned_data["expires_days"],
                )
            except ValidationFailed as error:
                attach_errors(form, error)
            else:
                created = {"token": token, "plaintext": plaintext}
                form = TokenForm()
    own = ApiToken.objects.filter(org_id=actor.org_id, user_id=actor.member_id)
    context = {"form": form, "tokens": own, "created": created}
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "web/account/tokens.html#token-panel", context)
    return render(request, "web/account/tokens.html", context)


@require_POST
def token_revoke_view(request: HttpRequest, token_id: str) -> HttpResponse:
    actor = actor_of(request)
    queryset = ApiToken.objects.filter(org_id=actor.org_id)
    if not actor.can("token.delete"):
        queryset = queryset.filter(user_id=actor.member_id)
    token = get_or_not_found(queryset, pk=token_id)
    token_revoke(actor=actor, token=token)
    messages.success(request, _("The token “%(name)s” is revoked.") % {"name": token.name})
    return redirect("web:all-tokens" if request.POST.get("back") == "all" else "web:tokens")


@require_POST
@login_not_required
def set_language_view(request: HttpRequest) -> HttpResponse:
    """The top bar's language switch; for a signed-in person it also becomes their profile's choice."""
    response = set_language(request)
    language = request.POST.get("language", "")
    if request.user.is_authenticated and language in dict(settings.LANGUAGES):
        User.objects.filter(pk=request.user.pk).update(language=language)
    return response
