"""Class mode under load: simulated students draw digits and add them to the class set.

    python -m benchmarks.class_load --students 30 --seconds 60 [--every 5] [--port P] [--db URL]
                                    [--kill-after SECONDS] [--teacher] [--data DIR] [--log FILE]

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

The last lines are ``p50_ms`` and ``p95_ms`` (drawing to answer), ``submitted`` (confirmed with
"Added"), ``stored`` (rows in the table) and ``lost``.
Target: 30 students every 5 s for 60 s: p95 <= 1500 ms, lost 0.

The handshake, as Streamlit 1.67 serves it (web/server/starlette/starlette_websocket.py): the
browser's first request (``/_stcore/health``) sets the ``_streamlit_xsrf`` cookie; the websocket
offers the subprotocols ``streamlit, <that cookie>[, <last session id>]`` and sends the cookie and
an ``Origin`` matching the host. Only the origin is enforced (a client without ``Origin`` is let
in too); the token merely unlocks the login cookie. The app reads the cookie as the student's
anonymous id, so each simulated student keeps its own, also across a server restart. The script
runs on the client's first ``rerun_script``. Widget ids (``$$ID-<hash>-<key>``) come from the
page's elements and blocks; like the browser, every rerun carries the whole widget state.

Run it on a quiet machine (no training, no test suite): the server and this client share the
cores. Streamlit settings can be tried through the environment (``STREAMLIT_RUNNER_POST_SCRIPT_GC=false``,
``STREAMLIT_SERVER_FILE_WATCHER_TYPE=none``); the run prints the ones set.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import io
import itertools
import json
import math
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import websockets
from google.protobuf.message import Message
from PIL import Image
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Common_pb2 import StringArray
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

from tests.appserver import ROOT, free_port

CANVAS_KEY = re.compile(r"canvas-\d+")  # the canvas's key; "Clear the canvas" makes a new one
LABEL_KEY, ADD_KEY = "class_label", "class_add"
ANSWER = re.compile(r"says</div><div[^>]*>(\d)</div>")  # the chosen model's digit, in large type
ADDED = "Added"
XSRF_COOKIE = "_streamlit_xsrf"
OPEN_TIMEOUT = 180.0  # a page's first run: on a fresh server it waits for torch and the models
RECONNECT_FOR = 180.0  # how long a student keeps trying to reach a killed server again
FINISHED = (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR)
FRAGMENT_FINISHED = ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY
VIEW_KEY, CLASS_TAB = "view", "Class"  # the tabs' key, and the tab the teacher projects


# ---- the digits the students draw ---------------------------------------------------------


@dataclass(frozen=True)
class Digit:
    """One drawing: its true label, the canvas component's state as sent, and a key that finds
    the same picture again in the database."""

    label: int
    state_json: str
    key: str


def picture_key(png: bytes) -> str:
    """The same for the same pixels, however the PNG was encoded (the app may re-encode it)."""
    with Image.open(io.BytesIO(png)) as picture:
        return hashlib.sha1(np.asarray(picture.convert("L")).tobytes()).hexdigest()


def fabric_path(ink: np.ndarray, points: int = 80) -> list[list[float | str]]:
    """A freedraw path of realistic size through the ink (the app reads only the PNG; the
    component sends both, so the payload should weigh what a browser's does)."""
    ys, xs = np.nonzero(ink > 128)
    if len(xs) == 0:
        return [["M", 140.0, 140.0], ["L", 140.0, 140.0]]
    order = np.argsort(np.arctan2(ys - ys.mean(), xs - xs.mean()))
    picked = order[np.linspace(0, len(order) - 1, points).astype(int)]
    path: list[list[float | str]] = [["M", float(xs[picked[0]]), float(ys[picked[0]])]]
    for a, b in itertools.pairwise(picked):
        path.append(["Q", float(xs[a]), float(ys[a]), (xs[a] + xs[b]) / 2, (ys[a] + ys[b]) / 2])
    path.append(["L", float(xs[picked[-1]]), float(ys[picked[-1]])])
    return path


def digit_of(ink: np.ndarray, label: int, stroke: int = 20) -> Digit:
    """A 280x280 uint8 ink image as the canvas sends it: an opaque RGBA PNG, white on black
    (the app's canvas has a black background), next to the fabric.js JSON of the drawing."""
    rgba = np.dstack([ink, ink, ink, np.full_like(ink, 255)])
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, format="PNG")
    png = buffer.getvalue()
    path = {"type": "Path", "version": "6.7.1", "originX": "left", "originY": "top", "fill": None, "stroke": "#FFFFFF"}
    path |= {"strokeWidth": stroke, "strokeLineCap": "round", "strokeLineJoin": "round", "path": fabric_path(ink)}
    raw = {"version": "6.7.1", "objects": [path], "background": "#000000"}
    # what the component's setStateValue("drawing", ...) makes the frontend send: the merged state
    # object, JSON in WidgetState.json_value ("backgroundFit" is only sent with a background image)
    state = {"drawing": {"raw": raw, "data": "data:image/png;base64," + base64.b64encode(png).decode()}}
    return Digit(label, json.dumps(state, separators=(",", ":")), picture_key(png))


