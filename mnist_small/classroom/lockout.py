"""Back-off for guessing a secret (the app's teacher code): each wrong code beyond a few makes the
next one wait twice as long, counted per browser and for the whole server at once.

Why both: a browser's own count stops one page from guessing fast; the server's count stops a
student who opens many sessions (a script can make a new anonymous browser id per session) from
getting more guesses. The server's count is the looser of the two (more free failures, a shorter
cap), and a browser that has got in before is not held up by it, only by its own wrong codes: so
a teacher who locks the controls can unlock them again at once even while a student hammers the
code from many sessions. A browser new to the server waits at most ``SERVER.cap`` after someone
else's wrong code, but a script that takes every free moment can keep it out: no rule can tell
a teacher's new browser from a student's (the server log names the browser that guesses). A
correct code typed during a wait is refused like any other (it is not even compared), and the
page says when to try again.

While a wait runs, the code is not compared at all: the attempt costs the same whatever was typed.
A wrong code is counted only when it was compared, so typing during a wait does not lengthen it.
A count left alone for ``forget`` seconds starts again from zero (yesterday's typo is forgotten).
Everything is in memory: restarting the app clears it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Policy:
    """How a run of wrong codes is paid for."""

    free: int  # wrong codes in a row that cost no wait
    base: float  # seconds of wait after the first wrong code beyond the free ones; doubles with each further one
    cap: float  # the longest wait, seconds
    forget: float  # seconds without a wrong code after which the count starts again from zero

    def __post_init__(self) -> None:
        if self.free < 0 or self.base <= 0 or self.cap < self.base:
            raise ValueError(f"a policy needs free >= 0 and 0 < base <= cap, not {self}")
        if self.forget < self.cap:  # else waiting out the forget period would be quicker than the wait
            raise ValueError(f"forget ({self.forget} s) must be at least the cap ({self.cap} s)")

    def delay(self, failures: int) -> float:
        """The wait after ``failures`` wrong codes in a row."""
        if failures <= self.free:
            return 0.0
        return min(self.cap, self.base * 2.0 ** min(failures - self.free - 1, 64))  # min: no float overflow

    def most_per_hour(self) -> float:
        """The most wrong codes one count lets through in an hour of hammering, once it has reached the cap."""
        return 3600 / self.cap


# Per browser: 3 free typos, then 1, 2, 4, ... s, at most 5 minutes (12 guesses an hour).
PER_BROWSER = Policy(free=3, base=1.0, cap=300.0, forget=3600.0)
# The whole server: 10 free, then 1, 2, 4, ... s, at most 1 minute (60 guesses an hour, 1,440 a day).
SERVER = Policy(free=10, base=1.0, cap=60.0, forget=3600.0)


MAX_TRUSTED = 100  # browsers that got in, remembered; only holders of the code add to them


@dataclass(frozen=True)
class Attempt:
    """What became of one typed code."""

    ok: bool  # it was compared and right
    compared: bool  # False: held up by a wait, not compared at all
    wait: float  # seconds until this browser's next code is compared (0: at once)
    failures: int  # this browser's wrong codes in a row, this one included
    server_failures: int  # the whole server's


@dataclass
class _Count:
    failures: int = 0
    last: float = 0.0  # clock time of the last wrong code

    def current(self, policy: Policy, now: float) -> int:
        return 0 if self.failures and now - self.last >= policy.forget else self.failures

    def wait(self, policy: Policy, now: float) -> float:
        failures = self.current(policy, now)
        return max(0.0, self.last + policy.delay(failures) - now) if failures else 0.0

    def fail(self, policy: Policy, now: float) -> None:
        self.failures, self.last = self.current(policy, now) + 1, now


class Lockout:
    """Wrong-code counts per key (an anonymous browser id) and for all keys together; thread-safe,
    one instance shared by every session of the server. ``clock``: seconds, monotonic (tests
    pass a fake one). At most ``max_keys`` browsers are remembered, the longest quiet forgotten
    first, so a flood of new ids cannot fill the memory (the server's count still holds them)."""

    def __init__(
        self,
        per_key: Policy = PER_BROWSER,
        server: Policy = SERVER,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        self.per_key, self.server, self.clock, self.max_keys = per_key, server, clock, max_keys
        self._lock = threading.Lock()
        self._keys: OrderedDict[str, _Count] = OrderedDict()  # by the time of the last wrong code, oldest first
        self._server = _Count()
        self._trusted: OrderedDict[str, None] = OrderedDict()  # keys that got in: free of the server's wait

    def _wait(self, key: str, now: float) -> float:
        count = self._keys.get(key)
        own = count.wait(self.per_key, now) if count else 0.0
        return own if key in self._trusted else max(own, self._server.wait(self.server, now))

    def wait(self, key: str) -> float:
        """Seconds before a code typed for ``key`` is compared (0: at once)."""
        with self._lock:
            return self._wait(key, self.clock())

    def attempt(self, key: str, check: Callable[[], bool]) -> Attempt:
        """Compare a typed code by calling ``check`` (True: right), unless ``key`` has to wait:
        then ``check`` is not called. A right code clears the key's count and frees it from the
        server's wait from then on; a wrong one counts for the key and for the server."""
        with self._lock:  # held while checking: two sessions cannot both slip into the same free moment
            now = self.clock()
            count = self._keys.get(key)
            failures = count.current(self.per_key, now) if count else 0
            if (wait := self._wait(key, now)) > 0:
                return Attempt(False, False, wait, failures, self._server.current(self.server, now))
            if check():
                self._keys.pop(key, None)
                self._trusted[key] = None
                self._trusted.move_to_end(key)
                if len(self._trusted) > MAX_TRUSTED:
                    self._trusted.popitem(last=False)
                return Attempt(True, True, 0.0, 0, self._server.current(self.server, now))
            count = self._keys.pop(key, None) or _Count()
            count.fail(self.per_key, now)
            self._keys[key] = count  # to the end: the most recent
            if len(self._keys) > self.max_keys:
                self._keys.popitem(last=False)
            self._server.fail(self.server, now)
            return Attempt(False, True, self._wait(key, now), count.failures, self._server.failures)
