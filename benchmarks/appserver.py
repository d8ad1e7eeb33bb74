"""The app on a localhost port and the Chromium settings: the one app-server helper of the
browser tests (tests/test_browser*.py) and the benchmarks, so that all drive the app the same way.

``running_app`` is the app for one ``with`` block; ``AppServer`` (from deploy/replica.py) is the
process itself, for a benchmark that kills it and starts it again on the same port (``benchmarks/class_load.py``).
Not a benchmark of its own.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from deploy.replica import ROOT, AppServer, free_port  # the process itself lives with the shipped deployment

__all__ = ["BIG_DIGIT", "CANVAS", "CHROMIUM", "CHROMIUM_FLAGS", "HINT", "ROOT", "AppServer", "free_port", "running_app"]
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
