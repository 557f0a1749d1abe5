from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "custos.scheduling"
    label = "scheduling"
