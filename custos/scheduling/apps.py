from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "custos.scheduling"
    label = "scheduling"

    def ready(self) -> None:
        # Accounts removes members but cannot import scheduling: a member's feeds and
        # practitioner profile go with their membership through its hook.
        from custos.accounts.hooks import on_member_removed
        from custos.scheduling.services.members import scheduling_member_removed

        on_member_removed(scheduling_member_removed)
