from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "custos.privacy"
    label = "privacy"
