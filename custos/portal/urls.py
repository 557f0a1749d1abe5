"""The data subject's self-service pages under /privacy/portal/.

Fixed paths come before the organisation's start page, whose one segment would match them.
"""

from django.urls import path

from custos.portal import views

app_name = "portal"

urlpatterns = [
    path("l/<str:secret>/", views.link_landing, name="link"),
    path("me/", views.my_data, name="data"),
    path("me/correct/", views.correct, name="correct"),
    path("me/consents/", views.consents, name="consents"),
    path("me/export/json/", views.export, {"file_format": "json"}, name="export-json"),
    path("me/export/xlsx/", views.export, {"file_format": "xlsx"}, name="export-xlsx"),
    path("me/requests/", views.requests, name="requests"),
    path("sign-out/", views.sign_out, name="sign-out"),
    path("language/", views.set_language, name="language"),
    path("<slug:org_slug>/", views.start, name="start"),
    path("<slug:org_slug>/sent/", views.sent, name="sent"),
    path("<slug:org_slug>/notice/", views.notice, name="notice"),
]
