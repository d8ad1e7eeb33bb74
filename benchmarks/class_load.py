"""Class mode under load: simulated students draw digits and add them to the class set.

    python -m benchmarks.class_load --students 30 --seconds 60 [--every 5] [--port P] [--db URL]
                                    [--kill-after SECONDS] [--teacher] [--data DIR] [--log FILE]
    python -m benchmarks.class_load --students 100 --replicas 2 [--kill-replica-after SECONDS] [--db URL]

What it measures: the server's own cost of a class drawing at once, with no browsers on the
machine. It starts ``streamlit run streamlit_app.py`` itself (the class set in a fresh temporary
SQLite file unless --db is given), and each simulated student is one websocket session speaking
Streamlit's own protocol (``BackMsg``/``ForwardMsg`` protobufs over ``/_stcore/stream``), sending
what a browser sends. Each student

1. opens the page (its first run is not in the figures); once the whole class has, the burst starts;
2. every --every seconds, staggered evenly over the period, *draws*: sends the canvas component's
   state ``{"drawing": {"raw": <fabric JSON>, "data": "data:image/png;base64,..."}}`` with a real
   digit (an MNIST test digit drawn the way the canvas draws, ``mnist_small.handwriting.drawn``, white on
   black, 280x280), timed to the run's ``script_finished``; the answer ("… says <digit>") must
   have come in that run;
3. picks the digit it meant in the segmented control ``class_label`` (a rerun of its own, as in
   the browser: the button is disabled until then), clicks "Add to the class set" (button
   ``class_add``, a trigger, the pick still set) and waits for the message starting with "Added".
   Widgets inside an ``st.fragment`` rerun that fragment alone (``rerun_script.fragment_id``, as
   the browser sends it), and a fragment's ``st.rerun()`` is followed to the end of the full run.

A student that falls behind starts its next drawing at once (``late ticks``): a slow server slows
the class down, as it would real students. Afterwards the ``drawings`` table is read and its PNGs
matched against the drawings the server confirmed: ``lost`` counts confirmed drawings missing
from the database. ``--kill-after S`` SIGKILLs the server S seconds into the burst, just after a
student's click on "Add", and starts it again on the same port and database (the students
reconnect, as the browser does); an SQLite class set must then pass ``PRAGMA integrity_check``.
``--teacher`` adds the projector: one more page on the Class tab, whose live view reruns itself
every few seconds.

``--replicas N`` runs the school of deploy/school.py instead: N app processes and HAProxy in front,
on PostgreSQL (--db, best an empty database: ``stored`` counts the whole table; else a fresh
database on the cluster ``.ci/postgres.sh`` starts, dropped afterwards); the students go through the proxy and keep its affinity cookie as a browser does.
``--kill-replica-after S`` SIGKILLs, S seconds into the burst, the replica of the student who just
clicked "Add"; it is not started again: its students reconnect through the proxy and go on on the
others. The figures add the students per replica, how many moved, and the replicas' CPU.

The last lines are ``p50_ms`` and ``p95_ms`` (drawing to answer), ``submitted`` (confirmed with
"Added"), ``stored`` (rows in the table), ``lost`` and ``server_cpu_per_drawing_ms`` (the server's, or
all replicas', CPU time over the burst, page loads left out, per drawing).
Target: 30 students every 5 s for 60 s: p95 <= 1500 ms, lost 0.

The simulated students are in ``class_students.py``, their digits in ``class_digits.py``, the
websocket client (and how Streamlit's handshake goes) in ``streamlit_client.py``, the server in
``appserver.py``.

Run it on a quiet machine (no training, no test suite): the server and this client share the
cores. Streamlit settings can be tried through the environment (``STREAMLIT_RUNNER_POST_SCRIPT_GC=false``,
``STREAMLIT_SERVER_FILE_WATCHER_TYPE=none``); the run prints the ones set.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from benchmarks.appserver import ROOT, AppServer, free_port
from benchmarks.class_digits import Digit, load_digits, picture_key
from benchmarks.class_students import ADD_KEY, LABEL_KEY, RECONNECT_FOR, Stats, burst
from benchmarks.streamlit_client import Tab
from deploy.school import COOKIE, running_school

# ---- the database afterwards --------------------------------------------------------------


def stored_pictures(db_url: str) -> Counter[str] | None:
    """The picture key of every row of the class set, None when there is no drawings table.

    The table is ``drawings`` of mnist_small/classset.py, whose ``png`` column holds the canvas
    as drawn; it is read with plain SQLAlchemy so that this benchmark needs nothing of the
    module's API. (If the schema changes, this is the one function to switch.)
    """
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            return Counter(picture_key(png) for png in connection.execute(text("SELECT png FROM drawings")).scalars())
    except SQLAlchemyError:
        return None
    finally:
        engine.dispose()


def integrity(db_url: str) -> str:
    """``PRAGMA integrity_check`` of an SQLite class set ("ok" when sound), opened afresh the way
    the app opens it; other databases are only opened."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            if make_url(db_url).get_backend_name() != "sqlite":
                connection.execute(text("SELECT 1"))
                return "opens (no integrity check outside SQLite)"
            return "; ".join(row[0] for row in connection.execute(text("PRAGMA integrity_check")))
    except SQLAlchemyError as err:
        return f"cannot open: {err}"
    finally:
        engine.dispose()


