"""`custos bench crm`: search, list, import and API figures at a million contacts;
`custos bench privacy`: access report, erasure and retention on the same data (see bench/)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from bench.crm import MEASUREMENTS


class Command(BaseCommand):
    help = (
        "Generate a CRM (one big tenant, nine small ones) in a fresh benchmark database and measure "
        "search, the contact list, the CSV import and the API (crm), or the access report, erasure and the "
        "retention sweep (privacy). Prints JSON and a table."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("suite", choices=["crm", "privacy"])
        parser.add_argument(
            "--scale",
            type=int,
            default=1_000_000,
            help="Contacts in the big tenant (default 1,000,000); companies 20 %%, leads 30 %%, deals 10 %%, "
            "activities 200 %% of it; nine small tenants of 1 %% each.",
        )
        parser.add_argument(
            "--database",
            choices=["sqlite", "postgres", "both"],
            help="Default: the kind DATABASE_URL names, but never that database: SQLite uses "
            "var/bench/custos_bench.sqlite3, PostgreSQL database custos_bench on 127.0.0.1:5432 as user postgres "
            "(privacy: custos_bench_privacy, dropped afterwards).",
        )
        parser.add_argument("--only", default=",".join(MEASUREMENTS), help="Comma-separated: search,list,import,api.")
        parser.add_argument("--json", dest="json_path", help="Write the JSON here instead of printing it.")
        parser.add_argument("--api-seconds", type=float, default=20, help="Load duration per endpoint (default 20).")
        parser.add_argument(
            "--baseline-scale",
            type=int,
            default=10_000,
            help="Below --scale: search and list are measured at this many contacts too, in the same run "
            "(default 10,000; 0: not).",
        )
        parser.add_argument(
            "--quick", action="store_true", help="Few samples and no profile: checks that the benchmark runs."
        )
        parser.add_argument(
            "--reuse",
            action="store_true",
            help="crm: measure the data an earlier run left in the benchmark database instead of generating it "
            "again (no baseline; an import measured before has added its rows).",
        )
        # privacy
        parser.add_argument(
            "--contacts",
            type=int,
            default=10_000,
            help="privacy: contacts in the big tenant, with the CRM benchmark's other records (default 10,000).",
        )
        parser.add_argument(
            "--samples", type=int, default=50, help="privacy: persons reported on, and others erased (default 50)."
        )
        parser.add_argument(
            "--baseline-contacts",
            type=int,
            default=10_000,
            help="privacy: below --contacts, all is measured at this many contacts too (default 10,000; 0: not).",
        )
        parser.add_argument(
            "--keep", action="store_true", help="privacy: keep the benchmark database afterwards (default: dropped)."
        )
        # One step of a run, in a child process against the benchmark database (bench.crm.run_phase).
        parser.add_argument("--phase", help=argparse.SUPPRESS)
        parser.add_argument("--rows", type=int, default=0, help=argparse.SUPPRESS)
        parser.add_argument("--name", default="import", help=argparse.SUPPRESS)
        parser.add_argument("--seed", type=int, default=7, help=argparse.SUPPRESS)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["suite"] == "privacy":
            self.privacy(options)
            return
        from bench.crm import run, run_phase, table

        if options["phase"]:
            answer = run_phase(
                options["phase"],
                scale=options["scale"],
                rows=options["rows"],
                name=options["name"],
                seed=options["seed"],
                quick=options["quick"],
            )
            self.stdout.write(json.dumps(answer))
            return
        only = {name.strip() for name in options["only"].split(",") if name.strip()}
        if unknown := only - set(MEASUREMENTS):
            raise CommandError(f"--only knows {', '.join(MEASUREMENTS)}, not {', '.join(sorted(unknown))}")
        if options["scale"] < 100:
            raise CommandError("--scale must be at least 100")
        vendor = "postgres" if settings.DATABASES["default"]["ENGINE"].endswith("postgresql") else "sqlite"
        chosen = options["database"] or vendor
        databases = ["sqlite", "postgres"] if chosen == "both" else [chosen]
        report = run(
            scale=options["scale"],
            databases=databases,
            only=only,
            api_seconds=options["api_seconds"],
            baseline_scale=options["baseline_scale"],
            quick=options["quick"],
            reuse=options["reuse"],
        )
        text = json.dumps(report, indent=2, ensure_ascii=False)
        if options["json_path"]:
            Path(options["json_path"]).write_text(text + "\n")
        else:
            self.stdout.write(text)
        self.stdout.write(table(report))

    def privacy(self, options: dict[str, Any]) -> None:
        from bench import privacy

        if options["phase"]:
            answer = privacy.run_phase(
                options["phase"], contacts=options["contacts"], samples=options["samples"], seed=options["seed"]
            )
            self.stdout.write(json.dumps(answer))
            return
        if options["contacts"] < 100:
            raise CommandError("--contacts must be at least 100")
        if not 1 <= options["samples"] <= (options["contacts"] - 9) // 2:
            raise CommandError("--samples must be at least 1 and less than half of --contacts")
        vendor = "postgres" if settings.DATABASES["default"]["ENGINE"].endswith("postgresql") else "sqlite"
        chosen = options["database"] or vendor
        report = privacy.run(
            contacts=options["contacts"],
            samples=options["samples"],
            databases=["sqlite", "postgres"] if chosen == "both" else [chosen],
            baseline_contacts=options["baseline_contacts"],
            keep=options["keep"],
        )
        text = json.dumps(report, indent=2, ensure_ascii=False)
        if options["json_path"]:
            Path(options["json_path"]).write_text(text + "\n")
        else:
            self.stdout.write(text)
        self.stdout.write(privacy.table(report))
