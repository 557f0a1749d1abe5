"""`custos bench crm`: generate a CRM of a given size in a fresh database, then measure it.

Every step runs in its own process against the benchmark's own database (a file under
var/bench/ on SQLite, database `custos_bench` on the local PostgreSQL server), with
var/bench/ as the var directory, so a benchmark never touches the data or keys of the
installation it runs from. Separate processes also keep the measurements apart: the
import's peak memory is the import's alone, and the API is served by `custos serve`.
The smoke test runs the same steps in its own process instead (`InProcess`).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import django
from django.conf import settings

MEASUREMENTS = ("search", "list", "import", "api")
BASELINE_SCALE = 10_000
# Two benchmarks at once on one machine each name their own database.
DATABASE_NAME = os.environ.get("CUSTOS_BENCH_DATABASE", "custos_bench")
POSTGRES_SERVER = "postgres://postgres@127.0.0.1:5432"
PROFILED_ROWS = 2_000
# The targets: what docs/benchmarks.md reports each figure against.
TARGETS = {
    "search_p95_ms": 30,
    "list_p95_ms": 50,
    "import_rows_per_second": 20_000,
    "import_peak_rss_mb": 300,
    "api_throughput_ratio": 0.5,
}
# Variables that would point a child at the developer's own database, files or cache.
NOT_INHERITED = ("DATABASE_URL_FILE", "CUSTOS_VAR_DIR_FILE", "REDIS_URL", "REDIS_URL_FILE", "CUSTOS_DEBUG_FILE")


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def bench_dir() -> Path:
    folder = Path(settings.VAR_DIR) / "bench"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def database_url(vendor: str) -> str:
    """The benchmark's own database: a file under var/bench/, or `custos_bench` on the local
    PostgreSQL server as superuser `postgres` (never the database DATABASE_URL names)."""
    if vendor == "sqlite":
        return f"sqlite:///{bench_dir() / f'{DATABASE_NAME}.sqlite3'}"
    return f"{POSTGRES_SERVER}/{DATABASE_NAME}"


def fresh_database(url: str) -> None:
    """Remove what an earlier run left and start empty."""
    if url.startswith("sqlite"):
        path = Path(urlsplit(url).path)
        for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)
        return
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    try:
        with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as maintenance:
            maintenance.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            maintenance.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as error:
        raise RuntimeError(f"PostgreSQL at {parts.hostname}:{parts.port}: {error}") from error


def child_environment(url: str) -> dict[str, str]:
    inherited = {name: value for name, value in os.environ.items() if name not in NOT_INHERITED}
    return {
        **inherited,
        "DATABASE_URL": url,
        "CUSTOS_VAR_DIR": str(bench_dir()),
        "CUSTOS_DEBUG": "0",  # DEBUG would keep every query in memory
        "DJANGO_SETTINGS_MODULE": "bench.settings",
    }


def run_phase(
    phase: str, *, scale: int = 0, rows: int = 0, name: str = "import", seed: int = 7, quick: bool = False
) -> Any:
    """One step of a run, against the current database: what a child process does."""
    from bench import api, generate, imports, measure

    match phase:
        case "prepare":  # a fresh database: the schema, the static files `custos serve` serves, the data
            from django.core.management import call_command

            call_command("migrate", interactive=False, verbosity=0)
            call_command("collectstatic", interactive=False, verbosity=0)
            return run_phase("generate", scale=scale)
        case "generate":
            return {"database": measure.database_version(), "generation": generate.generate(scale)}
        case "reuse":  # what an earlier run left, brought up to this code; its big tenant's size is the scale
            from django.core.management import call_command

            call_command("migrate", interactive=False, verbosity=0)
            call_command("collectstatic", interactive=False, verbosity=0)
            return {"database": measure.database_version(), "generation": {"reused": True}, **measure.stored()}
        case "search":
            return measure.search(quick=quick)
        case "list":
            return measure.contact_list(repeats=5 if quick else 60)
        case "api-setup":
            return api.setup(count=50 if quick else 1000)
        case "import-file":
            return imports.write_file(_rows(rows, name), seed=seed, name=name)
        case "import":
            return imports.run(_rows(rows, name), name=name, profile=name == "profile")
    raise ValueError(f"unknown phase {phase}")


def _rows(rows: int, name: str) -> int:
    """The profiled import is a sample: the profiler slows it several times over."""
    return min(rows, PROFILED_ROWS) if name == "profile" else rows


class Runner(Protocol):
    quick: bool

    def prepare(self, scale: int) -> dict[str, Any]: ...
    def phase(self, phase: str, **options: Any) -> Any: ...
    def api(self, credentials: dict[str, Any], *, seconds: float) -> dict[str, Any]: ...


class Children:
    """Each step in a child process against a fresh benchmark database; the API under `custos serve`."""

    def __init__(self, vendor: str, *, quick: bool = False) -> None:
        self.url = database_url(vendor)
        self.env = child_environment(self.url)
        self.quick = quick

    def prepare(self, scale: int) -> dict[str, Any]:
        fresh_database(self.url)
        return self.phase("prepare", scale=scale)

    def phase(self, phase: str, **options: Any) -> Any:
        """The step's answer is the JSON on the last line of the child's output."""
        command = [sys.executable, "-m", "custos", "bench", "crm", "--phase", phase]
        for option, value in options.items():
            command += [f"--{option.replace('_', '-')}", str(value)]
        if self.quick:
            command.append("--quick")
        started = time.perf_counter()
        done = subprocess.run(command, env=self.env, stdout=subprocess.PIPE, text=True, check=False)  # noqa: S603
        if done.returncode != 0:
            raise RuntimeError(f"bench phase {phase} failed (exit {done.returncode})")
        say(f"[{phase}: {time.perf_counter() - started:.0f} s]")
        return json.loads(done.stdout.strip().splitlines()[-1])

    def api(self, credentials: dict[str, Any], *, seconds: float) -> dict[str, Any]:
        from bench import api

        return api.measure(self.env, credentials, seconds=seconds, warm_up=0.5 if self.quick else 2.0)


class InProcess:
    """Each step in this process against its current database (a test's, already migrated and
    empty, so filled once: no baseline); the API measured on a server already running there
    (a test's live server, whose threads share one SQLite connection: one request at a time)."""

    def __init__(self, host: str, port: int, *, quick: bool = True) -> None:
        self.host, self.port, self.quick = host, port, quick

    def prepare(self, scale: int) -> dict[str, Any]:
        return run_phase("generate", scale=scale)

    def phase(self, phase: str, **options: Any) -> Any:
        return run_phase(phase, quick=self.quick, **options)

    def api(self, credentials: dict[str, Any], *, seconds: float) -> dict[str, Any]:
        from bench import api

        warm_up = 0.5 if self.quick else 2.0
        return api.load(self.host, self.port, credentials, seconds=seconds, warm_up=warm_up, concurrency=1)


def run_database(
    runner: Runner,
    *,
    scale: int,
    only: set[str],
    api_seconds: float,
    baseline_scale: int = BASELINE_SCALE,
    reuse: bool = False,
) -> dict[str, Any]:
    """The figures for one database. With search or list asked for and `scale` above
    `baseline_scale`, the database is first filled at the baseline scale and measured, then
    emptied and filled at full scale: search and list times at both sizes, from one run."""
    baseline: dict[str, Any] = {}
    if 0 < baseline_scale < scale and only & {"search", "list"} and not reuse:
        say(f"== generating {baseline_scale:,} contacts and the rest, for the baseline")
        baseline = {"scale": baseline_scale, **runner.prepare(baseline_scale)}
        for measurement in ("search", "list"):
            if measurement in only:
                baseline[measurement] = runner.phase(measurement)
    if reuse:
        prepared = runner.phase("reuse")
        scale = prepared["scale"]
    else:
        say(f"== generating {scale:,} contacts and the rest")
        prepared = runner.prepare(scale)
    result: dict[str, Any] = {"database": prepared["database"], "scale": scale, "generation": prepared["generation"]}
    if "search" in only:
        result["search"] = runner.phase("search")
    if "list" in only:
        result["list"] = runner.phase("list")
    if "api" in only:
        result["api"] = runner.api(runner.phase("api-setup"), seconds=api_seconds)
    if "import" in only:  # last: it adds `scale` contacts to the big tenant
        runner.phase("import-file", rows=scale)
        result["import"] = runner.phase("import", rows=scale)
        if not runner.quick:
            # A second, smaller import under the profiler: where the time goes, and per-row statements.
            profiled = min(scale, PROFILED_ROWS)
            runner.phase("import-file", rows=profiled, name="profile", seed=11)
            result["import"][f"profile_of_{profiled}_rows"] = runner.phase("import", rows=profiled, name="profile")
    if baseline:
        result["baseline"] = baseline
    return result


def machine() -> dict[str, Any]:
    cpu = ""
    memory_kb = 0
    try:
        cpu = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name"))
        cpu = cpu.split(":", 1)[1].strip()
        memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, StopIteration, ValueError):
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu or platform.processor(),
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "django": django.get_version(),
    }