@contextmanager
def fresh_postgres() -> Iterator[str]:
    """A new empty database on the local PostgreSQL that .ci/postgres.sh starts (and prints the URL
    of), dropped afterwards: the count of stored drawings is then this run's alone."""
    script = subprocess.run(["bash", ".ci/postgres.sh"], cwd=ROOT, capture_output=True, text=True, check=True)
    admin_url = script.stdout.strip().splitlines()[-1]
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")  # CREATE DATABASE cannot run in a transaction
    name = f"class_load_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def log_lines(log: str) -> Counter[str]:
    """The server log's lines apart from the start-up banner, alike ones counted together (the
    timestamp dropped, numbers as #): what the server complained about, and how often."""
    banner = ("----", "Uvicorn server started", "You can now view", "URL:", "Stopping...")
    lines = (re.sub(r"^\d{4}-\d\d-\d\d [\d:.]+ ", "", line.strip()) for line in log.splitlines())
    return Counter(re.sub(r"\d+", "#", line) for line in lines if line and not line.startswith(banner))


# ---- main ---------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank percentile; nan for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def spread(values: list[float]) -> str:
    return f"p50 {percentile(values, 50):.0f} / p95 {percentile(values, 95):.0f} / max {max(values, default=math.nan):.0f} ms (n={len(values)})"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from mnist_small.settings import data_dir

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=60, help="length of the burst")
    parser.add_argument("--every", type=float, default=5, help="seconds between one student's drawings")
    parser.add_argument("--port", type=int, default=None, help="default: a free port")
    parser.add_argument("--db", default=None, help="class set URL (default: a fresh temporary SQLite file)")
    parser.add_argument(
        "--kill-after",
        type=float,
        default=None,
        metavar="SECONDS",
        help="SIGKILL the server this far into the burst (just after a click on Add) and start it again",
    )
    parser.add_argument("--replicas", type=int, default=0, help="N app processes behind HAProxy on PostgreSQL (deploy/school.py)")
    parser.add_argument(
        "--kill-replica-after",
        type=float,
        default=None,
        metavar="SECONDS",
        help="with --replicas: SIGKILL one replica this far into the burst (just after a click on Add), not started again",
    )
    parser.add_argument("--teacher", action="store_true", help="one more page on the Class tab, refreshing itself, as on the projector")
    parser.add_argument("--log", type=Path, default=None, help="keep the server's log in this file (default: a temporary one)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait for one rerun")
    parser.add_argument("--data", type=Path, default=data_dir(), help="folder with MNIST/raw (default: $MNIST_SMALL_DATA or ./data)")
    args = parser.parse_args(argv)
    if args.students < 1 or args.seconds <= 0 or args.every <= 0:
        parser.error("--students, --seconds and --every must be positive")
    if args.replicas < 0 or (args.replicas and (args.kill_after is not None or args.log)):
        parser.error("--replicas takes a number >= 1, and goes with --kill-replica-after, not --kill-after or --log")
    if args.kill_replica_after is not None:
        if args.replicas < 2:
            parser.error("--kill-replica-after needs --replicas 2 or more: someone must be left to take the students")
        args.kill_after = args.kill_replica_after  # the burst kills at --kill-after; the victim is a replica
    if args.db and args.replicas and make_url(args.db).get_backend_name() != "postgresql":
        parser.error("--replicas needs PostgreSQL for --db (several processes on one class set)")
    return args


