"""The shipped deployment past one process (deploy/): HAProxy in front of two app replicas on one
PostgreSQL, started exactly as ``python -m deploy.school`` starts it, with the simulated students of
benchmarks/class_load.py going through the proxy and keeping its affinity cookie. One replica is
SIGKILLed mid-burst: its students must go on on the other one, as the same students, and nothing
confirmed may be lost. Skips without HAProxy or PostgreSQL; fails instead under MNIST_SMALL_REQUIRE_PG=1 (CI)."""

from __future__ import annotations

import math
import os
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from benchmarks import class_load
from benchmarks.class_digits import load_digits
from deploy.school import haproxy_binary, haproxy_config

from .conftest import MNIST_DIR, fresh_pg_database


@pytest.fixture
def haproxy() -> str:
    binary = haproxy_binary()
    if binary is None:
        reason = "HAProxy is not installed (Debian: apt-get install haproxy; .ci/run installs it)"
        if os.environ.get("MNIST_SMALL_REQUIRE_PG") == "1":
            pytest.fail(f"MNIST_SMALL_REQUIRE_PG=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    return binary


def test_the_config_for_replicas_on_other_machines_is_one_haproxy_accepts(haproxy: str, tmp_path: Path):
    config = tmp_path / "haproxy.cfg"
    config.write_text(haproxy_config("0.0.0.0:8500", [("10.0.0.2", 8501), ("10.0.0.3", 8501)], tmp_path))
    check = subprocess.run([haproxy, "-c", "-f", str(config)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    servers = [line.split() for line in config.read_text().splitlines() if line.strip().startswith("server ")]
    assert [(s[1], s[2], s[s.index("cookie") + 1]) for s in servers] == [
        ("app1", "10.0.0.2:8501", "app1"),
        ("app2", "10.0.0.3:8501", "app2"),
    ]


def test_a_class_through_haproxy_survives_a_replica_killed_mid_burst(haproxy: str):
    students, seconds, every = 10, 9.0, 3.0
    with fresh_pg_database() as url:
        burst = ["--students", str(students), "--seconds", str(seconds), "--every", str(every)]
        school = ["--replicas", "2", "--kill-replica-after", "3", "--db", url, "--data", str(MNIST_DIR)]
        args = class_load.parse_args(burst + school)
        outcome = class_load.run(args, load_digits(MNIST_DIR, students * math.ceil(seconds / every)))
    stats, stored = outcome.stats, outcome.stored or Counter()

    # leastconn spread the new browsers over both replicas, and the cookie kept each on its own
    assert set(stats.replicas) == {"app1", "app2"} and sum(stats.replicas.values()) == students, stats.replicas
    assert stats.killed_at is not None
    down = [name for name, state in (outcome.replicas or {}).items() if state.startswith("DOWN")]
    assert len(down) == 1 and len(outcome.replicas or {}) == 2, outcome.replicas
    # only the killed replica's students moved, each once; nobody else lost the connection
    assert stats.moved == stats.replicas[down[0]], (stats.moved, stats.replicas)
    assert stats.interrupted <= stats.replicas[down[0]]
    assert stats.gave_up == 0 and not stats.page_errors, (stats.gave_up, stats.page_errors)

    # every drawing was answered but those cut short by the kill, and every student went on after it
    assert stats.unanswered == 0 and len(stats.draw_ms) >= stats.draws - stats.interrupted
    assert all(stats.answered_after_kill[n] >= 1 for n in range(students)), stats.answered_after_kill
    # nothing confirmed is lost; a click in flight on the killed replica may be stored unconfirmed
    assert sum(stats.confirmed.values()) >= students * 2
    assert not stats.confirmed - stored, "confirmed drawings missing from PostgreSQL"
    assert sum((stored - stats.confirmed).values()) <= 1