def mnist_digits(data_dir: Path, n: int) -> list[Digit]:
    """``n`` MNIST test digits drawn as on the canvas (varied size, place, slant, brush)."""
    from mnist_small.data import load_mnist
    from mnist_small.handwriting.drawn import canvases

    mnist = load_mnist(data_dir, allow_download=False)
    images, labels = mnist.test_images[:n, 0], mnist.test_labels[:n].tolist()
    return [digit_of(canvas[..., 3], label) for canvas, label in zip(canvases(images, seed=1), labels, strict=True)]


def stroke_digits(n: int) -> list[Digit]:
    """Without MNIST: ones and sevens drawn as polylines, each moved a little so no two match."""
    from benchmarks.preprocess_latency import canvas_of

    shapes = {1: [(150, 40), (145, 140), (140, 245)], 7: [(60, 50), (220, 50), (120, 250)]}
    digits = []
    for i in range(n):
        label = 1 if i % 2 == 0 else 7
        dx, dy = i % 37 - 18, (i // 37) % 21 - 10
        digits.append(digit_of(canvas_of([[(x + dx, y + dy) for x, y in shapes[label]]])[..., 3], label))
    return digits


# ---- the app server -----------------------------------------------------------------------


class Server:
    """``streamlit run streamlit_app.py`` on one port, with the class set at ``db_url``; can be
    killed and started again on the same port and database."""

    def __init__(self, port: int, db_url: str, log_path: Path) -> None:
        self.port, self.db_url, self.log_path = port, db_url, log_path
        log_path.write_bytes(b"")  # one log per benchmark run; a restart appends to it
        self.proc: subprocess.Popen[bytes] | None = None
        self.cpu_done = 0.0  # CPU seconds of processes already gone (a killed server)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90) -> None:
        cmd = [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true"]
        cmd += ["--server.port", str(self.port), "--browser.gatherUsageStats", "false", "--server.address", "127.0.0.1"]
        with open(self.log_path, "ab") as log:  # a file, not a pipe: a chatty server never blocks
            log.write(f"---- start {time.strftime('%H:%M:%S')}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "MNIST_SMALL_DB": self.db_url}, stdout=log, stderr=log)
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


# ---- one browser tab, in Streamlit's protocol ---------------------------------------------


@dataclass
class Widget:
    kind: str  # the element's type: "bidi_component", "button", "button_group", ...
    id: str
    proto: Message
    fragment_id: str = ""  # set when the widget lives in an st.fragment: changing it reruns that alone


@dataclass
class Run:
    """What one rerun sent back, with the client's clock at each step."""

    sent: float
    fragment: bool = False  # a fragment's own rerun
    full: bool = False  # the whole script ran (also when a fragment's st.rerun() asked for it)
    first: float | None = None  # the run's first message: the script has started
    answer: float | None = None  # the chosen model's answer arrived
    finished: float | None = None  # script_finished
    digit: int | None = None  # the answer
    texts: list[str] = field(default_factory=list)  # markdown and alert bodies
    alerts: list[str] = field(default_factory=list)
    widgets: dict[str, Widget] = field(default_factory=dict)  # by the user's key

    def ms(self, end: float | None) -> float:
        assert end is not None
        return 1000 * (end - self.sent)


def user_key(element_id: str) -> str | None:
    """``$$ID-<hash>-<key>`` -> key; None for an element without a key."""
    if not element_id.startswith("$$ID-"):
        return None
    key = element_id.split("-", 2)[2]
    return None if key == "None" else key


def xsrf_cookie(url: str, cookie: str | None) -> str:
    """The ``_streamlit_xsrf`` cookie the health check sets (the browser's first request), the
    same token again for a browser that already has one."""
    request = urllib.request.Request(f"{url}/_stcore/health", headers={"Cookie": f"{XSRF_COOKIE}={cookie}"} if cookie else {})
    with urllib.request.urlopen(request, timeout=30) as response:
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            if name.strip() == XSRF_COOKIE:
                return rest.split(";", 1)[0]
    raise RuntimeError(f"{url}/_stcore/health set no {XSRF_COOKIE} cookie")


class Tab:
    """One page in a browser: a websocket session and the widget state the frontend keeps."""

    def __init__(self, url: str, page_errors: Counter[str]) -> None:
        self.page_errors = page_errors  # every exception the page shows, counted by type and message
        self.http_url = url
        self.url = url.replace("http://", "ws://") + "/_stcore/stream"
        self.cookie: str | None = None  # the browser's _streamlit_xsrf cookie, kept across reconnects
        self.session_id = ""  # offered again on a reconnect, as the browser does
        self.ws: websockets.ClientConnection | None = None
        self.states: dict[str, WidgetState] = {}  # by widget id: what every rerun sends
        self.widgets: dict[str, Widget] = {}  # the last run's keyed widgets
        self.page_hash = ""
        self.auto_rerun: tuple[float, str] | None = None  # (seconds, fragment id) of a run_every fragment

    async def open(self) -> Run:
        """Connect as the browser does, and run the page once with no widget state."""
        self.cookie = await asyncio.to_thread(xsrf_cookie, self.http_url, self.cookie)
        tokens = [self.cookie, *([self.session_id] if self.session_id else [])]
        self.ws = await websockets.connect(
            self.url,
            subprotocols=[websockets.Subprotocol(p) for p in ("streamlit", *tokens)],
            additional_headers={"Origin": self.http_url, "Cookie": f"{XSRF_COOKIE}={self.cookie}"},
            max_size=None,
            ping_interval=None,  # a browser sends no pings, and a busy server must not be dropped for a late pong
        )
        self.states, self.widgets = {}, {}
        return await self.rerun([], OPEN_TIMEOUT)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
            self.ws = None

    async def rerun(self, changes: list[WidgetState], timeout: float, fragment_id: str = "", auto: bool = False) -> Run:
        """Send the widget state with ``changes`` (triggers are sent once, values kept), wait for
        the run's script_finished, and keep what the page now holds. With ``fragment_id``, rerun
        that fragment alone, as the browser does for a widget inside it (``auto``: for its
        ``run_every`` timer); a fragment calling st.rerun() makes it a full run, waited for too."""
        assert self.ws is not None
        for change in changes:
            if change.WhichOneof("value") != "trigger_value":
                self.states[change.id] = change
        msg = BackMsg()
        msg.rerun_script.page_script_hash = self.page_hash
        msg.rerun_script.fragment_id = fragment_id
        msg.rerun_script.is_auto_rerun = auto
        msg.rerun_script.widget_states.widgets.extend(
            [*self.states.values(), *(c for c in changes if c.WhichOneof("value") == "trigger_value")]
        )
        run = Run(sent=time.perf_counter(), fragment=bool(fragment_id))
        await self.ws.send(msg.SerializeToString())
        await asyncio.wait_for(self.until_finished(run), timeout)
        if not run.full:
            self.widgets.update(run.widgets)  # a fragment's run sends only its own elements: the rest stays
            return run
        self.widgets = run.widgets
        active = {w.id for w in run.widgets.values()}
        # as the frontend does, forget the widgets that are gone from the page
        self.states = {wid: state for wid, state in self.states.items() if wid in active}
        return run

    async def until_finished(self, run: Run) -> None:
        assert self.ws is not None
        while run.finished is None:
            self.receive(run, await self.ws.recv())

    def receive(self, run: Run, data: bytes | str) -> None:
        msg = ForwardMsg()
        msg.ParseFromString(data)
        kind = msg.WhichOneof("type")
        now = time.perf_counter()
        if kind == "new_session":
            self.session_id = msg.new_session.initialize.session_id
            self.page_hash = msg.new_session.page_script_hash or msg.new_session.main_script_hash
        if kind in ("delta", "page_config_changed") and run.first is None:
            run.first = now
        if kind == "script_finished" and msg.script_finished in FINISHED:
            run.finished, run.full = now, True
        elif kind == "script_finished" and run.fragment and msg.script_finished == FRAGMENT_FINISHED:
            run.finished = now
        if kind == "auto_rerun":
            self.auto_rerun = (msg.auto_rerun.interval, msg.auto_rerun.fragment_id)
        if kind == "delta" and msg.delta.WhichOneof("type") == "add_block":
            block = msg.delta.add_block  # the tabs are a widget too: a block with an id
            if block.id and (key := user_key(block.id)) is not None:
                run.widgets[key] = Widget(block.WhichOneof("type") or "block", block.id, block, msg.delta.fragment_id)
        if kind != "delta" or msg.delta.WhichOneof("type") != "new_element":
            return
        element = msg.delta.new_element
        element_type = element.WhichOneof("type")
        inner = getattr(element, element_type)
        if element_type == "markdown":
            run.texts.append(inner.body)
            if (found := ANSWER.search(inner.body)) and run.answer is None:
                run.answer, run.digit = now, int(found.group(1))
        elif element_type == "alert":
            run.texts.append(inner.body)
            run.alerts.append(inner.body)
        elif element_type == "exception":
            run.alerts.append(f"exception: {inner.type}: {inner.message}")
            self.page_errors[f"{inner.type}: {inner.message}"[:100]] += 1
        element_id = getattr(inner, "id", "") if "id" in inner.DESCRIPTOR.fields_by_name else ""
        if element_id and (key := user_key(element_id)) is not None:
            run.widgets[key] = Widget(element_type, element_id, inner, msg.delta.fragment_id)


# ---- a student ----------------------------------------------------------------------------


@dataclass
class Stats:
    draw_ms: list[float] = field(default_factory=list)  # drawing to script_finished, answered draws
    start_ms: list[float] = field(default_factory=list)  # drawing to the run's first message
    answer_ms: list[float] = field(default_factory=list)  # drawing to the answer's message
    pick_ms: list[float] = field(default_factory=list)  # picking the label to script_finished
    teacher_ms: list[float] = field(default_factory=list)  # the Class tab's live view, one refresh
    add_ms: list[float] = field(default_factory=list)  # click to "Added"
    open_ms: list[float] = field(default_factory=list)  # a page's first run
    draws: int = 0
    unanswered: int = 0
    correct: int = 0
    no_class_mode: int = 0  # draws after which the page offered no "Add to the class set"
    refused: Counter[str] = field(default_factory=Counter)  # what the page said instead of "Added"
    confirmed: Counter[str] = field(default_factory=Counter)  # picture keys the server said it added
    interrupted: int = 0  # cycles cut short by a lost connection, a timeout or an error on the page
    gave_up: int = 0  # students whose page did not open again within RECONNECT_FOR
    page_errors: Counter[str] = field(default_factory=Counter)  # exceptions shown on the page
    burst_s: float = 0.0  # from the start to the last student's last cycle done
    late: int = 0  # cycles that began after their tick because the previous one overran


def canvas_state(tab: Tab, digit: Digit) -> WidgetState:
    canvas = next((w for key, w in tab.widgets.items() if CANVAS_KEY.fullmatch(key)), None)
    if canvas is None:
        raise LookupError(f"no canvas on the page (keys: {sorted(tab.widgets)})")
    return WidgetState(id=canvas.id, json_value=digit.state_json)


def label_state(widget: Widget, label: int) -> WidgetState:
    """The segmented control's wire value: the chosen option as displayed, in a list."""
    shown = [option.content for option in widget.proto.options]
    if str(label) not in shown:
        raise LookupError(f"label {label} not among the options {shown}")
    return WidgetState(id=widget.id, string_array_value=StringArray(data=[str(label)]))


async def draw_and_add(tab: Tab, digit: Digit, stats: Stats, timeout: float, clicked: asyncio.Event | None = None) -> None:
    """One cycle: draw, check the answer, label the drawing and add it to the class set
    (``clicked`` is set as the click goes out)."""
    stats.draws += 1
    run = await tab.rerun([canvas_state(tab, digit)], timeout)
    if run.answer is None:
        stats.unanswered += 1
        stats.refused[f"no answer: {(run.alerts or run.texts or ['(nothing)'])[-1][:80]}"] += 1
        return
    stats.draw_ms.append(run.ms(run.finished))
    stats.start_ms.append(run.ms(run.first))
    stats.answer_ms.append(run.ms(run.answer))
    stats.correct += run.digit == digit.label
    label, add = tab.widgets.get(LABEL_KEY), tab.widgets.get(ADD_KEY)
    if label is None or add is None:
        stats.no_class_mode += 1
        return
    # as in the browser: picking the digit reruns the script (the button is disabled until then),
    # then the click sends the button's trigger with the pick still set
    run = await tab.rerun([label_state(label, digit.label)], timeout, label.fragment_id)
    stats.pick_ms.append(run.ms(run.finished))
    add = tab.widgets.get(ADD_KEY)
    if add is None:
        raise LookupError("the add button went away after the pick")
    if clicked is not None:
        clicked.set()
    run = await tab.rerun([WidgetState(id=add.id, trigger_value=True)], timeout, add.fragment_id)
    if any(alert.startswith(ADDED) for alert in run.alerts):
        stats.add_ms.append(run.ms(run.finished))
        stats.confirmed[digit.key] += 1
    else:
        stats.refused[(run.alerts or ["(no message)"])[-1][:80]] += 1


async def connect(tab: Tab, stats: Stats) -> bool:
    """Open the page, retrying while the server is down (as the browser's reconnect loop does);
    False if it did not open within RECONNECT_FOR seconds."""
    give_up = time.monotonic() + RECONNECT_FOR
    while True:
        try:
            await tab.close()
            run = await tab.open()
            stats.open_ms.append(run.ms(run.finished))
            return True
        except (OSError, websockets.ConnectionClosed, websockets.InvalidHandshake, asyncio.TimeoutError) as err:
            if time.monotonic() > give_up:
                stats.refused[f"page did not open: {describe(err)}"] += 1
                return False
            await asyncio.sleep(0.5)


def describe(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"[:100]


@dataclass
class Classroom:
    """What the students share: the server, the pictures, the figures, and the burst's start,
    which is when the last student's page has opened."""

    url: str
    pictures: Iterator[Digit]  # one shared iterator: every submission draws a new picture
    stats: Stats
    args: argparse.Namespace
    waiting: int
    opened: asyncio.Event = field(default_factory=asyncio.Event)
    clicked: asyncio.Event = field(default_factory=asyncio.Event)  # a student just clicked "Add to the class set"
    created: float = field(default_factory=time.monotonic)
    start: float = 0.0

    def arrived(self) -> None:
        self.waiting -= 1
        if self.waiting == 0:
            self.start = time.monotonic()
            print(
                f"pages open: {self.args.students + self.args.teacher} in {self.start - self.created:.1f} s; the burst starts", flush=True
            )
            self.opened.set()


async def student(number: int, room: Classroom) -> None:
    """Open the page; once the whole class has, draw and add every ``--every`` seconds (staggered
    by ``number``) until ``--seconds`` have passed; reconnect after a lost connection."""
    args, stats = room.args, room.stats
    tab = Tab(room.url, stats.page_errors)
    opened = await connect(tab, stats)
    room.arrived()
    await room.opened.wait()
    if not opened:
        stats.gave_up += 1
        return
    offset = number * args.every / args.students
    try:
        for cycle in itertools.count():
            tick = room.start + offset + cycle * args.every
            if tick >= room.start + args.seconds:
                return
            if (wait := tick - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            elif wait < -0.1:
                stats.late += 1
            try:
                await draw_and_add(tab, next(room.pictures), stats, args.timeout, room.clicked)
            except (OSError, websockets.ConnectionClosed, asyncio.TimeoutError, LookupError) as err:
                # a lost connection, a run that never finished or a page without the canvas (an
                # error on the page): the student reloads the page and goes on at the next tick
                stats.interrupted += 1
                stats.refused[f"interrupted: {describe(err)}"] += 1
                if not await connect(tab, stats):
                    stats.gave_up += 1
                    return
    finally:
        await tab.close()


async def open_class_view(tab: Tab, stats: Stats) -> tuple[float, str]:
    """Open the page and switch it to the Class tab; returns its live view's (interval, fragment id)."""
    if not await connect(tab, stats):
        raise LookupError("the page did not open")
    view = tab.widgets.get(VIEW_KEY)
    if view is None:
        raise LookupError(f"no tabs with the key {VIEW_KEY!r} on the page")
    await tab.rerun([WidgetState(id=view.id, string_value=CLASS_TAB)], OPEN_TIMEOUT)
    if tab.auto_rerun is None:
        raise LookupError(f"nothing on the {CLASS_TAB} tab refreshes itself")
    return tab.auto_rerun


async def teacher(room: Classroom) -> None:
    """The projector: one more page, on the Class tab, whose live view (a fragment with
    ``run_every``) the browser reruns every few seconds; times each refresh."""
    stats = room.stats
    tab = Tab(room.url, stats.page_errors)
    interval, fragment = await open_class_view(tab, stats)
    room.arrived()
    await room.opened.wait()
    try:
        while time.monotonic() + interval < room.start + room.args.seconds:
            await asyncio.sleep(interval)
            try:
                run = await tab.rerun([], room.args.timeout, fragment_id=fragment, auto=True)
                stats.teacher_ms.append(run.ms(run.finished))
            except (OSError, websockets.ConnectionClosed, asyncio.TimeoutError) as err:
                stats.refused[f"teacher's refresh interrupted: {describe(err)}"] += 1
                interval, fragment = await open_class_view(tab, stats)
    finally:
        await tab.close()


async def killer(server: Server, room: Classroom, after: float) -> None:
    """SIGKILL the server ``after`` seconds into the burst, just after a student's click on "Add
    to the class set" (0-50 ms after, so that the kill lands while a drawing is being stored),
    then start it again."""
    await room.opened.wait()
    await asyncio.sleep(max(0.0, room.start + after - time.monotonic()))
    room.clicked.clear()
    await room.clicked.wait()
    delay = random.uniform(0.0, 0.05)
    await asyncio.sleep(delay)
    server.kill()
    print(
        f"killed the server {time.monotonic() - room.start:.1f} s into the burst, {1000 * delay:.0f} ms after a click on 'Add';"
        " starting it again on the same database",
        flush=True,
    )
    began = time.monotonic()
    await asyncio.to_thread(server.start)
    print(f"server healthy again after {time.monotonic() - began:.1f} s", flush=True)


async def burst(server: Server, digits: list[Digit], args: argparse.Namespace) -> Stats:
    room = Classroom(server.url, itertools.cycle(digits), Stats(), args, waiting=args.students + args.teacher)
    tasks = [student(n, room) for n in range(args.students)]
    if args.teacher:
        tasks.append(teacher(room))
    if args.kill_after is not None:
        tasks.append(killer(server, room, args.kill_after))
    await asyncio.gather(*tasks)
    room.stats.burst_s = time.monotonic() - room.start
    return room.stats


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


def load_digits(data_dir: Path, n: int) -> list[Digit]:
    from mnist_small.data import DataError

    try:
        digits = mnist_digits(data_dir, n)
        print(f"digits: {n} MNIST test digits from {data_dir}, drawn as on the canvas", flush=True)
    except DataError as err:
        digits = stroke_digits(n)
        print(f"digits: {n} synthetic ones and sevens (no MNIST: {err})", flush=True)
    return digits


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
    parser.add_argument("--teacher", action="store_true", help="one more page on the Class tab, refreshing itself, as on the projector")
    parser.add_argument("--log", type=Path, default=None, help="keep the server's log in this file (default: a temporary one)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait for one rerun")
    parser.add_argument("--data", type=Path, default=data_dir(), help="folder with MNIST/raw (default: $MNIST_SMALL_DATA or ./data)")
    args = parser.parse_args(argv)
    if args.students < 1 or args.seconds <= 0 or args.every <= 0:
        parser.error("--students, --seconds and --every must be positive")
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


def run(args: argparse.Namespace, digits: list[Digit]) -> Outcome:
    """Start the server on a fresh class set (unless --db), run the burst, stop the server, and
    read the database and the log."""
    with tempfile.TemporaryDirectory(prefix="class_load-") as tmp:
        db_url = args.db or f"sqlite:///{Path(tmp) / 'class.db'}"
        server = Server(args.port or free_port(), db_url, args.log or Path(tmp) / "server.log")
        print(f"server: port {server.port}, class set {make_url(db_url).render_as_string(hide_password=True)}", flush=True)
        began = time.monotonic()
        server.start()
        client_cpu = time.process_time()
        try:
            stats = asyncio.run(burst(server, digits, args))
        finally:
            server.stop()
        wall, client_cpu = time.monotonic() - began, time.process_time() - client_cpu
        log = server.log_path.read_text(errors="replace")
        return Outcome(stats, wall, server.cpu_seconds(), client_cpu, log, stored_pictures(db_url), integrity(db_url))


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
    cores = outcome.server_cpu / outcome.wall
    print(
        f"server CPU: {outcome.server_cpu:.1f} s over {outcome.wall:.1f} s wall ({cores:.2f} cores); this client: {outcome.client_cpu:.1f} s"
    )
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


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    digits = load_digits(args.data, args.students * math.ceil(args.seconds / args.every))
    report(args, run(args, digits))


if __name__ == "__main__":
    main()
