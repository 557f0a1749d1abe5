from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy

from custos.api.problems import PROBLEM_TYPE, default_detail, problem
from custos.core.middleware import API_PREFIX

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
JSON_TYPES = frozenset({"application/json", "application/merge-patch+json"})
# The one operation that takes a file: an import's upload, as multipart/form-data.
UPLOAD_PATHS = frozenset({"/api/v1/imports"})


class ApiProblemMiddleware:
    """Under /api/: refuse oversized bodies early, and make every error a problem+json.

    Errors that never reach an API operation (an unknown route, a wrong method, a body
    over the limit) are produced by Django; here they get the same shape as the rest.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        early = self._refuse_early(request)
        if early is not None:
            return early
        head = request.method == "HEAD"
        if head:
            request.method = "GET"  # HEAD is GET without the body (RFC 9110): the operations know GET
        try:
            response = self.get_response(request)
        finally:
            timezone.deactivate()  # the token's member's zone (TokenAuth) ends with the request
        if head and not response.streaming:
            response["Content-Length"] = str(len(response.content))
            response.content = b""
        if response.status_code >= 400 and not response.get("Content-Type", "").startswith(PROBLEM_TYPE):
            converted = problem(response.status_code, default_detail(response.status_code))
            for header in ("WWW-Authenticate", "Allow", "Retry-After"):
                if header in response:
                    converted[header] = response[header]
            return converted
        return response

    @staticmethod
    def _refuse_early(request: HttpRequest) -> HttpResponse | None:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _in_their_language(request, 400, gettext_lazy("The Content-Length header is not a number."))
        if length > settings.CUSTOS_API_MAX_BODY_BYTES:
            return _in_their_language(request, 413, None)
        content_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
        if request.path in UPLOAD_PATHS and content_type == "multipart/form-data":
            return None
        if length and request.method in BODY_METHODS and content_type not in JSON_TYPES:
            return _in_their_language(
                request, 415, gettext_lazy("Send the request body as JSON (Content-Type: application/json).")
            )
        return None


def _in_their_language(request: HttpRequest, status: int, detail: object) -> HttpResponse:
    """An early refusal comes before the language middleware has run: in the request's own
    language, found only when needed (most requests are refused nothing)."""
    with translation.override(translation.get_language_from_request(request)):
        return problem(status, str(detail) if detail is not None else default_detail(status))