@dataclass
class Outcome:
    """What is known once the server has stopped: the students' figures, the database and the log."""

    stats: Stats
    wall: float  # seconds from starting the server to stopping it
    server_cpu: float  # seconds
    client_cpu: float  # seconds, this process
    log: str
    stored: Counter[str] | None  # picture keys of the stored drawings; None: no drawings table
    integrity: str
    replicas: dict[str, str] | None = None  # with --replicas: HAProxy's view of each at the end
    proxy_cpu: float = 0.0  # with --replicas: HAProxy's CPU seconds


def run(args: argparse.Namespace, digits: list[Digit]) -> Outcome:
    """Start the server on a fresh class set (unless --db), run the burst, stop the server, and
    read the database and the log; with --replicas, the school."""
    if args.replicas:
        if args.db:
            return run_school(args, digits, args.db)
        with fresh_postgres() as db_url:
            return run_school(args, digits, db_url)
    with tempfile.TemporaryDirectory(prefix="class_load-") as tmp:
        db_url = args.db or f"sqlite:///{Path(tmp) / 'class.db'}"
        server = AppServer(args.port or free_port(), args.log or Path(tmp) / "server.log", {"MNIST_SMALL_DB": db_url})
        print(f"server: port {server.port}, class set {make_url(db_url).render_as_string(hide_password=True)}", flush=True)
        began = time.monotonic()
        server.start()
        client_cpu = time.process_time()
        try:
            stats = run_apart(burst(server.url, digits, args, server.cpu_seconds, lambda page: server))
        finally:
            server.stop()
        wall, client_cpu = time.monotonic() - began, time.process_time() - client_cpu
        log = server.log_path.read_text(errors="replace")
        return Outcome(stats, wall, server.cpu_seconds(), client_cpu, log, stored_pictures(db_url), integrity(db_url))


T = TypeVar("T")


