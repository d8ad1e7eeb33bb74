"""The app on a localhost port and the Chromium settings: the one app-server helper of the
browser tests (tests/test_browser*.py) and the benchmarks, so that all drive the app the same way.

``running_app`` is the app for one ``with`` block; ``AppServer`` is the process itself, for a
benchmark that kills it and starts it again on the same port (``benchmarks/class_load.py``).
Not a benchmark of its own.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CANVAS = '[data-testid="stBidiComponentIsolated"] canvas.upper-canvas'  # the layer that takes the mouse
HINT = "Draw a digit on the black canvas"
BIG_DIGIT = "div[style*='6rem']"  # the predicted digit in large type


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """``streamlit run streamlit_app.py`` on one port, with ``env`` added to the environment (read
    at each start) and its output appended to ``log_path``; can be killed and started again on the
    same port."""

    def __init__(self, port: int, log_path: Path, env: dict[str, str] | None = None) -> None:
        self.port, self.log_path, self.env = port, log_path, dict(env or {})
        log_path.write_bytes(b"")  # one log per server; a restart appends to it
        self.proc: subprocess.Popen[bytes] | None = None
        self.cpu_done = 0.0  # CPU seconds of processes already gone (a killed server)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90) -> None:
        """Start the server and return once it answers its health check."""
        cmd = [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true"]
        cmd += ["--server.port", str(self.port), "--browser.gatherUsageStats", "false", "--server.address", "127.0.0.1"]
        with open(self.log_path, "ab") as log:  # a file, not a pipe: a chatty server never blocks
            log.write(f"---- start {time.strftime('%H:%M:%S')}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **self.env}, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while True:
            try:
                if urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2).read() == b"ok":
                    return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"streamlit did not start: {self.log_path.read_text()[-2000:]}")
            time.sleep(0.2)

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server so far, killed runs included (Linux /proc)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.cpu_done
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return self.cpu_done
        return self.cpu_done + (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would: no shutdown code runs."""
        assert self.proc is not None
        self.cpu_done = self.cpu_seconds()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.cpu_done = self.cpu_seconds()
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@contextmanager
def running_app(timeout: float = 60, env: dict[str, str] | None = None) -> Iterator[str]:
    """``streamlit run streamlit_app.py`` on a free port, with ``env`` added to the environment;
    yields its URL once it answers its health check, and stops it afterwards."""
    with tempfile.TemporaryDirectory(prefix="mnist_small-app-") as folder:
        server = AppServer(free_port(), Path(folder) / "server.log", env)
        server.start(timeout)
        try:
            yield server.url
        finally:
            server.stop()
