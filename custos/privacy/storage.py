"""Background work that cleans storage after an erasure. Payloads carry table names only.

Apart from `tasks.py` so that the erasure's storage clean-up stays next to nothing else.
"""

from __future__ import annotations

from django.tasks import task


@task
def clean_storage(tables: list[str]) -> list[str]:
    """Remove what an erasure left behind in these tables' storage (old row versions,
    deleted index terms); see `privacy.services.erasure.storage_clean`."""
    from custos.privacy.services.erasure import storage_clean

    return storage_clean(tables)
