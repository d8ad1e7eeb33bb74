"""The app on a free localhost port and the Chromium settings: shared by the browser test and
``benchmarks/browser_latency.py``, so both drive the app the same way."""

from __future__ import annotations

import os
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


@contextmanager
def running_app(timeout: float = 60, env: dict[str, str] | None = None) -> Iterator[str]:
    """``streamlit run streamlit_app.py`` on a free port, with ``env`` added to the environment;
    yields its URL once it answers its health check."""
    port = free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true", "--server.port", str(port)]
    cmd += ["--browser.gatherUsageStats", "false", "--server.address", "127.0.0.1"]
    with tempfile.TemporaryFile() as log:  # not a pipe: a chatty server must never block on a full pipe
        proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=log)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                        break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    log.seek(0)
                    raise RuntimeError(f"streamlit did not start: {log.read().decode()[-2000:]}")
                time.sleep(0.2)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
