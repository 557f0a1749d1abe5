from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from custos.core.tenancy import request_scope


class TenantResetMiddleware:
    """Every request starts with no organisation and leaves none behind in its thread."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with request_scope():
            return self.get_response(request)
