"""A whole school on one machine: N replicas of the app behind HAProxy, all on one database.

    python -m deploy.school --replicas 2 --port 8500 --db postgresql+psycopg://user:password@host/db
    python -m deploy.school --print-config --port 8500 --backend 10.0.0.2:8501 --backend 10.0.0.3:8501

The first starts ``streamlit run streamlit_app.py`` on ports PORT+1 .. PORT+N (localhost only), then
HAProxy on PORT with deploy/haproxy.cfg, starts again a replica that dies, and stops everything on
Ctrl-C. The second prints the HAProxy configuration for replicas on other machines. Every replica
gets the same ``MNIST_SMALL_DB`` and the same ``server.cookieSecret``: a student whose replica dies
goes on on another one, as the same student, in the same class set (docs/deploy.md).

``running_school`` is the same school for one ``with`` block: what benchmarks/class_load.py
(``--replicas``) and tests/test_deploy.py start.
"""

from __future__ import annotations

import argparse
import csv
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from string import Template

from deploy.replica import AppServer, listening

TEMPLATE = Path(__file__).with_name("haproxy.cfg")
COOKIE = "MNIST_SMALL_REPLICA"  # the affinity cookie HAProxy inserts (the cookie line in haproxy.cfg)
SECRET_ENV = "STREAMLIT_SERVER_COOKIE_SECRET"  # Streamlit's server.cookieSecret, set through the environment


def haproxy_binary() -> str | None:
    """HAProxy's path (Debian's package: /usr/sbin/haproxy, often not on a user's PATH), None without it."""
    found = shutil.which("haproxy") or "/usr/sbin/haproxy"
    return found if os.access(found, os.X_OK) else None


def haproxy_config(bind: str, backends: Sequence[tuple[str, int]], runtime: Path) -> str:
    """deploy/haproxy.cfg for ``backends`` (host, port), replica n's cookie value being ``app<n>``."""
    servers = "\n".join(f"    server app{n} {host}:{port} check cookie app{n}" for n, (host, port) in enumerate(backends, 1))
    return Template(TEMPLATE.read_text()).substitute(bind=bind, servers=servers, runtime=runtime)


class School:
    """N replicas on ports ``port + 1 ..`` and HAProxy on ``port``, their logs and HAProxy's
    configuration and socket in ``runtime``; ``replicas`` by the cookie value HAProxy gives their students."""

    def __init__(self, replicas: int, port: int, db: str, runtime: Path, host: str = "127.0.0.1", cookie_secret: str | None = None) -> None:
        if replicas < 1:
            raise ValueError("a school needs at least one replica")
        binary = haproxy_binary()
        if binary is None:
            raise RuntimeError("HAProxy is not installed (Debian: apt-get install haproxy)")
        self.binary, self.port, self.host, self.runtime = binary, port, host, runtime
        # one secret for all: the cookies Streamlit signs must read the same on every replica
        secret = cookie_secret or os.environ.get(SECRET_ENV) or secrets.token_hex(32)
        env = {"MNIST_SMALL_DB": db, SECRET_ENV: secret}
        self.replicas = {f"app{n}": AppServer(port + n, runtime / f"app{n}.log", env) for n in range(1, replicas + 1)}
        self.config = runtime / "haproxy.cfg"
        self.log_path = runtime / "haproxy.log"
        self.proxy: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 180) -> None:
        """Start the replicas (side by side), then HAProxy; return once a page can be served through it."""
        if listening(self.port):  # HAProxy binds with SO_REUSEPORT: it would share the port with the other one
            raise RuntimeError(f"port {self.port} is taken: another server (an earlier school?) listens there")
        with ThreadPoolExecutor(len(self.replicas)) as pool:
            started = [pool.submit(replica.start, timeout) for replica in self.replicas.values()]
        try:
            for future in started:
                future.result()
            backends = [("127.0.0.1", replica.port) for replica in self.replicas.values()]
            self.config.write_text(haproxy_config(f"{self.host}:{self.port}", backends, self.runtime))
            check = subprocess.run([self.binary, "-c", "-q", "-f", str(self.config)], capture_output=True, text=True)
            if check.returncode != 0:
                raise RuntimeError(f"HAProxy refuses {self.config}: {check.stderr or check.stdout}")
            with open(self.log_path, "ab") as log:
                self.proxy = subprocess.Popen([self.binary, "-db", "-f", str(self.config)], stdout=log, stderr=log)
            self.wait_until_up(timeout)
        except BaseException:
            self.stop()
            raise

    def wait_until_up(self, timeout: float) -> None:
        """Until HAProxy answers a health check through itself and counts every replica up."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as response:
                    if response.read() == b"ok" and set(self.states().values()) == {"UP"}:
                        return
            except OSError:
                pass
            if self.proxy is None or self.proxy.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"HAProxy did not come up: {self.log_path.read_text(errors='replace')[-2000:]}")
            time.sleep(0.2)

    def states(self) -> dict[str, str]:
        """HAProxy's view of each replica ("UP", "DOWN", "UP 1/2", ...), from its runtime socket."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(str(self.runtime / "haproxy.sock"))
            sock.sendall(b"show stat\n")
            answer = b"".join(iter(lambda: sock.recv(65536), b"")).decode()
        rows = csv.DictReader(answer.lstrip("# ").splitlines())
        return {row["svname"]: row["status"] for row in rows if row["pxname"] == "replicas" and row["svname"] in self.replicas}

    def serving(self, cookie: str | None) -> AppServer | None:
        """The replica a browser with this affinity cookie is sent to (None: not one of them)."""
        return self.replicas.get(cookie or "")

    def cpu_seconds(self) -> float:
        """The replicas' CPU time so far, killed ones included (HAProxy's own is not counted)."""
        return sum(replica.cpu_seconds() for replica in self.replicas.values())

    def proxy_cpu_seconds(self) -> float:
        """HAProxy's own CPU time so far (0 once it has stopped)."""
        try:
            fields = Path(f"/proc/{self.proxy.pid}/stat").read_text().rsplit(")", 1)[1].split() if self.proxy else []
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") if fields else 0.0

    def dead(self) -> list[str]:
        """The replicas whose process has ended."""
        return [name for name, replica in self.replicas.items() if not replica.alive]

    def stop(self) -> None:
        if self.proxy is not None and self.proxy.poll() is None:
            self.proxy.terminate()  # a hard stop: a soft one (SIGUSR1) would wait for the websockets to end
            try:
                self.proxy.wait(10)
            except subprocess.TimeoutExpired:
                self.proxy.kill()
                self.proxy.wait()
        for replica in self.replicas.values():
            replica.stop()


