"""Background work through django.tasks: the database backend, and Redis when configured."""

import os

import pytest
import redis
from django.tasks import TaskResultStatus, task
from django_tasks_db.models import DBTaskResult

from custos.core.models import PeriodicRun
from custos.core.periodic import JOBS, PeriodicJob, enqueue_due, slot_of
from custos.testing import run_tasks

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379")
RESULTS: list[str] = []


@task
def remember(label: str) -> str:
    RESULTS.append(label)
    return label.upper()


def test_the_database_worker_runs_queued_tasks(db):
    RESULTS.clear()
    result = remember.enqueue("first")
    assert DBTaskResult.objects.get(pk=result.id).status == TaskResultStatus.READY
    run_tasks()
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == "FIRST"
    assert RESULTS == ["first"]


@pytest.fixture
def redis_backend(settings, worker_id):
    database = {"master": 12, "gw0": 13, "gw1": 14}.get(worker_id, 15)
    url = f"{REDIS_URL.rstrip('/')}/{database}"
    connection = redis.Redis.from_url(url)
    connection.flushdb()
    settings.REDIS_URL = url
    settings.RQ_QUEUES = {"default": {"URL": url}}
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    yield connection
    connection.flushdb()


@pytest.mark.redis
def test_with_redis_configured_tasks_go_through_redis(db, redis_backend):
    RESULTS.clear()
    result = remember.enqueue("via redis")
    assert not DBTaskResult.objects.exists()
    assert redis_backend.llen("rq:queue:default") == 1
    run_tasks()
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == "VIA REDIS"
    assert RESULTS == ["via redis"]


def test_a_periodic_job_is_enqueued_once_per_period(db):
    job = PeriodicJob("test.remember", "custos.core.tests.test_background_tasks.remember_nothing", JOBS[0].every)
    assert enqueue_due(jobs=(job,)) == ["test.remember"]
    assert enqueue_due(jobs=(job,)) == []  # a second scheduler in the same period does nothing
    assert PeriodicRun.objects.filter(name="test.remember").count() == 1
    assert DBTaskResult.objects.filter(task_path=job.task).count() == 1


def test_periods_start_on_fixed_boundaries():
    from datetime import UTC, datetime, timedelta

    job = PeriodicJob("x", "y", timedelta(hours=1))
    assert slot_of(job, datetime(2026, 11, 22, 14, 59, 59, tzinfo=UTC)) == datetime(2026, 11, 22, 14, tzinfo=UTC)
    assert slot_of(job, datetime(2026, 11, 22, 15, 0, 1, tzinfo=UTC)) == datetime(2026, 11, 22, 15, tzinfo=UTC)


@task
def remember_nothing() -> None:
    return None


@pytest.mark.django_db(transaction=True)
def test_the_worker_enqueues_due_periodic_jobs_and_runs_them():
    from django.core.management import call_command

    call_command("worker", "--burst")
    names = set(PeriodicRun.objects.values_list("name", flat=True))
    assert names == {job.name for job in JOBS}
    assert not DBTaskResult.objects.exclude(status=TaskResultStatus.SUCCESSFUL).exists()