def code_version() -> str:
    """The commit measured, and whether the working tree differed from it."""
    git = shutil.which("git")
    if git is None:
        return "unknown"

    def ask(*arguments: str) -> str:
        done = subprocess.run([git, *arguments], cwd=settings.BASE_DIR, capture_output=True, text=True, check=False)  # noqa: S603
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = ask("rev-parse", "--short", "HEAD")
    if not commit:
        return "unknown"
    return f"{commit} with local changes" if ask("status", "--porcelain", "--untracked-files=no") else commit


def run(
    *,
    scale: int,
    databases: list[str],
    only: set[str],
    api_seconds: float,
    baseline_scale: int = BASELINE_SCALE,
    quick: bool = False,
    reuse: bool = False,
) -> dict[str, Any]:
    """Every database in turn, each in its own fresh benchmark database (or as left, with `reuse`)."""
    runs = []
    for vendor in databases:
        say(f"== {vendor}")
        try:
            runner = Children(vendor, quick=quick)
            runs.append(
                run_database(
                    runner,
                    scale=scale,
                    only=only,
                    api_seconds=api_seconds,
                    baseline_scale=baseline_scale,
                    reuse=reuse,
                )
            )
        except (RuntimeError, OSError, ImportError) as error:
            say(f"== {vendor}: failed: {error}")
            runs.append({"database": vendor, "scale": scale, "error": str(error)})
    return report(runs, quick=quick)