@contextmanager
def running_school(
    replicas: int, db: str, port: int | None = None, runtime: Path | None = None, host: str = "127.0.0.1"
) -> Iterator[School]:
    """A started school for one ``with`` block, HAProxy on ``host:port`` (default: localhost, a free run
    of ports), the logs in ``runtime`` (default: a temporary folder, removed afterwards); stopped afterwards."""
    with tempfile.TemporaryDirectory(prefix="mnist_small-school-") as tmp:
        folder = runtime or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        school = School(replicas, port or free_ports(replicas + 1), db, folder, host)
        school.start()
        try:
            yield school
        finally:
            school.stop()


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive free localhost ports."""
    for _ in range(100):
        base = 20000 + secrets.randbelow(30000)
        try:
            for port in range(base, base + count):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError(f"no {count} consecutive free ports found")


def backend(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT")
    return host, int(port)


def interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", type=int, default=2, help="app processes on this machine (default 2: one per core)")
    parser.add_argument("--port", type=int, default=8500, help="HAProxy's port; the replicas take the next ones")
    parser.add_argument("--host", default="0.0.0.0", help="the interface HAProxy listens on (default: all)")
    parser.add_argument("--db", default=os.environ.get("MNIST_SMALL_DB"), help="the class set's URL (default: $MNIST_SMALL_DB)")
    parser.add_argument("--runtime", type=Path, default=None, help="folder for the logs and HAProxy's config (default: a temporary one)")
    parser.add_argument("--print-config", action="store_true", help="print HAProxy's configuration for --backend replicas and exit")
    parser.add_argument("--backend", type=backend, action="append", default=[], metavar="HOST:PORT", help="a replica on another machine")
    args = parser.parse_args(argv)
    if args.print_config:
        if not args.backend:
            parser.error("--print-config needs at least one --backend HOST:PORT")
        runtime = args.runtime or Path("/run/haproxy")
        print(haproxy_config(f"{args.host}:{args.port}", args.backend, runtime), end="")
        return
    if not args.db:
        parser.error("give the class set's database: --db URL or $MNIST_SMALL_DB (PostgreSQL for several replicas)")
    if args.db.startswith("sqlite") and args.replicas > 1:
        print("note: several replicas on one SQLite file queue for its lock; PostgreSQL is the database for a school")
    signal.signal(signal.SIGTERM, interrupt)  # `kill PID` stops the school as Ctrl-C does
    with running_school(args.replicas, args.db, args.port, args.runtime, args.host) as school:
        logs = args.runtime or "a temporary folder (--runtime keeps them)"
        print(
            f"{args.replicas} replicas on ports {args.port + 1}-{args.port + args.replicas}, HAProxy on {args.host}:{args.port}; logs in {logs}"
        )
        print(f"students open http://<this machine's address>:{args.port}/ ; Ctrl-C stops the school", flush=True)
        try:
            while True:
                time.sleep(2)
                for name in school.dead():  # started again; HAProxy takes it back once its checks pass
                    try:
                        school.replicas[name].start()
                        print(f"{time.strftime('%H:%M:%S')} replica {name} had died: started again", flush=True)
                    except RuntimeError as err:
                        print(f"{time.strftime('%H:%M:%S')} replica {name} had died and did not start again: {err}", flush=True)
        except KeyboardInterrupt:
            print("stopping the school")


if __name__ == "__main__":
    main()
