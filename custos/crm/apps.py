from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "custos.crm"
    label = "crm"

    def ready(self) -> None:
        # The privacy engine changes records in place (rectification, erasure, an erased person's
        # mentions in others' records): keep the index true.
        from custos.crm.search import reindex_records, reindex_subject
        from custos.crm.selectors.custom_fields import key_labels
        from custos.crm.services.rules import rescore_subject
        from custos.privacy.services.hooks import (
            on_key_labels,
            on_processing_changed,
            on_records_changed,
            on_records_redacted,
        )

        on_records_changed(reindex_subject)
        on_records_redacted(reindex_records)
        # Restricting or objecting to profiling takes the person's scores away at once.
        on_processing_changed(rescore_subject)
        # Reports name a record's custom values by their labels.
        on_key_labels(key_labels)
