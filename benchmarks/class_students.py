"""The simulated class of ``benchmarks/class_load.py``: students who draw and add their drawings,
the teacher's projector, and the crash of the server in the middle. Not a benchmark of its own;
what each student does is told in class_load's docstring."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import websockets
from streamlit.proto.Common_pb2 import StringArray
from streamlit.proto.WidgetStates_pb2 import WidgetState

from benchmarks.appserver import AppServer
from benchmarks.class_digits import Digit
from benchmarks.streamlit_client import OPEN_TIMEOUT, Tab, Widget
from deploy.school import COOKIE

CANVAS_KEY = re.compile(r"canvas-\d+")  # the canvas's key; "Clear the canvas" makes a new one
LABEL_KEY, ADD_KEY = "class_label", "class_add"
ADDED = "Added"
RECONNECT_FOR = 180.0  # how long a student keeps trying to reach a killed server again
VIEW_KEY, CLASS_TAB = "view", "Class"  # the tabs' key, and the tab the teacher projects


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
    replicas: Counter[str] = field(default_factory=Counter)  # students per replica as the pages first opened (through HAProxy)
    moved: int = 0  # reconnects that HAProxy sent to another replica than before
    killed_at: float | None = None  # seconds into the burst the server or a replica was killed
    answered_after_kill: Counter[int] = field(default_factory=Counter)  # per student: drawings answered after the kill
    burst_cpu: float = 0.0  # the server's (the replicas') CPU seconds over the burst, page loads left out


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


async def draw_and_add(tab: Tab, digit: Digit, stats: Stats, timeout: float, clicked: Callable[[], None] | None = None) -> bool:
    """One cycle: draw, check the answer, label the drawing and add it to the class set
    (``clicked`` is called as the click goes out); whether the drawing was answered."""
    stats.draws += 1
    run = await tab.rerun([canvas_state(tab, digit)], timeout)
    if run.answer is None:
        stats.unanswered += 1
        stats.refused[f"no answer: {(run.alerts or run.texts or ['(nothing)'])[-1][:80]}"] += 1
        return False
    stats.draw_ms.append(run.ms(run.finished))
    stats.start_ms.append(run.ms(run.first))
    stats.answer_ms.append(run.ms(run.answer))
    stats.correct += run.digit == digit.label
    label, add = tab.widgets.get(LABEL_KEY), tab.widgets.get(ADD_KEY)
    if label is None or add is None:
        stats.no_class_mode += 1
        return True
    # as in the browser: picking the digit reruns the script (the button is disabled until then),
    # then the click sends the button's trigger with the pick still set
    run = await tab.rerun([label_state(label, digit.label)], timeout, label.fragment_id)
    stats.pick_ms.append(run.ms(run.finished))
    add = tab.widgets.get(ADD_KEY)
    if add is None:
        raise LookupError("the add button went away after the pick")
    if clicked is not None:
        clicked()
    run = await tab.rerun([WidgetState(id=add.id, trigger_value=True)], timeout, add.fragment_id)
    if any(alert.startswith(ADDED) for alert in run.alerts):
        stats.add_ms.append(run.ms(run.finished))
        stats.confirmed[digit.key] += 1
    else:
        stats.refused[(run.alerts or ["(no message)"])[-1][:80]] += 1
    return True


async def connect(tab: Tab, stats: Stats) -> bool:
    """Open the page, retrying while the server is down (as the browser's reconnect loop does);
    False if it did not open within RECONNECT_FOR seconds."""
    give_up = time.monotonic() + RECONNECT_FOR
    replica = tab.cookies.get(COOKIE)  # the affinity cookie of HAProxy, when there is one
    while True:
        try:
            await tab.close()
            run = await tab.open()
            stats.open_ms.append(run.ms(run.finished))
            if replica is None and COOKIE in tab.cookies:
                stats.replicas[tab.cookies[COOKIE]] += 1
            stats.moved += replica is not None and tab.cookies.get(COOKIE) != replica
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
    clicker: Tab | None = None  # the page of the last click
    created: float = field(default_factory=time.monotonic)
    start: float = 0.0
    cpu: Callable[[], float] = float  # the server's CPU seconds so far
    cpu_at_start: float = 0.0

    def click(self, tab: Tab) -> None:
        self.clicker = tab
        self.clicked.set()

    def arrived(self) -> None:
        self.waiting -= 1
        if self.waiting == 0:
            self.start, self.cpu_at_start = time.monotonic(), self.cpu()
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
                answered = await draw_and_add(tab, next(room.pictures), stats, args.timeout, lambda: room.click(tab))
                if answered and stats.killed_at is not None:
                    stats.answered_after_kill[number] += 1
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


async def killer(room: Classroom, after: float, victim: Callable[[Tab | None], AppServer], restart: bool) -> None:
    """SIGKILL ``victim(page)`` ``after`` seconds into the burst, just after a student's click on "Add
    to the class set" (0-50 ms after, so that the kill lands while a drawing is being stored; the
    victim is the server, or the replica serving that page), then start it again if ``restart``."""
    await room.opened.wait()
    await asyncio.sleep(max(0.0, room.start + after - time.monotonic()))
    room.clicked.clear()
    await room.clicked.wait()
    delay = random.uniform(0.0, 0.05)
    await asyncio.sleep(delay)
    server = victim(room.clicker)
    server.kill()
    room.stats.killed_at = time.monotonic() - room.start
    print(
        f"killed the server on port {server.port} {room.stats.killed_at:.1f} s into the burst, {1000 * delay:.0f} ms after a click on 'Add'"
        + ("; starting it again on the same database" if restart else "; its students go on through the proxy"),
        flush=True,
    )
    if restart:
        began = time.monotonic()
        await asyncio.to_thread(server.start)
        print(f"server healthy again after {time.monotonic() - began:.1f} s", flush=True)


async def burst(
    url: str,
    digits: list[Digit],
    args: argparse.Namespace,
    cpu: Callable[[], float],
    victim: Callable[[Tab | None], AppServer] | None = None,
    restart: bool = True,
) -> Stats:
    """The class on the app at ``url``, whose server CPU seconds ``cpu`` reads; with --kill-after,
    ``victim`` is killed (and started again if ``restart``)."""
    room = Classroom(url, itertools.cycle(digits), Stats(), args, waiting=args.students + args.teacher, cpu=cpu)
    tasks = [student(n, room) for n in range(args.students)]
    if args.teacher:
        tasks.append(teacher(room))
    if args.kill_after is not None and victim is not None:
        tasks.append(killer(room, args.kill_after, victim, restart))
    await asyncio.gather(*tasks)
    room.stats.burst_s, room.stats.burst_cpu = time.monotonic() - room.start, cpu() - room.cpu_at_start
    return room.stats
