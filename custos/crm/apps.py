from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "custos.crm"
    label = "crm"
