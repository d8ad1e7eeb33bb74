"""How fast can a student guess the teacher code?

    python -m benchmarks.teacher_guessing [--seconds 100] [--rate 48.6] [--server] [--sessions 8]

Two parts.

1. Always, in a fraction of a second: the app's back-off (``mnist_small.classroom.lockout.Lockout`` with
   its real policies) on a simulated clock, against an attacker typing ``--rate`` codes a second
   (default 48.6: the 4,712 guesses in 97 s of issue 25, against the app without back-off) for
   ``--seconds``, then for an hour, a day and a year: from one browser, and from a new browser id
   whenever one is held up (a script making many sessions). Also: how long a teacher waits to get
   in while that attack runs, from a browser that got in before and from a new one.
2. With ``--server``: the same attack against the real app (``streamlit run streamlit_app.py``
   with a random teacher code, spoken to in Streamlit's websocket protocol as
   ``benchmarks/class_load.py`` does): one session typing codes as fast as the server answers,
   then ``--sessions`` sessions at once, each replaced by a new one (a new cookie, so a new
   browser id) as soon as it is held up; each attack on a fresh server. Counts the codes the server compared ("not the teacher
   code") and the ones it held up without comparing ("not checked"), and the server's CPU time.
   Run it on a quiet machine: the server and this client share the cores.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import secrets
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from streamlit.proto.WidgetStates_pb2 import WidgetState

from mnist_small.classroom.lockout import Lockout

CODE_KEY = "teacher_code_entered"
COMPARED, HELD = "not the teacher code", "not checked"
HOUR, DAY, YEAR = 3600.0, 86400.0, 365 * 86400.0


class Clock:
    """A simulated monotonic clock: the attacker moves it on."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def attack(seconds: float, rate: float, many: bool, lockout: Lockout | None = None, clock: Clock | None = None) -> tuple[int, int]:
    """(codes compared, browser ids used): an attacker typing ``rate`` wrong codes a second for
    ``seconds`` simulated seconds. ``many``: a new browser id whenever one is held up. While
    everything it may try is held up it skips straight to the end of the wait (as a script
    that reads the wait off the page would), so long spans cost no more than the guesses in them."""
    clock = clock or Clock()
    lockout = lockout or Lockout(clock=clock)
    end, step, compared, browser = clock.now + seconds, 1 / rate, 0, 0
    while clock.now < end:
        attempt = lockout.attempt(f"attacker {browser}", lambda: False)
        if attempt.compared:
            compared += 1
            clock.now += step
            continue
        if many:
            browser += 1  # a fresh id is held up by the server's wait at most
        clock.now += max(step, lockout.wait(f"attacker {browser}"))  # typing on during the wait gains nothing
    return compared, browser + 1


def teacher_gets_in(rate: float, trusted: bool) -> float:
    """Seconds a teacher typing the right code waits to get in while the many-session attack has
    run for an hour and goes on, from a browser that got in before (``trusted``) or a new one; she
    types again the moment the page's wait is over, and the attacker's next code lands first
    whenever the server's wait ends (the worst case for her). inf: not within a day."""
    clock = Clock()
    lockout = Lockout(clock=clock)
    if trusted:
        lockout.attempt("teacher", lambda: True)
    _, browser = attack(HOUR, rate, many=True, lockout=lockout, clock=clock)
    began = clock.now
    while clock.now - began < DAY:
        while lockout.wait(f"attacker {browser}") == 0:
            lockout.attempt(f"attacker {browser}", lambda: False)
            browser += 1
        if lockout.attempt("teacher", lambda: True).ok:
            return clock.now - began
        clock.now += lockout.wait("teacher")
    return math.inf


def simulate(args: argparse.Namespace) -> None:
    rate = args.rate
    print(f"simulated clock, the app's Lockout policies, an attacker typing {rate:g} wrong codes a second")
    print(f"without back-off: {rate * args.seconds:,.0f} codes compared in {args.seconds:g} s from one session")
    for span, name in ((args.seconds, f"{args.seconds:g} s"), (HOUR, "an hour"), (DAY, "a day"), (YEAR, "a year")):
        one, _ = attack(span, rate, many=False)
        many, browsers = attack(span, rate, many=True)
        print(f"in {name}: one browser {one:,} codes compared; a new browser id whenever held up {many:,} ({browsers:,} ids)")
    for trusted in (True, False):
        waited = teacher_gets_in(rate, trusted)
        who = "a browser that got in before" if trusted else "a browser new to the server"
        print(
            f"teacher typing the right code during that attack, from {who}: "
            + (f"in after {waited:.1f} s" if waited < math.inf else "not in within a day")
        )


