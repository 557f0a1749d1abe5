"""Project rules as system checks: `manage.py check` fails when one is broken."""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from django.apps import apps
from django.conf import settings
from django.core import checks
from django.db import models

from custos.core.personal_data import Category, declared_field_names, read_declaration


def custos_models() -> list[type[models.Model]]:
    return [m for m in apps.get_models() if m.__module__.startswith("custos.")]


@checks.register(checks.Tags.models)
def check_personal_data_declarations(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """Every field of every Custos model says what personal data it holds, if any."""
    return declaration_errors(custos_models())


def declaration_errors(models_to_check: list[type[models.Model]]) -> list[Any]:
    from custos.core.fields import EncryptedField

    errors: list[Any] = []
    for model in models_to_check:
        label = model._meta.label
        try:
            declaration = read_declaration(model)
        except ValueError as error:
            errors.append(checks.Error(f"{label}: invalid Privacy declaration: {error}", obj=model, id="custos.E003"))
            continue
        if declaration is None:
            errors.append(
                checks.Error(
                    f"{label} has no Privacy declaration",
                    hint="Add an inner `class Privacy` declaring every field (custos.core.personal_data).",
                    obj=model,
                    id="custos.E001",
                )
            )
            continue
        names = set(declared_field_names(model))
        personal, plain = set(declaration.fields), set(declaration.not_personal)
        copies = set(declaration.copies)
        for name in sorted(copies & (personal | plain)):
            errors.append(
                checks.Error(f"{label}.{name} is declared both a copy and a field", obj=model, id="custos.E003")
            )
        personal |= copies  # declared: a copy of the personal fields, emptied with them
        for name in sorted(names - personal - plain):
            errors.append(
                checks.Error(
                    f"{label}.{name} does not declare its personal-data category",
                    hint="Name it in Privacy.fields with a category, or in Privacy.not_personal.",
                    obj=model,
                    id="custos.E002",
                )
            )
        for name in sorted((personal | plain) - names):
            errors.append(
                checks.Error(f"{label}.Privacy names {name!r}, which is not a field", obj=model, id="custos.E003")
            )
        for name in sorted(personal & plain):
            errors.append(
                checks.Error(f"{label}.{name} is declared both personal and not personal", obj=model, id="custos.E003")
            )
        for name in sorted(set(declaration.details) - plain):
            errors.append(
                checks.Error(
                    f"{label}.Privacy.details names {name!r}, which is not a not-personal field",
                    hint="Details describe a record; its personal values are shown as fields already.",
                    obj=model,
                    id="custos.E003",
                )
            )
        for name in declaration.fields_of(Category.SPECIAL):
            if name in names and not isinstance(model._meta.get_field(name), EncryptedField):
                errors.append(
                    checks.Error(
                        f"{label}.{name} holds special-category data but is not encrypted",
                        hint="Use an Encrypted*Field from custos.core.fields.",
                        obj=model,
                        id="custos.E004",
                    )
                )
        privacy = model.Privacy  # type: ignore[attr-defined]
        if declaration.fields and not hasattr(privacy, "subject"):
            errors.append(
                checks.Error(
                    f"{label} holds personal data but does not say how it reaches its subject",
                    hint="Set Privacy.subject to a path to privacy.Subject, or to None for staff data.",
                    obj=model,
                    id="custos.E005",
                )
            )
        if declaration.subject and declaration.on_erasure is None:
            errors.append(
                checks.Error(f"{label} reaches a subject but has no Privacy.on_erasure", obj=model, id="custos.E006")
            )
        for path in declaration.subject_paths:
            errors.extend(_check_subject_path(model, path))
    return errors


def _check_subject_path(model: type[models.Model], path: str) -> list[Any]:
    current: type[models.Model] = model
    for part in path.split("__"):
        try:
            field = current._meta.get_field(part)
        except Exception:
            return [
                checks.Error(
                    f"{model._meta.label}.Privacy.subject: {path!r} does not resolve", obj=model, id="custos.E007"
                )
            ]
        related = getattr(field, "related_model", None)
        if related is None:
            return [
                checks.Error(
                    f"{model._meta.label}.Privacy.subject: {path!r} is not a relation", obj=model, id="custos.E007"
                )
            ]
        current = related
    if current._meta.label != "privacy.Subject":
        return [
            checks.Error(
                f"{model._meta.label}.Privacy.subject: {path!r} ends at {current._meta.label}, not privacy.Subject",
                obj=model,
                id="custos.E007",
            )
        ]
    return []


@checks.register(checks.Tags.security)
def check_master_keys(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """The master key must be 32 bytes of URL-safe base64."""
    from custos.core.crypto import MasterKeyError, master_keys

    try:
        master_keys()
    except MasterKeyError as error:
        return [checks.Error(str(error), hint="Generate one with `custos keys generate`.", id="custos.E010")]
    return []


def is_loopback(host: str) -> bool:
    """Whether a host name or address is this machine's own: `make run` serves plain HTTP there."""
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name (or "*", ".example.org") that may reach any machine


@checks.register(checks.Tags.security, deploy=True)
def check_https(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """Beyond this machine, sign-in, sessions and personal data travel over HTTPS only."""
    errors: list[Any] = []
    site = urlsplit(settings.CUSTOS_BASE_URL)
    site_host = site.hostname or ""
    if site.scheme == "http" and not is_loopback(site_host):
        errors.append(
            checks.Error(
                f"CUSTOS_BASE_URL sends the links in mails to {site_host} over plain HTTP",
                hint=f"Set CUSTOS_BASE_URL=https://{site.netloc} and serve it through a TLS proxy.",
                id="custos.E011",
            )
        )
    public = [host for host in dict.fromkeys([site_host, *settings.ALLOWED_HOSTS]) if not is_loopback(host)]
    if public and not settings.HTTPS:
        errors.append(
            checks.Error(
                f"HTTPS is not configured, but Custos answers for {', '.join(public)}",
                hint="Put a TLS proxy in front and set CUSTOS_HTTPS=1 (HTTPS redirect, HSTS, secure cookies).",
                id="custos.E012",
            )
        )
    return errors


@checks.register(checks.Tags.security, deploy=True)
def check_link_address(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """Portal links, invitations and password resets are built on CUSTOS_BASE_URL: on a site
    that answers beyond this machine, one left at its loopback default reaches no one."""
    site_host = urlsplit(settings.CUSTOS_BASE_URL).hostname or ""
    public = [host for host in settings.ALLOWED_HOSTS if not is_loopback(host)]
    if not public or not is_loopback(site_host):
        return []
    return [
        checks.Error(
            f"CUSTOS_BASE_URL points at this machine ({site_host}), but Custos answers for {', '.join(public)}: "
            "the links in mails would lead nowhere",
            hint="Set CUSTOS_BASE_URL to the address people reach Custos at, such as https://crm.example.org.",
            id="custos.E014",
        )
    ]


SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


@checks.register(checks.Tags.security, deploy=True)
def check_mail_encryption(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """Mail carries password-reset and portal links and personal data: to another machine,
    it goes encrypted."""
    warnings: list[Any] = []
    for alias, mailer in getattr(settings, "MAILERS", {}).items():
        options = mailer.get("OPTIONS", {})
        if mailer.get("BACKEND", SMTP_BACKEND) != SMTP_BACKEND or options.get("use_tls") or options.get("use_ssl"):
            continue
        host = str(options.get("host") or "localhost")
        if not is_loopback(host):
            warnings.append(
                checks.Warning(
                    f"Mail ({alias!r}) goes to {host} unencrypted: neither STARTTLS nor SSL is set",
                    hint="Set CUSTOS_SMTP_STARTTLS=1 (usually port 587) or CUSTOS_SMTP_SSL=1 (port 465).",
                    id="custos.W013",
                )
            )
    return warnings
