"""Hostile pictures and canvas values through the app's and the CLI's read paths: time, memory, outcome.

    python -m benchmarks.hostile_inputs [--only NAME ...] [--version before after] [--json FILE]
    python -m benchmarks.hostile_inputs --table FILE ...   (the Markdown table of docs/hostile-inputs.md)
    python -m benchmarks.hostile_inputs --messages 100     (the largest WebSocket messages, in Chromium)

Each case (benchmarks/hostile_cases.py) is made on the fly (nothing big is kept) and run in a fresh subprocess per read path
and version, after that process has imported the app's modules, loaded every checkpoint and read
a normal picture once; what is measured is above that baseline: wall time, CPU time (user +
system, all threads: on a busy machine the honest figure) and the rise of the peak resident memory
(the high-water mark VmHWM, reset once the baseline is loaded). The paths:

- app upload: ``views.tabs.draw.read_upload`` (the sidebar's picture) and what the Draw tab shows of the
  upload: ``st.image`` is called twice per run (under the canvas and beside the answer), which
  decodes and shrinks what it is given (``image_to_url``, run here outside a server);
- app canvas: ``views.tabs.draw.read_canvas`` on the component's value (a data URL) and the PNG that the
  class set would store (``drawing_png``);
- cli predict: ``mnist_small.__main__.predict_file``, what ``python -m mnist_small predict`` runs
  for each file.

"before" runs the same cases through the code as it was before bounded input (issue 25): the old
``read_upload`` (``Image.open`` + ``prepare``) with the raw upload shown by ``st.image``; the
component's ``image_data`` property read three times per run (it base64-decodes and decodes the PNG
at each access) and the third stored; ``load_image`` as ``Image.open`` + ``load``. An outcome names
how many of the models read the digit, or the message, or the exception that escaped (a traceback
in the app, and the end of a CLI batch). docs/hostile-inputs.md has the table.
"""

from __future__ import annotations

import argparse
import base64
import gc
import io
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.hostile_cases import (
    CASES,
    MNIST_DIR,
    ROOT,
    SEVEN,
    Case,
    big_digit,
    canvas_normal,
    encoded,
    old_image_data,
    old_load_image,
    old_read_upload,
)

CHECKPOINTS = ROOT / "checkpoints"


TIMEOUT = 300  # s a worker may take; the old path's worst case takes ~10 s


REPEATS = 3  # runs of a case in its process: the median time (a busy machine's spikes), the highest memory


# torch's threads, as in benchmarks/preprocess_latency.py: on a busy 2-core machine two threads spin
# waiting for each other, and that waiting shows as CPU time; one thread shows the work itself.
THREADS = 1


def shown(image: object) -> None:
    """What st.image(image, width=135) does with it, outside a server."""
    from streamlit.elements.lib.image_utils import image_to_url
    from streamlit.elements.lib.layout_utils import LayoutConfig

    image_to_url(image, LayoutConfig(width=135), False, "RGB", "auto", "bench")


def verdict(models: dict, prepared, digit: int | None) -> str:
    """What the app shows for a read picture: how many models read the digit, or why there is none."""
    from mnist_small.inference import all_probabilities
    from mnist_small.preprocess import NO_DIGIT

    if not prepared.has_digit:
        return "decoded, no digit found" if prepared.message == NO_DIGIT else f"refused: {prepared.message}"
    answers = [int(p.argmax()) for p in all_probabilities(models, prepared.tensor()).values()]
    if digit is None:
        return f"accepted, read as {max(answers, key=answers.count)}"
    return f"accepted, read as {digit} by {answers.count(digit)}/{len(answers)} models"