# ---- the real app -------------------------------------------------------------------------


@dataclass
class Tally:
    compared: int = 0
    held: int = 0
    sessions: int = 0
    unlocked: int = 0
    other: Counter[str] | None = None


async def open_code_field(url: str, errors: Counter[str]):
    from benchmarks.class_students import Stats, open_class_view
    from benchmarks.streamlit_client import Tab

    tab = Tab(url, errors)  # a new cookie: a new browser id
    await open_class_view(tab, Stats())
    if CODE_KEY not in tab.widgets:
        raise LookupError(f"no {CODE_KEY!r} field on the Class tab")
    return tab


async def hammer(url: str, seconds: float, guesses, tally: Tally, new_session_when_held: bool) -> None:
    """Type codes into one session as fast as the server answers; with ``new_session_when_held``
    a held-up session is dropped for a new one."""
    errors: Counter[str] = Counter()
    end = time.monotonic() + seconds
    tab = await open_code_field(url, errors)
    tally.sessions += 1
    try:
        while time.monotonic() < end:
            run = await tab.rerun([WidgetState(id=tab.widgets[CODE_KEY].id, string_value=next(guesses))], 60)
            said = " ".join(run.alerts)
            if COMPARED in said:
                tally.compared += 1
            elif HELD in said:
                tally.held += 1
                if new_session_when_held and time.monotonic() < end:
                    await tab.close()
                    tab = await open_code_field(url, errors)
                    tally.sessions += 1
            elif "teacher_delete" in run.widgets:
                tally.unlocked += 1
            else:
                assert tally.other is not None
                tally.other[said[:80] or "(nothing said)"] += 1
    finally:
        await tab.close()


async def hammer_all(url: str, seconds: float, sessions: int, guesses, tally: Tally, many: bool) -> None:
    await asyncio.gather(*(hammer(url, seconds, guesses, tally, many) for _ in range(sessions)))


def on_server(args: argparse.Namespace) -> None:
    """Each attack on a fresh server (a new process: the back-off starts from zero), with a
    random teacher code that is never guessed: only the rate is measured."""
    from benchmarks.appserver import AppServer, free_port

    for sessions, many in ((1, False), (args.sessions, True)):
        code = secrets.token_urlsafe(12)
        os.environ["MNIST_SMALL_TEACHER_CODE"] = code
        with tempfile.TemporaryDirectory(prefix="teacher_guessing-") as tmp:
            server = AppServer(free_port(), Path(tmp) / "server.log", {"MNIST_SMALL_DB": f"sqlite:///{Path(tmp) / 'class.db'}"})
            server.start()
            try:
                guesses = (f"{n:04d}" for n in range(10**9))
                tally = Tally(other=Counter())
                cpu, began = server.cpu_seconds(), time.monotonic()
                asyncio.run(hammer_all(server.url, args.seconds, sessions, guesses, tally, many))
                wall, cpu = time.monotonic() - began, server.cpu_seconds() - cpu
            finally:
                server.stop()
            log = server.log_path.read_text(errors="replace")
        how = "one session" if not many else f"{sessions} sessions at once, each replaced by a new browser id when held up"
        print(
            f"real server, {how}: {tally.compared:,} codes compared, {tally.held:,} held up unchecked, in {wall:.0f} s "
            f"({tally.sessions} sessions opened; unlocked {tally.unlocked}); server CPU {cpu:.1f} s; "
            f"wrong codes in the server log: {log.count('wrong teacher code')}, the code in it: {code in log}"
        )
        for said, count in (tally.other or Counter()).most_common(3):
            print(f"  other answers ({count}x): {said}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=100, help="length of each attack")
    parser.add_argument("--rate", type=float, default=4712 / 97, help="the simulated attacker's codes a second")
    parser.add_argument("--server", action="store_true", help="also attack the real app")
    parser.add_argument("--sessions", type=int, default=8, help="sessions at once in the real many-session attack")
    args = parser.parse_args(argv)
    simulate(args)
    if args.server:
        on_server(args)


if __name__ == "__main__":
    main()
