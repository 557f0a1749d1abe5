from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "custos.core"
    label = "core"

    def ready(self) -> None:
        from custos.core import checks  # noqa: F401  (registers the system checks)