def run_path(path: str, version: str, file: Path, digit: int | None, models: dict) -> Callable[[], str]:
    """One case through one read path (what is measured); returns how to put the outcome in words
    (the app's models answering is the same for any picture, so it is left out of the figures)."""
    from mnist_small import __main__ as cli
    from mnist_small.preprocess import drawing_png, prepare

    if path == "cli predict":
        if version == "before":
            cli.load_image = old_load_image
        entry = cli.predict_file(str(file), models)
        if not entry["models"]:
            return lambda: f"refused: {entry['message']}"
        if entry.get("message") == "blank image: no digit found":
            return lambda: "decoded, no digit found"
        labels = [out["label"] for out in entry["models"].values()]
        return lambda: f"accepted, read as {digit} by {labels.count(digit)}/{len(labels)} models" if digit is not None else "accepted"
    data = file.read_bytes()
    if path == "app upload":
        if version == "before":
            prepared = old_read_upload(data, file.name)
            if prepared.has_digit:
                shown(io.BytesIO(data))  # show_pictures, under the canvas and beside the answer
                shown(io.BytesIO(data))
        else:
            from views.tabs.draw import read_upload

            prepared = read_upload(data, file.name)[0]
            if prepared.has_digit:
                shown(read_upload(data, file.name)[1])
                shown(read_upload(data, file.name)[1])
        return lambda: verdict(models, prepared, digit)
    url = data.decode("ascii")
    if version == "before":
        images = [old_image_data(url) for _ in range(3)]  # read_canvas, the download, the class set
        prepared = prepare(images[0])
        stored = len(drawing_png(images[2]))
    else:
        from views.tabs.draw import read_canvas

        prepared, image = read_canvas(types.SimpleNamespace(_image_data_url=url))
        stored = len(drawing_png(image)) if image is not None else 0
    return lambda: (
        verdict(models, prepared, digit)
        + (f"; the drawing's PNG (kept in the class set): {stored / 1e6:.3f} MB" if stored and prepared.has_digit else "")
    )


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def memory_mb(field: str) -> float | None:
    """A line of /proc/self/status (Linux), in MB."""
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return None
    return next((int(line.split()[1]) / 1024 for line in lines if line.startswith(f"{field}:")), None)


def peak_mb() -> float:
    """This process's peak resident memory. VmHWM, not ru_maxrss: Linux carries ru_maxrss over an
    exec, so a worker started by a parent that had just made a large case would report the parent's."""
    return memory_mb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> float:
    """Start the high-water mark again from the memory in use now (Linux's clear_refs), and return
    that: the imports and the model loading peaked higher than what is then kept, which would hide
    a smaller rise. Where it cannot be reset, the old peak is the baseline."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return peak_mb()
    return memory_mb("VmRSS") or peak_mb()


def escaped(err: Exception) -> Callable[[], str]:
    return lambda: f"exception: {type(err).__name__}: {err}"


def worker(path: str, version: str, file: Path, digit: int | None) -> dict:
    """Measure a case above the baseline of a process that has loaded everything and read one
    normal picture: the median of REPEATS runs' times, the highest memory of them."""
    import logging
    import statistics
    import warnings

    import torch

    warnings.simplefilter("ignore")
    logging.disable(logging.CRITICAL)  # Streamlit's "no runtime" warnings
    torch.set_num_threads(THREADS)
    from mnist_small.checkpoints import load_all

    models = load_all(CHECKPOINTS)[0]
    warm = Path(tempfile.mkdtemp()) / ("warm.txt" if path == "app canvas" else "warm.png")
    warm.write_bytes(canvas_normal() if path == "app canvas" else encoded(big_digit((600, 400)), "PNG"))
    run_path(path, version, warm, SEVEN, models)()
    warm.unlink()
    gc.collect()
    baseline = reset_peak()
    walls, cpus = [], []
    for _ in range(REPEATS):
        if path == "app upload" and version == "after":
            from views.tabs.draw import read_upload

            read_upload.clear()  # each run a first read, as for a new upload
        cpu, wall = cpu_seconds(), time.perf_counter()
        try:
            outcome = run_path(path, version, file, digit, models)
        except Exception as err:  # what escapes: a traceback in the app, the end of a CLI batch
            outcome = escaped(err)
        walls.append(time.perf_counter() - wall)
        cpus.append(cpu_seconds() - cpu)
        gc.collect()
    peak = peak_mb()
    return {"wall": statistics.median(walls), "cpu": statistics.median(cpus), "mb": peak - baseline, "outcome": outcome()}


