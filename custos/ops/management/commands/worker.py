"""`custos worker`: run background tasks, and enqueue periodic jobs when they are due."""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from custos.core.periodic import enqueue_due

logger = logging.getLogger("custos.worker")


def _scheduler(stop: threading.Event, interval: float) -> None:
    while not stop.is_set():
        try:
            enqueue_due()
        except Exception:  # a scheduler that dies silently would stop every periodic job
            logger.exception("periodic scheduling failed; retrying")
        finally:
            close_old_connections()
        stop.wait(interval)


class Command(BaseCommand):
    help = "Run the background task worker (database or Redis, as configured) with the periodic scheduler."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--burst", action="store_true", help="Enqueue due periodic jobs, run every queued task, then exit."
        )
        parser.add_argument("--no-scheduler", action="store_true", help="Run tasks only; another worker schedules.")
        parser.add_argument("--interval", type=float, default=1.0, help="Seconds between polls of the database queue.")

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        if not options["no_scheduler"]:
            if options["burst"]:
                enqueue_due()
            else:
                threading.Thread(target=_scheduler, args=(stop, 30.0), daemon=True, name="custos-scheduler").start()
        try:
            if settings.REDIS_URL:
                self._run_redis(burst=options["burst"])
            else:
                self._run_database(burst=options["burst"], interval=options["interval"])
        finally:
            stop.set()

    def _run_database(self, *, burst: bool, interval: float) -> None:
        from django_tasks_db.management.commands.db_worker import Worker

        Worker(
            queue_names=["default"],
            interval=interval,
            batch=burst,
            backend_name="default",
            startup_delay=False,
            max_tasks=None,
            worker_id=f"custos-{uuid.uuid4().hex[:8]}",
            excluded_queue_names=[],
        ).run()

    def _run_redis(self, *, burst: bool) -> None:
        import django_rq
        from django_tasks_rq.backend import Job
        from rq.worker import SimpleWorker

        # SimpleWorker runs each job in this process: a forked child would share the
        # parent's database connections, which Django does not allow.
        django_rq.get_worker("default", job_class=Job, worker_class=SimpleWorker).work(  # type: ignore[arg-type]
            burst=burst, with_scheduler=False
        )
