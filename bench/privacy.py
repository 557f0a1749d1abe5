"""`custos bench privacy`: the privacy engine on the CRM benchmark's data.

The data is the CRM benchmark's (`bench.generate`: one big tenant of `--contacts` contacts
with its companies, leads, deals and activities, nine small tenants), in a fresh database of
the privacy benchmark's own (`custos_bench_privacy`), generated and measured in child
processes as `custos bench crm` does it. Measured as the big tenant's owner, in its tenant
scope (on PostgreSQL as the application role, row-level security on):

- the access report: `access_report` of random persons, rendered to JSON as the API sends it;
- erasure: `subject_erase` of other random persons, each in its own transaction, committed
  (its after-commit work included), as a request runs it; beside it, the free-text mention
  scan (`_mentions`: candidates through the mention indexes, confirmed in Python) alone;
- the retention sweep: a policy on `contact.inactive` (created more than so many days ago,
  anonymise) matching a known slice of the contacts, whose creation is moved into the past;
  previewed, then run with `retention_run`; persons per second of the run;
- a breach of the whole contact list: everyone in it recorded as affected at once
  (`breach_add_listed`), persons per second.

A few more persons are measured once more with every statement captured: how many statements
a report and an erasure make, and how much of the time the database takes.
"""

from __future__ import annotations

import cProfile
import datetime as dt
import json
import os
import pstats
import random
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from django.db import connection

from bench.crm import bench_dir, child_environment, code_version, fresh_database, machine, say
from bench.measure import big_tenant, database_version, sample, summary

# Two benchmarks at once on one machine each name their own database (and var directory).
DATABASE_NAME = os.environ.get("CUSTOS_BENCH_PRIVACY_DATABASE", "custos_bench_privacy")
POSTGRES_SERVER = "postgres://postgres@127.0.0.1:5432"
BASELINE_CONTACTS = 10_000
# Contacts whose creation the benchmark moves into the past, for the retention policy to find.
RETAINED_SHARE = 0.2
RETAINED_SINCE = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
# The policy's cut-off: between the moved contacts and the generated ones (from 2021 on).
RETENTION_CUTOFF = dt.datetime(2010, 1, 1, tzinfo=dt.UTC)
PROFILED = 3  # persons measured once more with their statements captured
TARGETS = {"access_report_p95_ms": 100, "erasure_p95_ms": 200, "retention_persons_per_second": 5_000}


def database_url(vendor: str) -> str:
    """The benchmark's own database, never the one DATABASE_URL names (and not the CRM
    benchmark's either, which may run at the same time)."""
    if vendor == "sqlite":
        return f"sqlite:///{bench_dir() / f'{DATABASE_NAME}.sqlite3'}"
    return f"{POSTGRES_SERVER}/{DATABASE_NAME}"


def run_phase(phase: str, *, contacts: int, samples: int, seed: int = 3) -> Any:
    """One step, against the current database: what a child process does."""
    from bench import generate

    match phase:
        case "prepare":
            from django.core.management import call_command

            call_command("migrate", interactive=False, verbosity=0)
            return {"database": database_version(), "generation": generate.generate(contacts)}
        case "generate":  # a database already migrated (a test's)
            return {"database": database_version(), "generation": generate.generate(contacts)}
        case "measure":
            return measure(samples=samples, seed=seed)
    raise ValueError(f"unknown phase {phase}")


def _timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return (time.perf_counter() - started) * 1000, result


class _Statements:
    """Counts and times every statement the connection executes (fetching included), and
    apart those with `LIKE` (free-text scans) and those asking the mention indexes."""

    def __init__(self) -> None:
        self.count = self.like_count = self.mention_count = 0
        self.seconds = self.like_seconds = self.mention_seconds = 0.0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = time.perf_counter() - started
            self.count += 1
            self.seconds += elapsed
            if " LIKE " in sql:
                self.like_count += 1
                self.like_seconds += elapsed
            if "privacy_mention" in sql:
                self.mention_count += 1
                self.mention_seconds += elapsed


def _statements(action: Callable[[], Any], *, profile: bool = False) -> dict[str, Any]:
    """Run once with every statement timed: how many, the database's share of the time (the
    statement's execution; rows are fetched later, in Python's share), and the scans' share.
    With `profile`, also the application's functions that took the most time, under cProfile."""
    counter = _Statements()
    profiler = cProfile.Profile() if profile else None
    with connection.execute_wrapper(counter):
        if profiler:
            profiler.enable()
        elapsed, _result = _timed(action)
        if profiler:
            profiler.disable()
    answer: dict[str, Any] = {
        "total_ms": round(elapsed, 2),
        "statements": counter.count,
        "database_ms": round(counter.seconds * 1000, 2),
        "like_statements": counter.like_count,
        "like_ms": round(counter.like_seconds * 1000, 2),
        "mention_index_statements": counter.mention_count,
        "mention_index_ms": round(counter.mention_seconds * 1000, 2),
    }
    if profiler:
        answer["hot_spots"] = _hot_spots(profiler)
    return answer


