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


# Rows read per index by SQLite's ANALYZE: an estimate, in milliseconds even at a million rows.
ANALYSIS_LIMIT = 1000


@task
def refresh_statistics() -> bool:
    """SQLite's planner chooses indexes by the statistics ANALYZE leaves, and nothing else
    keeps them: an index without any (one a migration added) looks better than it is, and a
    list of a hundred thousand contacts was sorted whole instead of read in order (80 ms
    against 0.5). PostgreSQL's autovacuum keeps its own; there this does nothing."""
    from django.db import connection

    if connection.vendor != "sqlite":
        return False
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
        cursor.execute("ANALYZE")
    return True
