"""Background work of accounts. Payloads carry ids only, never personal values."""

from __future__ import annotations

import smtplib

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.tasks import task
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from custos.accounts.models import User
from custos.core.models import Organization
from custos.core.net import staff_link


class MailNotSent(RuntimeError):
    """A mail to a user failed. Says which user, never the address: the task result and the
    worker's log keep this text, and an SMTP error message would quote the address."""


def _password_link(user: User) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return settings.CUSTOS_BASE_URL + reverse("web:password-reset-confirm", kwargs={"uidb64": uid, "token": token})


def _send(user: User, template: str, context: dict[str, object]) -> None:
    with translation.override(user.language or settings.LANGUAGE_CODE):
        subject = render_to_string(f"accounts/mail/{template}_subject.txt", context).strip()
        body = render_to_string(f"accounts/mail/{template}.txt", context)
    try:
        send_mail(subject, body, None, [user.email])
    except (smtplib.SMTPException, OSError) as error:
        raise MailNotSent(f"{template} mail to user {user.pk} failed: {type(error).__name__}") from None


@task
def send_password_reset(user_id: str) -> None:
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return
    context = {"user": user, "link": _password_link(user), "minutes": settings.PASSWORD_RESET_TIMEOUT // 60}
    _send(user, "password_reset", context)


@task
def send_invitation(user_id: str, org_id: str) -> None:
    """Tell a new member they were added; someone new to Custos gets a link to choose a password."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    org = Organization.objects.filter(pk=org_id).first()
    if user is None or org is None:
        return
    context = {
        "user": user,
        "organization": org.name,
        "link": _password_link(user) if not user.has_usable_password() else "",
        "sign_in": staff_link(org.pk, reverse("web:home")),
        "minutes": settings.PASSWORD_RESET_TIMEOUT // 60,
    }
    _send(user, "invitation", context)


@task
def prune_throttle_counters() -> int:
    from custos.accounts.throttle import prune_expired

    return prune_expired()


@task
def clear_expired_sessions() -> int:
    """Sessions past their end hold who was signed in, from where: gone once they are of no use."""
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    deleted, _by_model = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted


@task
def delete_offboarded_organizations() -> int:
    """Organisations past their 30-day grace period are deleted, each with a certificate."""
    from custos.accounts.offboarding import offboard_due

    return len(offboard_due())