def _hot_spots(profiler: cProfile.Profile, count: int = 12) -> list[str]:
    """The application's functions with the most cumulative time (under the profiler, slower)."""
    stats = pstats.Stats(profiler)
    rows = []
    for (filename, line, name), (_calls, _primitive, _own, cumulative, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if "/custos/" in filename and "/.venv/" not in filename:
            where = filename.split("/custos/", 1)[1]
            rows.append((cumulative, f"custos/{where}:{line} {name}"))
    rows.sort(reverse=True)
    return [f"{seconds * 1000:,.0f} ms {where}" for seconds, where in rows[:count]]


def _profiles(measured: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of each figure over the profiled persons."""
    if not measured:
        return {}
    return {
        "persons": len(measured),
        **{name: sorted(m[name] for m in measured)[len(measured) // 2] for name in measured[0]},
    }


def measure(*, samples: int, seed: int = 3) -> dict[str, Any]:
    from django.utils import timezone

    from custos.accounts.access import actor_for
    from custos.core.actor import Via
    from custos.core.tenancy import tenant_scope
    from custos.crm.models import Activity, Contact, Deal, Lead
    from custos.crm.selectors.people import persons_listed
    from custos.privacy.models import Subject
    from custos.privacy.services.breaches import breach_add_listed, breach_create
    from custos.privacy.services.erasure import ErasurePlan, _mentions, _own_ids, subject_erase
    from custos.privacy.services.reports import access_report
    from custos.privacy.services.retention import (
        retention_policy_create,
        retention_policy_preview,
        retention_run,
    )

    rng = random.Random(seed)
    org, owner = big_tenant()
    with tenant_scope(org):
        actor = actor_for(owner, via=Via.WEB)
        picked = sample(Contact, 2 * samples + 2 * PROFILED + 3, rng)
        subjects = list(Subject.objects.filter(pk__in=[c.subject_id for c in picked]))
        rng.shuffle(subjects)
        warm_up, subjects = subjects[0], subjects[1:]
        reported, erased = subjects[:samples], subjects[samples : 2 * samples]
        profiled_report = subjects[2 * samples : 2 * samples + PROFILED]
        profiled_erasure = subjects[2 * samples + PROFILED : 2 * samples + 2 * PROFILED]
        hot_report, hot_erasure = subjects[2 * samples + 2 * PROFILED :]
        contacts_before = Contact.objects.count()

        # The access report, as JSON.
        json.dumps(access_report(warm_up, language="en"))
        report_ms, records, sizes = [], [], []

        def report_json(subject: Subject) -> str:
            return json.dumps(access_report(subject, language="en"))

        def erase(subject: Subject) -> ErasurePlan:
            return subject_erase(actor=actor, subject=subject)

        for subject in reported:
            elapsed, text = _timed(partial(report_json, subject))
            report_ms.append(elapsed)
            records.append(len(json.loads(text)["records"]))
            sizes.append(len(text))
        report_profile = [_statements(partial(report_json, s)) for s in profiled_report]
        report_hot_spots = _statements(partial(report_json, hot_report), profile=True)

        # The mention scan alone (read-only), on the persons reported on: they stay.
        mentions_ms = [_timed(partial(lambda s: _mentions(s, _own_ids(s)), s))[0] for s in reported]

        # Erasure, each in its own transaction, committed.
        erase_ms, redacted = [], []
        for subject in erased:
            elapsed, plan = _timed(partial(erase, subject))
            erase_ms.append(elapsed)
            redacted.append(len(plan.mentions))
        erase_profile = [_statements(partial(erase, s)) for s in profiled_erasure]
        # Once more under cProfile (slower): where an erasure's time goes.
        erase_hot_spots = _statements(partial(erase, hot_erasure), profile=True)
        erased_ids = [s.pk for s in [*erased, *profiled_erasure, hot_erasure]]

        # Retention: a known slice of contacts, none erased above, created long ago.
        retained = max(1, round(contacts_before * RETAINED_SHARE))
        slice_ids = list(
            Contact.objects.exclude(subject_id__in=erased_ids).order_by("pk").values_list("pk", flat=True)[:retained]
        )
        for start in range(0, len(slice_ids), 1000):
            Contact.objects.filter(pk__in=slice_ids[start : start + 1000]).update(created_at=RETAINED_SINCE)
        days = (dt.datetime.now(dt.UTC) - RETENTION_CUTOFF).days
        policy = retention_policy_create(
            actor=actor,
            data={"key": "contact.inactive", "condition": "created", "days": days, "action": "anonymise"},
        )
        preview_ms, counts = _timed(lambda: retention_policy_preview(actor=actor, policy=policy))
        run_ms, run = _timed(lambda: retention_run(actor=actor, policy=policy))
        seconds = run_ms / 1000
        # A second run finds nothing: the sweep's fixed cost.
        again_ms, again = _timed(lambda: retention_run(actor=actor, policy=policy))

        # A breach of the whole contact list: everyone in it recorded as affected, in one go.
        breach = breach_create(actor=actor, data={"title": "Bench: the contact list", "aware_at": timezone.now()})
        listed_ms, listed = _timed(
            lambda: breach_add_listed(actor=actor, breach=breach, subjects=[persons_listed(actor, "contact")])
        )

        tenant = {
            "contacts": contacts_before,
            "leads": Lead.objects.count(),
            "deals": Deal.objects.count(),
            "activities": Activity.objects.count(),
            "persons": Subject.objects.count(),
        }

    return {
        "tenant": tenant,
        "access_report": {
            **summary(report_ms),
            "records_per_report_p50": sorted(records)[len(records) // 2],
            "json_bytes_p50": sorted(sizes)[len(sizes) // 2],
            "profile": _profiles(report_profile),
            "under_cprofile": report_hot_spots,
        },
        "erasure": {
            **summary(erase_ms),
            "redacted_mentions_p50": sorted(redacted)[len(redacted) // 2],
            "mention_scan": summary(mentions_ms),
            "profile": _profiles(erase_profile),
            "under_cprofile": erase_hot_spots,
        },
        "retention": {
            "policy": "contact.inactive, created, anonymise",
            "persons": counts.persons,
            "records": counts.matched,
            "processed": run.processed,
            "preview_ms": round(preview_ms, 2),
            "seconds": round(seconds, 3),
            "persons_per_second": round(counts.persons / seconds) if seconds else None,
            "second_run": {"processed": again.processed, "ms": round(again_ms, 2)},
        },
        "breach_list": {
            "persons": listed,
            "seconds": round(listed_ms / 1000, 3),
            "persons_per_second": round(listed / listed_ms * 1000) if listed_ms else None,
        },
    }


class Children:
    """Each step in a child process against the privacy benchmark's fresh database."""

    def __init__(self, vendor: str) -> None:
        self.url = database_url(vendor)
        # A var directory of its own: the erasures' journal belongs to this database alone.
        default = DATABASE_NAME == "custos_bench_privacy"
        self.var_dir = bench_dir() / ("privacy" if default else f"privacy_{DATABASE_NAME}")
        self.var_dir.mkdir(exist_ok=True, mode=0o700)
        self.env = {**child_environment(self.url), "CUSTOS_VAR_DIR": str(self.var_dir)}

    def prepare(self, contacts: int) -> dict[str, Any]:
        fresh_database(self.url)
        return self.phase("prepare", contacts=contacts, samples=0)

    def phase(self, phase: str, *, contacts: int, samples: int) -> Any:
        """The step's answer is the JSON on the last line of the child's output."""
        command = [sys.executable, "-m", "custos", "bench", "privacy", "--phase", phase]
        command += ["--contacts", str(contacts), "--samples", str(samples)]
        started = time.perf_counter()
        done = subprocess.run(command, env=self.env, stdout=subprocess.PIPE, text=True, check=False)  # noqa: S603
        if done.returncode != 0:
            raise RuntimeError(f"bench phase {phase} failed (exit {done.returncode})")
        say(f"[{phase}: {time.perf_counter() - started:.0f} s]")
        return json.loads(done.stdout.strip().splitlines()[-1])

    def drop(self) -> None:
        """Leave no copy of the generated data behind: the database goes, and the journal of
        its erasures."""
        from custos.privacy.services.journal import FILE_NAME

        (self.var_dir / FILE_NAME).unlink(missing_ok=True)
        if self.url.startswith("sqlite"):
            fresh_database(self.url)  # removes the file and its WAL
        else:
            import psycopg

            with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as maintenance:
                maintenance.execute(f'DROP DATABASE IF EXISTS "{DATABASE_NAME}" WITH (FORCE)')


class InProcess:
    """Each step in this process against its current database (a test's, migrated and empty)."""

    def prepare(self, contacts: int) -> dict[str, Any]:
        return run_phase("generate", contacts=contacts, samples=0)

    def phase(self, phase: str, *, contacts: int, samples: int) -> Any:
        return run_phase(phase, contacts=contacts, samples=samples)


def run_database(
    runner: Children | InProcess, *, contacts: int, samples: int, baseline_contacts: int = BASELINE_CONTACTS
) -> dict[str, Any]:
    """The figures for one database, at `contacts` and, when that is more, first at
    `baseline_contacts` in the same run (the database emptied and filled again in between)."""
    baseline: dict[str, Any] = {}
    if 0 < baseline_contacts < contacts:
        say(f"== generating {baseline_contacts:,} contacts and the rest, for the baseline")
        prepared = runner.prepare(baseline_contacts)
        baseline = {
            "contacts": baseline_contacts,
            "generation": prepared["generation"],
            **runner.phase("measure", contacts=baseline_contacts, samples=samples),
        }
    say(f"== generating {contacts:,} contacts and the rest")
    prepared = runner.prepare(contacts)
    result: dict[str, Any] = {
        "database": prepared["database"],
        "contacts": contacts,
        "samples": samples,
        "generation": prepared["generation"],
        **runner.phase("measure", contacts=contacts, samples=samples),
    }
    if baseline:
        result["baseline"] = baseline
    return result


def run(*, contacts: int, samples: int, databases: list[str], baseline_contacts: int, keep: bool) -> dict[str, Any]:
    runs = []
    for vendor in databases:
        say(f"== {vendor}")
        runner = Children(vendor)
        try:
            runs.append(run_database(runner, contacts=contacts, samples=samples, baseline_contacts=baseline_contacts))
        except (RuntimeError, OSError, ImportError) as error:
            say(f"== {vendor}: failed: {error}")
            runs.append({"database": vendor, "contacts": contacts, "error": str(error)})
        finally:
            if not keep:
                try:
                    runner.drop()
                except (RuntimeError, OSError, ImportError) as error:
                    say(f"== {vendor}: could not drop the benchmark database: {error}")
    return report(runs)


def report(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "benchmark": "privacy",
        "date": dt.datetime.now().astimezone().date().isoformat(),
        "code": code_version(),
        "machine": machine(),
        "targets": TARGETS,
        "runs": runs,
    }


# The human table -------------------------------------------------------------------------


def _met(value: float | None, target: float, *, at_most: bool) -> str:
    if value is None:
        return "—"
    return "met" if (value <= target if at_most else value >= target) else "NOT met"


def table(report: dict[str, Any]) -> str:
    """One line per figure, size and database, with its target and whether it is met."""
    lines = [f"{'figure':<46} {'database':<18} {'value':>14}  {'target':>10}  verdict"]

    def add(label: str, database: str, value: float | None, unit: str, target: str = "", verdict: str = "") -> None:
        shown = "—" if value is None else f"{value:,.2f}".rstrip("0").rstrip(".") + unit
        lines.append(f"{label:<46} {database:<18} {shown:>14}  {target:>10}  {verdict}")

    for run in report["runs"]:
        database = run["database"].split(" (")[0]
        if "error" in run:
            lines.append(f"{'(no figures: ' + run['error'] + ')':<46} {database:<18}")
            continue
        for figures in (run.get("baseline"), run):
            if not figures:
                continue
            size = f"{figures['contacts']:,}"
            reported, erased, retained = figures["access_report"], figures["erasure"], figures["retention"]
            add(f"access report p50 ({size} contacts)", database, reported["p50_ms"], " ms")
            add(
                f"access report p95 ({size} contacts)",
                database,
                reported["p95_ms"],
                " ms",
                "≤ 100 ms",
                _met(reported["p95_ms"], 100, at_most=True),
            )
            add(f"erasure p50 ({size} contacts)", database, erased["p50_ms"], " ms")
            add(
                f"erasure p95 ({size} contacts)",
                database,
                erased["p95_ms"],
                " ms",
                "≤ 200 ms",
                _met(erased["p95_ms"], 200, at_most=True),
            )
            add(f"  mention scan alone p50 ({size})", database, erased["mention_scan"]["p50_ms"], " ms")
            add(
                f"retention persons/s ({retained['persons']:,} persons)",
                database,
                retained["persons_per_second"],
                "",
                "≥ 5,000",
                _met(retained["persons_per_second"], 5_000, at_most=False),
            )
            if listed := figures.get("breach_list"):
                add(f"breach: whole list persons/s ({listed['persons']:,})", database, listed["persons_per_second"], "")
    return "\n".join(lines)
