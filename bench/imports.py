"""The contact import at scale: a messy spreadsheet export in, the real import job over it.

The file is what a German office exports from Excel: UTF-8 with BOM, `;`-separated,
German headers, phone numbers typed every which way, stray spaces, upper-case emails,
some invalid rows, some people the tenant already has, some rows twice. It is written
by one process and imported by another, so the import's peak memory is its own.
"""

from __future__ import annotations

import cProfile
import csv
import io
import pstats
import random
import re
import resource
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from bench import data
from bench.measure import big_tenant
from custos.accounts.access import actor_for
from custos.accounts.models import Membership
from custos.core.actor import Via
from custos.core.tenancy import tenant_scope
from custos.crm.imports import import_start, import_upload, run_job
from custos.crm.models import Company, Contact, ImportJob

HEADERS = ["Vorname", "Nachname", "E-Mail", "Telefon", "Firma", "Zuständig", "Tags", "Notizen"]


def csv_path(rows: int, name: str = "import") -> Path:
    return Path(settings.VAR_DIR) / f"{name}-{rows}.csv"  # the benchmark's own var directory


def write_file(rows: int, *, seed: int = 7, name: str = "import") -> dict[str, Any]:
    """About 2.5 % duplicates of stored contacts, 2 % rows repeated in the file, 2 % invalid."""
    rng = random.Random(seed)
    org, _owner = big_tenant()
    with tenant_scope(org):
        stride = max(1, Contact.objects.count() // max(rows // 40, 1))
        known = [
            email
            for n, email in enumerate(
                Contact.objects.exclude(email="").values_list("email", flat=True).iterator(chunk_size=5000)
            )
            if n % stride == 0
        ]
        companies = list(Company.objects.values_list("name", flat=True)[: max(rows // 20, 10)])
        members = list(Membership.objects.filter(org=org).values_list("user__email", flat=True))
    emails = data.Emails(random.Random(seed + 1))
    emails.used.update(address.lower() for address in known)
    earlier: list[list[str]] = []
    path = csv_path(rows, name)
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(HEADERS)
        for n in range(rows):
            roll = rng.random()
            if roll < 0.02 and earlier:
                writer.writerow(rng.choice(earlier))  # the same person twice in one file
                continue
            who = data.person(rng)
            email = rng.choice(known) if roll < 0.045 and known else emails(who)
            if rng.random() < 0.05:
                email = email.upper()
            phone = data.phone_as_typed(rng, data.phone(rng, who.country)) if rng.random() < 0.7 else ""
            if roll > 0.99:
                email = email.replace("@", " at ")  # rejected: not an email address
            elif roll > 0.985:
                phone = "12"  # rejected: not a phone number
            company = ""
            if rng.random() < 0.3:
                company = rng.choice(companies) if rng.random() < 0.7 else data.company_name(rng, who.country)
            row = [
                f" {who.first_name}" if rng.random() < 0.03 else who.first_name,
                who.last_name.upper() if rng.random() < 0.02 else who.last_name,
                email,
                phone,
                company,
                rng.choice(members) if rng.random() < 0.3 else "",
                ", ".join(rng.sample(data.TAGS, k=rng.choice((0, 0, 1, 2)))),
                rng.choice(data.NOTES),
            ]
            writer.writerow(row)
            if n % 50 == 0:
                earlier.append(row)
    return {"rows": rows, "bytes": path.stat().st_size, "path": str(path)}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run(rows: int, *, name: str = "import", profile: bool = False) -> dict[str, Any]:
    """Upload, start and run the import job synchronously, as the worker would."""
    rss_before = _peak_rss_mb()
    org, owner = big_tenant()
    path = csv_path(rows, name)
    with tenant_scope(org):
        actor = actor_for(owner, via=Via.WEB)
        started = time.perf_counter()
        with open(path, "rb") as stream:
            job = import_upload(actor=actor, object_type="contact", file_name=path.name, stream=stream)
        uploaded = time.perf_counter()
        import_start(actor=actor, job=job, mapping=job.mapping, duplicates="skip")
    profiler, statements = cProfile.Profile(), StatementCounter()
    processing = time.perf_counter()
    if profile:
        with connection.execute_wrapper(statements):
            profiler.runcall(run_job, str(org.pk), str(job.pk))
    else:
        run_job(str(org.pk), str(job.pk))
    finished = time.perf_counter()
    with tenant_scope(org):
        job = ImportJob.objects.get(pk=job.pk)
    result: dict[str, Any] = {
        "rows": job.total_rows,
        "status": job.status,
        "created": job.created_count,
        "updated": job.updated_count,
        "skipped_duplicates": job.skipped_count,
        "rejected": job.rejected_count,
        "upload_seconds": round(uploaded - started, 2),
        "import_seconds": round(finished - processing, 2),
        "rows_per_second": round(job.total_rows / (finished - processing)),
        "rows_per_second_with_upload": round(job.total_rows / (finished - started)),
        "peak_rss_mb": round(_peak_rss_mb()),
        "rss_before_mb": round(rss_before),
    }
    if profile:
        result["statements"] = dict(statements.counts.most_common(12))
        result["profile"] = _top(profiler)
    return result


def _top(profiler: cProfile.Profile, count: int = 15) -> dict[str, list[dict[str, Any]]]:
    """Where the import's time goes: the application's functions by cumulative time, and
    all functions by the time spent in themselves."""
    stats = pstats.Stats(profiler, stream=io.StringIO())
    rows = []
    for (file_name, line, function), (_calls, calls, own, total, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append(
            {
                "function": f"{_short(file_name)}:{line}({function})",
                "calls": calls,
                "own_s": round(own, 3),
                "cumulative_s": round(total, 3),
            }
        )
    return {
        "custos_by_cumulative": sorted(
            (row for row in rows if row["function"].startswith("custos/")), key=lambda row: -row["cumulative_s"]
        )[:count],
        "all_by_own_time": sorted(rows, key=lambda row: -row["own_s"])[:count],
    }


def _short(file_name: str) -> str:
    return file_name.split("site-packages/")[-1].removeprefix(f"{settings.BASE_DIR}/")


STATEMENT = re.compile(r'^\s*(\w+).*?(?:FROM|INTO|UPDATE)\s+"?(\w+)', re.IGNORECASE | re.DOTALL)


class StatementCounter:
    """Statements by kind and table (`INSERT privacy_subject`): per-row queries show up at once."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        match = STATEMENT.match(sql)
        self.counts[f"{match[1].upper()} {match[2]}" if match else sql.split(None, 1)[0].upper()] += 1
        return execute(sql, params, many, context)


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
