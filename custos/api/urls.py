from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, path, re_path

from custos.api.api import api
from custos.api.problems import default_detail, problem


def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    return problem(404, default_detail(404))


urlpatterns: list[URLPattern | URLResolver] = [
    path("", api.urls),
    re_path(r"^(?P<rest>.*)$", not_found),
]