def run_apart(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run``, in a thread of its own when this thread already runs an event loop (a test
    session that used Playwright's sync API keeps one running in the main thread)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def run_school(args: argparse.Namespace, digits: list[Digit], db_url: str) -> Outcome:
    """The burst through HAProxy onto ``--replicas`` app processes on ``db_url``."""
    print(f"school: {args.replicas} replicas behind HAProxy, class set {make_url(db_url).render_as_string(hide_password=True)}", flush=True)

    def victim(page: Tab | None) -> AppServer:  # the replica of the page that just clicked
        return school.serving(page.cookies.get(COOKIE) if page else None) or next(iter(school.replicas.values()))

    began = time.monotonic()
    with running_school(args.replicas, db_url, args.port) as school:
        print(f"school up in {time.monotonic() - began:.1f} s on {school.url}", flush=True)
        client_cpu = time.process_time()
        try:
            stats = run_apart(burst(school.url, digits, args, school.cpu_seconds, victim, restart=False))
        finally:
            states, proxy_cpu = school.states(), school.proxy_cpu_seconds()
            school.stop()
            wall, client_cpu = time.monotonic() - began, time.process_time() - client_cpu
            logs = [f"---- {path.name}\n{path.read_text(errors='replace')}" for path in sorted(school.runtime.glob("*.log"))]
    log = "\n".join(logs)
    return Outcome(stats, wall, school.cpu_seconds(), client_cpu, log, stored_pictures(db_url), integrity(db_url), states, proxy_cpu)


def report(args: argparse.Namespace, outcome: Outcome) -> None:
    """Information lines, then the five result lines."""
    s, stored = outcome.stats, outcome.stored or Counter()
    print(
        f"students: {args.students}, every {args.every:g} s, burst {args.seconds:g} s (took {s.burst_s:.1f} s); wall {outcome.wall:.1f} s"
    )
    settings = " ".join(f"{k}={v}" for k, v in sorted(os.environ.items()) if k.startswith("STREAMLIT_"))
    print(f"server settings from the environment: {settings or '(none)'}")
    print(f"page open (first run): {spread(s.open_ms)}")
    print(
        f"draws: {s.draws}, answered {len(s.draw_ms)}, right {s.correct}, unanswered {s.unanswered}, interrupted {s.interrupted}, late ticks {s.late}"
    )
    print(f"draw -> run started: {spread(s.start_ms)}")
    print(f"draw -> answer: {spread(s.answer_ms)}")
    print(f"draw -> script_finished: {spread(s.draw_ms)}")
    for error, count in s.page_errors.most_common(5):
        print(f"error on the page ({count}x): {error}")
    if s.gave_up:
        print(f"students who gave up (page did not open again within {RECONNECT_FOR:.0f} s): {s.gave_up}")
    print(f"pick label -> script_finished: {spread(s.pick_ms)}")
    print(f"click add -> 'Added': {spread(s.add_ms)}")
    if args.teacher:
        print(f"teacher's Class view, one refresh: {spread(s.teacher_ms)}")
    if s.no_class_mode:
        print(f"no class mode on the page after {s.no_class_mode} answered draws (no '{LABEL_KEY}'/'{ADD_KEY}' widgets): nothing submitted")
    for what, count in s.refused.most_common(8):
        print(f"not added ({count}x): {what}")
    if outcome.replicas is not None:
        per = ", ".join(f"{name} {count}" for name, count in sorted(s.replicas.items()))
        print(f"students per replica: {per}; moved to another replica on a reconnect: {s.moved}; HAProxy at the end: {outcome.replicas}")
        print(f"HAProxy's own CPU: {outcome.proxy_cpu:.1f} s")
    if s.killed_at is not None:
        went_on = sum(1 for n in range(args.students) if s.answered_after_kill[n])
        print(f"killed {s.killed_at:.1f} s in; students answered after the kill: {went_on} of {args.students}")
    cores = outcome.server_cpu / outcome.wall
    print(
        f"server CPU: {outcome.server_cpu:.1f} s over {outcome.wall:.1f} s wall ({cores:.2f} cores); this client: {outcome.client_cpu:.1f} s"
    )
    per_drawing = 1000 * s.burst_cpu / max(1, s.draws)
    print(f"server CPU over the burst: {s.burst_cpu:.1f} s for {s.draws} drawings ({s.burst_cpu / max(s.burst_s, 1e-9):.2f} cores)")
    logged = log_lines(outcome.log)
    print(f"server log: {sum(logged.values())} lines after start-up, {outcome.log.count('Traceback')} tracebacks")
    for line, count in logged.most_common(6):
        print(f"  logged ({count}x): {line[:150]}")
    if outcome.stored is None:
        print("database: no drawings table")
    else:
        if unconfirmed := sum((stored - s.confirmed).values()):
            print(f"stored but never confirmed (the click in flight when the server died): {unconfirmed}")
        matched = sum((stored & s.confirmed).values())
        print(f"database: {outcome.integrity}; stored rows matching a confirmed drawing: {matched} of {sum(stored.values())}")
    print(f"p50_ms: {percentile(s.draw_ms, 50):.0f}")
    print(f"p95_ms: {percentile(s.draw_ms, 95):.0f}")
    print(f"submitted: {sum(s.confirmed.values())}")
    print(f"stored: {sum(stored.values())}")
    print(f"lost: {sum((s.confirmed - stored).values())}")
    print(f"server_cpu_per_drawing_ms: {per_drawing:.0f}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    digits = load_digits(args.data, args.students * math.ceil(args.seconds / args.every))
    report(args, run(args, digits))


if __name__ == "__main__":
    main()
