from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "custos.portal"
    label = "portal"
