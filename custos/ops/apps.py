from django.apps import AppConfig


class OpsConfig(AppConfig):
    """The operator's face: serving, workers, demo data, backups, benchmarks."""

    name = "custos.ops"
    label = "ops"