def measure(case: Case, path: str, version: str, file: Path) -> dict:
    command = [sys.executable, "-m", "benchmarks.hostile_inputs", "--worker", path, version, str(file), str(case.digit)]
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return {"wall": TIMEOUT, "cpu": float("nan"), "mb": float("nan"), "outcome": f"killed after {TIMEOUT} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return {
            "wall": float("nan"),
            "cpu": float("nan"),
            "mb": float("nan"),
            "outcome": f"worker died ({done.returncode}): {done.stderr[-300:]}",
        }
    return json.loads(lines[-1])


TABS = ["Draw", "Compare models", "Inside the model", "Training curves", "Model card", "Zoo", "Errors on MNIST", "Class"]


def websocket_messages(strokes: int, scales: tuple[int, ...] = (1, 3)) -> None:
    """The largest WebSocket messages of a real session, in Chromium: what the canvas sends (a long
    drawing of ``strokes`` scribbles, at each device pixel ratio: a phone's is 2-3) and what the
    server sends (every tab opened with that drawing on the canvas), and the size of the canvas's
    PNG as sent. For server.maxMessageSize (.streamlit/config.toml)."""
    from playwright.sync_api import sync_playwright

    from benchmarks.appserver import CANVAS as CANVAS_LAYER
    from benchmarks.appserver import CHROMIUM, CHROMIUM_FLAGS, HINT, running_app

    rng = np.random.default_rng(0)
    scribbles = [np.cumsum(rng.normal(0, 12, (60, 2)), axis=0) % 260 + 10 for _ in range(strokes)]  # 60 points each
    env = {"MNIST_SMALL_DATA": str(MNIST_DIR)} if MNIST_DIR.is_dir() else {}
    with (
        tempfile.TemporaryDirectory() as folder,
        running_app(env=env | {"MNIST_SMALL_DB": f"sqlite:///{folder}/class.db"}) as url,
    ):
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            for scale in scales:
                context = browser.new_context(viewport={"width": 1280, "height": 1000}, device_scale_factor=scale)
                page = context.new_page()
                sent: list[bytes] = []
                received: dict[str, int] = {}
                tab = ["load"]

                def frames(socket, sent=sent, received=received, tab=tab) -> None:
                    socket.on("framesent", lambda payload: sent.append(payload if isinstance(payload, bytes) else payload.encode()))
                    socket.on("framereceived", lambda payload: received.__setitem__(tab[0], max(received.get(tab[0], 0), len(payload))))

                page.on("websocket", frames)
                page.goto(url)
                page.get_by_text(HINT).wait_for(timeout=120_000)
                box = page.locator(CANVAS_LAYER).bounding_box()
                tab[0] = "Draw"
                for scribble in scribbles:
                    page.mouse.move(box["x"] + scribble[0, 0], box["y"] + scribble[0, 1])
                    page.mouse.down()
                    for x, y in scribble[1:]:
                        page.mouse.move(box["x"] + x, box["y"] + y, steps=3)
                    page.mouse.up()
                page.wait_for_timeout(5000)
                largest = max(sent, key=len)
                png = re.search(rb"data:image/png;base64,([A-Za-z0-9+/=]+)", largest)
                shape = Image.open(io.BytesIO(base64.b64decode(png[1]))).size if png else None
                for name in TABS[1:]:
                    tab[0] = name
                    page.get_by_role("tab", name=name).click()
                    page.wait_for_timeout(8000)
                context.close()
                print(
                    f"device pixel ratio {scale}: {strokes} strokes; largest message sent {len(largest) / 1e6:.3f} MB (the canvas PNG in it: {shape}, {len(png[1]) / 1e6 if png else 0:.3f} MB of base64)"
                )
                print("  largest message received, by tab: " + ", ".join(f"{name} {size / 1e6:.3f} MB" for name, size in received.items()))
            browser.close()
        print(oversize_message(url))  # once Playwright's event loop has ended


