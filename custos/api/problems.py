"""RFC 9457 problem details: the one shape of every error under /api/v1."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse
from django.utils.translation import gettext as _

PROBLEM_TYPE = "application/problem+json"

TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
}


def problem(
    status: int, detail: str = "", *, errors: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None
) -> HttpResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": TITLES.get(status, "Error"), "status": status}
    if detail:
        body["detail"] = detail
    if errors is not None:
        body["errors"] = errors
    response = HttpResponse(json.dumps(body, ensure_ascii=False), status=status, content_type=PROBLEM_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def default_detail(status: int) -> str:
    return {
        401: _("Send a valid API token: Authorization: Bearer <token>."),
        403: _("Your token or role does not allow this."),
        404: _("Not found."),
        405: _("This method is not allowed here."),
        413: _("The request body is too large."),
        429: _("Too many requests. Wait a moment and try again."),
        500: _("Something went wrong on our side. Nothing was changed."),
    }.get(status, "")
