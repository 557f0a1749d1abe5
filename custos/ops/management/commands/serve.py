"""`custos serve`: the production server (granian, WSGI) plus the task worker."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Serve Custos over plain HTTP (put a TLS proxy in front and set CUSTOS_HTTPS=1) with the task worker."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=2, help="Server processes (default 2).")
        parser.add_argument(
            "--threads",
            type=int,
            default=2 * (os.cpu_count() or 1) + 1,
            help="Request threads per process (default: twice the CPU cores, plus one).",
        )
        parser.add_argument(
            "--no-worker", action="store_true", help="Do not start a task worker (run `custos worker` elsewhere)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from granian.constants import Interfaces
        from granian.server import Server

        if "whitenoise.storage" in settings.STORAGES["staticfiles"]["BACKEND"]:
            call_command("collectstatic", interactive=False, verbosity=0)
        worker = None
        if not options["no_worker"]:
            worker = subprocess.Popen([sys.executable, "-m", "custos", "worker"])
        self.stdout.write(f"Custos is serving http://{options['host']}:{options['port']}/ (Ctrl+C stops it)")
        try:
            Server(
                "config.wsgi:application",
                address=options["host"],
                port=options["port"],
                interface=Interfaces.WSGI,
                workers=options["workers"],
                blocking_threads=options["threads"],
                log_access=False,
            ).serve()
        finally:
            if worker is not None:
                worker.terminate()
                try:
                    worker.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    worker.kill()
