"""The REST API under /api/v1: one NinjaAPI, one error shape, token auth everywhere."""

from __future__ import annotations

import logging

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from custos.api.auth import TokenAuth
from custos.api.problems import default_detail, problem
from custos.core.errors import DomainError, ValidationFailed
from custos.core.validation import printable

logger = logging.getLogger("custos.api")

api = NinjaAPI(
    title="Custos API",
    version="1",
    description=(
        "Custos REST API. Authenticate with `Authorization: Bearer <token>`; the organisation "
        "is implied by the token. Errors are `application/problem+json` (RFC 9457); lists "
        'answer `{"items": [...], "next": <cursor or null>}`.'
    ),
    urls_namespace="api",
    auth=TokenAuth(),
    docs_url="/docs",
)


def _field_name(location: list[object] | tuple[object, ...]) -> str:
    if [str(p) for p in location[:1]] in (["file"], ["form"]):  # a multipart field: its location, then its name
        location = location[1:]
    parts = [printable(str(p)) for p in location if p not in ("body", "payload", "query", "path")]
    return ".".join(parts) or "body"


def _message(error: dict[str, object]) -> str:
    """Pydantic's messages are English only: say the common ones in the user's language."""
    kind = str(error.get("type", ""))
    messages = {
        "missing": _("This field is required."),
        "extra_forbidden": _("Unknown field."),
        "string_type": _("Enter text."),
        "int_type": _("Enter a whole number."),
        "int_parsing": _("Enter a whole number."),
        "bool_type": _("Enter true or false."),
        "bool_parsing": _("Enter true or false."),
        "list_type": _("Enter a list."),
        "dict_type": _("Enter an object."),
        "model_attributes_type": _("Enter an object."),
        "datetime_parsing": _("Enter a date and time such as 2026-11-22T14:30:00+01:00."),
        "datetime_from_date_parsing": _("Enter a date and time such as 2026-11-22T14:30:00+01:00."),
        "datetime_type": _("Enter a date and time such as 2026-11-22T14:30:00+01:00."),
        # A day is read as a date or as a moment at midnight: each failure says what to write.
        "date_parsing": _("Enter a date such as 2026-11-22."),
        "date_from_datetime_parsing": _("Enter a date such as 2026-11-22."),
        "date_from_datetime_inexact": _("Enter a date such as 2026-11-22."),
        "date_type": _("Enter a date such as 2026-11-22."),
        # Decimals in this API are amounts of money.
        "decimal_parsing": _("Enter an amount such as 1250.50."),
        "decimal_type": _("Enter an amount such as 1250.50."),
        "finite_number": _("Enter an amount such as 1250.50."),
    }
    return messages.get(kind) or str(error.get("msg", ""))


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = [{"field": _field_name(e.get("loc", ())), "message": _message(e)} for e in exc.errors]
    return problem(422, _("The input is not valid."), errors=errors)


@api.exception_handler(ValidationFailed)
def _domain_validation(request: HttpRequest, exc: ValidationFailed) -> HttpResponse:
    return problem(422, exc.detail, errors=[e.as_dict() for e in exc.errors])


@api.exception_handler(DomainError)
def _domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return problem(exc.status, exc.detail)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return problem(401, default_detail(401), headers={"WWW-Authenticate": 'Bearer realm="custos"'})


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if exc.status_code == 400 and "parse" in str(exc).lower():
        return problem(400, _("The request body is not valid JSON."))
    return problem(exc.status_code, default_detail(exc.status_code) or str(exc))


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return problem(404, default_detail(404))


@api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return problem(413, default_detail(413))


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception(
        "unhandled API error in %s %s", request.method, request.resolver_match and request.resolver_match.route
    )
    return problem(500, default_detail(500))


def _register_routers() -> None:
    from custos.api import (
        activities,
        breaches,
        crm,
        custom_fields,
        dashboard,
        deals,
        duplicates,
        exports,
        imports,
        lead_forms,
        leads,
        me,
        privacy,
        retention,
        rules,
        scheduling,
        search,
    )

    api.add_router("/", me.router)
    api.add_router("/", exports.router)  # before the item routes: `export` is not an id
    api.add_router("/", crm.router)
    api.add_router("/", leads.router)
    api.add_router("/", deals.router)
    api.add_router("/", activities.router)
    api.add_router("/", search.router)
    api.add_router("/", imports.router)
    api.add_router("/", custom_fields.router)
    api.add_router("/", rules.router)
    api.add_router("/", lead_forms.router)
    api.add_router("/", duplicates.router)
    api.add_router("/", scheduling.router)
    api.add_router("/", dashboard.router)
    api.add_router("/privacy/", privacy.router)
    api.add_router("/privacy/", retention.router)
    api.add_router("/privacy/", breaches.router)


_register_routers()
