from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "custos.api"
    label = "api"
