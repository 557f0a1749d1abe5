"""`GET /api/v1/contacts/{id}` under the production server, against a bare Django view.

Both run in the same server processes (`custos serve`, granian, 2 workers), started with
`bench.settings` so that the bare view exists; the load generator measures one, then the
other, with the same concurrency and duration.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import time
import urllib.request
from itertools import cycle
from typing import Any

from bench.load import hammer
from bench.measure import big_tenant, sample
from custos.accounts.access import actor_for
from custos.accounts.services import token_create
from custos.core.actor import Via
from custos.core.tenancy import tenant_scope
from custos.crm.models import Contact

HOST = "127.0.0.1"


def setup(count: int = 1000) -> dict[str, Any]:
    """A read-scoped token of the big tenant's owner and contact ids to ask for (run in the bench database)."""
    org, owner = big_tenant()
    with tenant_scope(org):
        _, token = token_create(actor=actor_for(owner, via=Via.CLI), name="bench", scopes=["read"], expires_days=1)
        ids = [str(contact.pk) for contact in sample(Contact, count, random.Random(3))]
    return {"token": token, "contact_ids": ids}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


# `custos serve` collects and compresses the static files before it listens: on a busy
# machine that alone took two minutes.
STARTUP_SECONDS = 300


def _wait_until_up(port: int, server: subprocess.Popen[bytes], timeout: float = STARTUP_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the server stopped while starting")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/bench/bare", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the server did not answer in time")


def measure(
    env: dict[str, str], credentials: dict[str, Any], *, seconds: float, warm_up: float = 2.0, concurrency: int = 16
) -> dict[str, Any]:
    """Start `custos serve --workers 2` on a free loopback port, load it, stop it."""
    port = free_port()
    command = [sys.executable, "-m", "custos", "serve", "--host", HOST, "--port", str(port), "--workers", "2"]
    server = subprocess.Popen(  # noqa: S603 (our own command)
        [*command, "--no-worker"],
        env={**env, "DJANGO_SETTINGS_MODULE": "bench.settings"},
        stdout=subprocess.DEVNULL,
    )
    try:
        _wait_until_up(port, server)
        figures = load(HOST, port, credentials, seconds=seconds, warm_up=warm_up, concurrency=concurrency)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    return {"server": "custos serve (granian WSGI), 2 workers", **figures}


def load(
    host: str,
    port: int,
    credentials: dict[str, Any],
    *,
    seconds: float,
    warm_up: float = 2.0,
    concurrency: int = 16,
) -> dict[str, Any]:
    """The bare view, then the contact endpoint, each for `seconds` after `warm_up` seconds."""
    ids = cycle(credentials["contact_ids"])
    auth = {"Authorization": f"Bearer {credentials['token']}", "Accept": "application/json"}
    bare = hammer(host, port, lambda: "/bench/bare", seconds=seconds, concurrency=concurrency, warm_up=warm_up)
    api = hammer(
        host,
        port,
        lambda: f"/api/v1/contacts/{next(ids)}",
        headers=auth,
        seconds=seconds,
        concurrency=concurrency,
        warm_up=warm_up,
    )
    return {
        "client": f"{concurrency} keep-alive connections, {seconds:g} s each after {warm_up:g} s warm-up, "
        "on the same machine",
        "bare_view": bare,
        "contact_get": api,
        "throughput_ratio": round(api["requests_per_second"] / max(bare["requests_per_second"], 1), 3),
        "cpu_count": os.cpu_count(),
    }
