from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "custos.privacy"
    label = "privacy"

    def ready(self) -> None:
        from custos.accounts.hooks import on_organization_deleted
        from custos.privacy.services.erasure import leave_no_trace

        # A deleted organisation's values leave no trace either (old WAL pages, row versions).
        on_organization_deleted(leave_no_trace)