def oversize_message(url: str) -> str:
    """What a hand-made message 1 MB over server.maxMessageSize does: the server closes that
    connection (1009: message too big) without reading it, and goes on serving."""
    import asyncio
    import urllib.request

    import websockets
    from streamlit import config

    limit = config.get_option("server.maxMessageSize")  # read from .streamlit/config.toml, as the server does

    async def send() -> str:
        async with websockets.connect(url.replace("http", "ws", 1) + "/_stcore/stream", max_size=None) as socket:
            try:  # the server may close the connection while the message is still being sent
                await socket.send(bytes((limit + 1) * 1_000_000))
                while True:
                    await asyncio.wait_for(socket.recv(), 30)
            except websockets.ConnectionClosed as closed:
                return f"closed with code {closed.rcvd.code if closed.rcvd else None} ({closed.rcvd.reason if closed.rcvd else ''})"
            except TimeoutError:
                return "not closed within 30 s"

    outcome = asyncio.run(send())
    health = urllib.request.urlopen(f"{url}/_stcore/health", timeout=10).read().decode()
    return f"a {limit + 1} MB message (maxMessageSize {limit} MB): {outcome}; the server's health afterwards: {health}"


def table(files: list[Path]) -> str:
    """The rows saved with --json (a later file's row replaces an earlier one's) as a Markdown table:
    one line per case and path, before beside after."""
    rows = {}
    for file in files:
        rows |= {(row["case"], row["path"], row["version"]): row for row in json.loads(file.read_text())}
    order = {case.name: i for i, case in enumerate(CASES)}
    lines = [
        "| input | file | read path | before: CPU s | MB | outcome | after: CPU s | MB | outcome |",
        "| --- | ---: | --- | ---: | ---: | --- | ---: | ---: | --- |",
    ]
    for name, path in sorted({(c, p) for c, p, _ in rows if c in order}, key=lambda key: (order[key[0]], key[1])):
        before, after = rows.get((name, path, "before")), rows.get((name, path, "after"))
        what = next(case.what for case in CASES if case.name == name)

        def cells(row: dict | None, name: str = name) -> str:
            if row is None:
                return "| | |"
            outcome = re.sub(rf"\S*{name}\.(img|txt)", "it", row["outcome"].replace("|", "/"))
            return f"{row['cpu']:.2f} | {row['mb']:+.0f} | {outcome}"

        size = (before or after)["bytes"] / 1e6
        lines.append(f"| {what} | {size:.2f} MB | {path} | {cells(before)} | {cells(after)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", help="case names (default: all)")
    parser.add_argument("--version", choices=("before", "after"), nargs="*", default=["before", "after"])
    parser.add_argument("--path", nargs="*", help="read paths (default: each case's own)")
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    parser.add_argument(
        "--messages",
        type=int,
        metavar="STROKES",
        help="instead: the largest WebSocket messages of a drawing of STROKES strokes, in Chromium",
    )
    parser.add_argument("--table", type=Path, nargs="+", metavar="JSON", help="instead: the Markdown table of rows saved with --json")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.messages:
        websocket_messages(args.messages)
        return
    if args.table:
        print(table(args.table))
        return
    if args.worker:
        path, version, file, digit = args.worker
        print(json.dumps(worker(path, version, Path(file), None if digit == "None" else int(digit))))
        return
    rows = []
    cases = [case for case in CASES if not args.only or case.name in args.only]
    with tempfile.TemporaryDirectory() as folder:
        for case in cases:
            data = case.make()
            file = Path(folder) / f"{case.name}.{'txt' if case.kind == 'canvas' else 'img'}"
            file.write_bytes(data)
            for path in case.paths:
                if args.path and path not in args.path:
                    continue
                for version in args.version:
                    row = {"case": case.name, "what": case.what, "bytes": len(data), "path": path, "version": version}
                    row |= measure(case, path, version, file)
                    rows.append(row)
                    print(
                        f"{case.name:<15} {len(data) / 1e6:7.2f} MB  {path:<12} {version:<6} {row['wall']:6.2f} s wall {row['cpu']:6.2f} s CPU "
                        f"{row['mb']:+8.0f} MB  {row['outcome'][:160]}",
                        flush=True,
                    )
            file.unlink()
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