def report(runs: list[dict[str, Any]], *, quick: bool = False) -> dict[str, Any]:
    return {
        "benchmark": "crm",
        "date": datetime.now().astimezone().date().isoformat(),
        "code": code_version(),
        "machine": machine(),
        "targets": TARGETS,
        "quick": quick,
        "runs": runs,
    }


# The human table -------------------------------------------------------------------------


def _met(value: float | None, target: float, *, at_most: bool) -> str:
    if value is None:
        return "—"
    return "met" if (value <= target if at_most else value >= target) else "NOT met"


def table(report: dict[str, Any]) -> str:
    """One line per figure and database, with its target and whether it is met."""
    lines = [f"{'figure':<46} {'database':<18} {'value':>14}  {'target':>10}  verdict"]

    def add(
        label: str, run: dict[str, Any], value: float | None, unit: str, target: str = "", verdict: str = ""
    ) -> None:
        shown = "—" if value is None else f"{value:,.2f}".rstrip("0").rstrip(".") + unit
        database = run["database"].split(" (")[0]  # "PostgreSQL 15.2 (Debian …)"
        lines.append(f"{label:<46} {database:<18} {shown:>14}  {target:>10}  {verdict}")

    for run in report["runs"]:
        scale = f"{run['scale']:,}"
        if "error" in run:
            lines.append(f"{'(no figures: ' + run['error'] + ')':<46} {run['database']:<18}")
            continue
        search, listing = run.get("search"), run.get("list")
        baseline = run.get("baseline", {})
        if search:
            add(f"search p50 ({scale} contacts)", run, search["p50_ms"], " ms")
            add(
                f"search p95 ({scale} contacts)",
                run,
                search["p95_ms"],
                " ms",
                "≤ 30 ms",
                _met(search["p95_ms"], 30, at_most=True),
            )
            if "search" in baseline:
                add(f"search p50 / p95 ({baseline['scale']:,} contacts)", run, baseline["search"]["p50_ms"], " ms")
                add("", run, baseline["search"]["p95_ms"], " ms")
        if listing:
            add(f"contact list p50 ({scale} contacts)", run, listing["p50_ms"], " ms")
            add(
                f"contact list p95 ({scale} contacts)",
                run,
                listing["p95_ms"],
                " ms",
                "≤ 50 ms",
                _met(listing["p95_ms"], 50, at_most=True),
            )
            if "list" in baseline:
                add(f"contact list p50 / p95 ({baseline['scale']:,} contacts)", run, baseline["list"]["p50_ms"], " ms")
                add("", run, baseline["list"]["p95_ms"], " ms")
        if "import" in run:
            imported = run["import"]
            add(
                f"import rows/s ({imported['rows']:,} rows)",
                run,
                imported["rows_per_second"],
                "",
                "≥ 20,000",
                _met(imported["rows_per_second"], 20_000, at_most=False),
            )
            add(
                "import peak RSS",
                run,
                imported["peak_rss_mb"],
                " MB",
                "≤ 300 MB",
                _met(imported["peak_rss_mb"], 300, at_most=True),
            )
        if "api" in run:
            served = run["api"]
            add("bare Django view req/s", run, served["bare_view"]["requests_per_second"], "")
            add("GET /api/v1/contacts/{id} req/s", run, served["contact_get"]["requests_per_second"], "")
            add("GET /api/v1/contacts/{id} p95", run, served["contact_get"]["p95_ms"], " ms")
            ratio = served["throughput_ratio"]
            add("API / bare throughput", run, ratio * 100, " %", "≥ 50 %", _met(ratio, 0.5, at_most=False))
    return "\n".join(lines)
