"""One app process: ``streamlit run streamlit_app.py`` on one port, which the school (deploy/school.py),
the benchmarks and the browser tests (through benchmarks/appserver.py) start, kill and start again."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int) -> bool:
    """Whether something already accepts connections on this localhost port (a server left over
    from an earlier run would answer the health checks meant for a new one)."""
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


class AppServer:
    """``streamlit run streamlit_app.py`` on one port, with ``env`` added to the environment (read
    at each start) and its output appended to ``log_path``; can be killed and started again on the
    same port. ``address`` is the interface it listens on: 0.0.0.0 for a proxy on another machine."""

    def __init__(self, port: int, log_path: Path, env: dict[str, str] | None = None, address: str = "127.0.0.1") -> None:
        self.port, self.log_path, self.env, self.address = port, log_path, dict(env or {}), address
        log_path.write_bytes(b"")  # one log per server; a restart appends to it
        self.proc: subprocess.Popen[bytes] | None = None
        self.cpu_done = 0.0  # CPU seconds of processes already gone (a killed server)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 90) -> None:
        """Start the server and return once it answers its health check."""
        if listening(self.port):
            raise RuntimeError(f"port {self.port} is taken: another server listens there")
        cmd = [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true"]
        cmd += ["--server.port", str(self.port), "--browser.gatherUsageStats", "false", "--server.address", self.address]
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
