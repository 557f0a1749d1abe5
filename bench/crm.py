"""`custos bench crm`: generate a CRM of a given size in a fresh database, then measure it.

Every step runs in its own process against the benchmark's own database (a file under
var/bench/ on SQLite, database `custos_bench` on the PostgreSQL server of DATABASE_URL),
with var/bench/ as the var directory, so a benchmark never touches the data or keys of
the installation it runs from. Separate processes also keep the measurements apart: the
import's peak memory is the import's alone, and the API is served by `custos serve`.
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
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import django
from django.conf import settings

from bench import api

MEASUREMENTS = ("search", "list", "import", "api")
BASELINE_SCALE = 10_000
DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"
# The targets: what docs/benchmarks.md reports each figure against.
TARGETS = {
    "search_p95_ms": 30,
    "list_p95_ms": 50,
    "import_rows_per_second": 20_000,
    "import_peak_rss_mb": 300,
    "api_throughput_ratio": 0.5,
}


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def bench_dir() -> Path:
    folder = Path(settings.VAR_DIR) / "bench"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def database_url(vendor: str, name: str) -> str:
    """The benchmark's own database: a file under var/bench/, or a database on the PostgreSQL
    server that DATABASE_URL names (the local one, as superuser `postgres`, otherwise)."""
    if vendor == "sqlite":
        return f"sqlite:///{bench_dir() / f'{name}.sqlite3'}"
    server = settings.DATABASE_URL if settings.DATABASE_URL.startswith("postgres") else DEFAULT_POSTGRES
    parts = urlsplit(server)
    return urlunsplit(parts._replace(path=f"/{name}"))


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
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as maintenance:
        maintenance.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        maintenance.execute(f'CREATE DATABASE "{name}"')


def child_environment(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "CUSTOS_VAR_DIR": str(bench_dir()),
        "CUSTOS_DEBUG": "0",  # DEBUG would keep every query in memory
        "DJANGO_SETTINGS_MODULE": "bench.settings",
    }


def step(env: dict[str, str], phase: str, **options: Any) -> Any:
    """Run one phase in a child process; its answer is the JSON on its last line of output."""
    command = [sys.executable, "-m", "custos", "bench", "crm", "--phase", phase]
    for name, value in options.items():
        command += [f"--{name.replace('_', '-')}", str(value)]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise RuntimeError(f"bench phase {phase} failed (exit {done.returncode})")
    say(f"[{phase}: {time.perf_counter() - started:.0f} s]")
    return json.loads(done.stdout.strip().splitlines()[-1])


def prepare(vendor: str, name: str, scale: int) -> tuple[dict[str, str], dict[str, Any]]:
    """A fresh, migrated benchmark database holding the generated CRM."""
    url = database_url(vendor, name)
    fresh_database(url)
    env = child_environment(url)
    for command in (["migrate"], ["collectstatic"]):  # static files: as `custos serve` collects them
        subprocess.run([sys.executable, "-m", "custos", *command, "--no-input", "-v", "0"], env=env, check=True)  # noqa: S603
    return env, step(env, "generate", scale=scale)


def run_database(vendor: str, *, scale: int, only: set[str], api_seconds: float) -> dict[str, Any]:
    say(f"== {vendor}: generating {scale:,} contacts and the rest")
    env, generation = prepare(vendor, "custos_bench", scale)
    result: dict[str, Any] = {"database": step(env, "version"), "scale": scale, "generation": generation}
    if "search" in only:
        result["search"] = step(env, "search")
    if "list" in only:
        result["list"] = step(env, "list")
    if "api" in only:
        result["api"] = api.measure(env, step(env, "api-setup"), seconds=api_seconds)
    if "import" in only:  # last: it adds a million contacts to the big tenant
        step(env, "import-file", rows=scale)
        result["import"] = step(env, "import", rows=scale)
        profiled = min(scale, 20_000)
        step(env, "import-file", rows=profiled, name="profile", seed=11)
        result["import"][f"profile_of_{profiled}_rows"] = step(env, "import", rows=profiled, name="profile", profile=1)
    if scale > BASELINE_SCALE and only & {"search", "list"}:
        say(f"== {vendor}: the same at {BASELINE_SCALE:,} contacts")
        env, generation = prepare(vendor, "custos_bench_baseline", BASELINE_SCALE)
        baseline: dict[str, Any] = {"scale": BASELINE_SCALE}
        if "search" in only:
            baseline["search"] = step(env, "search")
        if "list" in only:
            baseline["list"] = step(env, "list")
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


def run(*, scale: int, databases: list[str], only: set[str], api_seconds: float) -> dict[str, Any]:
    runs = []
    for vendor in databases:
        try:
            runs.append(run_database(vendor, scale=scale, only=only, api_seconds=api_seconds))
        except (RuntimeError, OSError, subprocess.CalledProcessError) as error:
            say(f"== {vendor}: failed: {error}")
            runs.append({"database": vendor, "scale": scale, "error": str(error)})
    return {
        "benchmark": "crm",
        "date": datetime.now().astimezone().date().isoformat(),
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
    """One line per figure and database, with its target and whether it is met."""
    lines = [f"{'figure':<46} {'database':<18} {'value':>14}  {'target':>10}  verdict"]

    def add(
        label: str, run: dict[str, Any], value: float | None, unit: str, target: str = "", verdict: str = ""
    ) -> None:
        shown = "—" if value is None else f"{value:,.2f}".rstrip("0").rstrip(".") + unit
        lines.append(f"{label:<46} {run['database']:<18} {shown:>14}  {target:>10}  {verdict}")

    for run in report["runs"]:
        scale = f"{run['scale']:,}"
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
                add(f"search p50 / p95 ({BASELINE_SCALE:,} contacts)", run, baseline["search"]["p50_ms"], " ms")
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
                add(f"contact list p50 / p95 ({BASELINE_SCALE:,} contacts)", run, baseline["list"]["p50_ms"], " ms")
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
