"""Signing in (password, then second factor), signing out, resetting a password."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from custos.accounts import throttle
from custos.accounts.models import User
from custos.accounts.services import totp_verify, user_audit
from custos.core.net import client_ip, local_path, network_of
from custos.web.forms import CodeForm, PasswordResetForm, SignInForm

PENDING = "custos_pending_sign_in"
PENDING_SECONDS = 300


def _blocked_message(block: throttle.Block) -> str:
    minutes = settings.CUSTOS_LOGIN_LOCKOUT_SECONDS // 60
    if block == throttle.Block.ACCOUNT:
        return ngettext(
            "Too many failed sign-ins for this account. It is locked for %(minutes)d minute; "
            "try again later or reset your password.",
            "Too many failed sign-ins for this account. It is locked for %(minutes)d minutes; "
            "try again later or reset your password.",
            minutes,
        ) % {"minutes": minutes}
    return ngettext(
        "Too many failed sign-ins from your network. Try again in %(minutes)d minute.",
        "Too many failed sign-ins from your network. Try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    return local_path(request, target) or str(reverse_lazy(settings.LOGIN_REDIRECT_URL))


def _complete(request: HttpRequest, user: User, next_url: str) -> HttpResponse:
    request.session.pop(PENDING, None)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    throttle.sign_in_succeeded(user.email)
    user_audit(user, "auth.sign_in", ip=client_ip(request), user_agent=request.headers.get("User-Agent", ""))
    return redirect(next_url)


def _failed(request: HttpRequest, email: str, action: str = "auth.sign_in_failed") -> None:
    ip = client_ip(request)
    throttle.sign_in_failed(email, ip)
    user = User.objects.filter(email__iexact=email).first()
    if user is not None:
        user_audit(user, action, ip=ip, user_agent=request.headers.get("User-Agent", ""))


@login_not_required
def sign_in(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(_next_url(request))
    form = SignInForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"].strip().lower()
        block = throttle.sign_in_attempt(email, client_ip(request))
        if block is not None:
            form.add_error(None, _blocked_message(block))
        else:
            user = authenticate(request, username=email, password=form.cleaned_data["password"])
            if user is None:
                _failed(request, email)
                form.add_error(None, _("The email or the password is wrong."))
            elif user.has_two_factor:
                request.session[PENDING] = {"user": str(user.pk), "at": time.time(), "next": _next_url(request)}
                return redirect("web:sign-in-code")
            else:
                return _complete(request, user, _next_url(request))
    return render(request, "web/auth/sign_in.html", {"form": form, "next": request.GET.get("next", "")})


@login_not_required
def sign_in_code(request: HttpRequest) -> HttpResponse:
    pending: dict[str, Any] | None = request.session.get(PENDING)
    if not pending or time.time() - pending["at"] > PENDING_SECONDS:
        request.session.pop(PENDING, None)
        messages.info(request, _("Please sign in again."))
        return redirect("web:sign-in")
    user = User.objects.filter(pk=pending["user"], is_active=True).first()
    if user is None:
        return redirect("web:sign-in")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        block = throttle.sign_in_attempt(user.email, client_ip(request))
        if block is not None:
            form.add_error(None, _blocked_message(block))
        elif totp_verify(user, form.cleaned_data["code"]):
            return _complete(request, user, pending.get("next") or _next_url(request))
        else:
            _failed(request, user.email, "auth.second_factor_failed")
            form.add_error(
                "code", _("This code is not valid. Enter the current code from your app, or a recovery code.")
            )
    return render(request, "web/auth/sign_in_code.html", {"form": form})


@require_POST
@login_not_required
def sign_out(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        user_audit(
            request.user, "auth.sign_out", ip=client_ip(request), user_agent=request.headers.get("User-Agent", "")
        )
    logout(request)
    messages.info(request, _("You are signed out."))
    return redirect("web:sign-in")


class PasswordResetView(auth_views.PasswordResetView):
    form_class = PasswordResetForm
    template_name = "web/auth/password_reset.html"
    success_url = reverse_lazy("web:password-reset-sent")

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if throttle.rate_exceeded("password-reset", network_of(client_ip(request) or "?"), limit=10, window=3600):
            messages.error(request, _("Too many reset requests from your network. Try again in an hour."))
            return redirect("web:password-reset")
        return super().post(request, *args, **kwargs)


password_reset = login_not_required(PasswordResetView.as_view())
password_reset_sent = login_not_required(
    auth_views.PasswordResetDoneView.as_view(template_name="web/auth/password_reset_sent.html")
)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "web/auth/password_reset_confirm.html"
    success_url = reverse_lazy("web:password-reset-done")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        user = form.user
        # The lock message points here: a new password from the mailbox lifts the lock.
        throttle.sign_in_succeeded(user.email)
        user_audit(
            user,
            "auth.password_reset",
            ip=client_ip(self.request),
            user_agent=self.request.headers.get("User-Agent", ""),
        )
        return response


password_reset_confirm = login_not_required(PasswordResetConfirmView.as_view())
password_reset_done = login_not_required(
    auth_views.PasswordResetCompleteView.as_view(template_name="web/auth/password_reset_done.html")
)
