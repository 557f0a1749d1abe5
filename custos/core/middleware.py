from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponse

from custos.core.tenancy import request_scope

# The REST API: every request there carries a bearer token and never a session.
API_PREFIX = "/api/"


class TenantResetMiddleware:
    """Every request starts with no organisation and leaves none behind in its thread."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with request_scope():
            return self.get_response(request)


class _NotForApi:
    """Skip the middleware for API requests: it serves the staff UI's session, and the API
    authenticates by token alone. Running it anyway cost every API request measurable time."""

    get_response: Callable[[HttpRequest], Any]

    def __call__(self, request: HttpRequest) -> Any:
        if request.path.startswith(API_PREFIX):
            self.skip(request)
            return self.get_response(request)
        return super().__call__(request)  # type: ignore[misc]  # the Django middleware mixed in

    def skip(self, request: HttpRequest) -> None:
        """What the request gets instead, for code that reads it regardless of the path."""


class WebSessionMiddleware(_NotForApi, SessionMiddleware):
    pass


class WebAuthenticationMiddleware(_NotForApi, AuthenticationMiddleware):
    def skip(self, request: HttpRequest) -> None:
        # A session cookie sent to the API signs no one in there.
        request.user = AnonymousUser()


class WebMessageMiddleware(_NotForApi, MessageMiddleware):
    pass
