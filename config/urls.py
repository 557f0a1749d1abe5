from django.urls import include, path

from custos.accounts.admin import platform_site
from custos.api.urls import urlpatterns as api_urls

urlpatterns = [
    path("api/v1/", include(api_urls)),
    path("platform-admin/", platform_site.urls),
    path("privacy/portal/", include("custos.portal.urls")),
    path("", include("custos.web.urls")),
]
