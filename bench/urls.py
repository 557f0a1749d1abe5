"""The real URLs, plus `/bench/bare`: the cheapest answer Django can give (no database)."""

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.urls import include, path


@login_not_required
def bare(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


urlpatterns = [
    path("bench/bare", bare),
    path("", include("config.urls")),
]
