from __future__ import annotations

from datetime import timedelta

from django.tasks import task
from django.utils import timezone


@task
def prune_task_results() -> int:
    """Finished task results older than two weeks go: they are a queue, not an archive."""
    from django.conf import settings

    if "django_tasks_db" not in settings.TASKS["default"]["BACKEND"]:
        return 0
    from django_tasks_db.models import DBTaskResult

    cutoff = timezone.now() - timedelta(days=14)
    deleted, _ = DBTaskResult.objects.filter(finished_at__lt=cutoff).delete()
    return deleted
