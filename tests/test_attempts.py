"""The back-off for the teacher code (mnist_small.classroom.lockout), on a fake clock."""

from __future__ import annotations

import threading
import time

import pytest

from mnist_small.classroom.lockout import PER_BROWSER, SERVER, Lockout, Policy


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Check:
    """A code check that counts its calls."""

    def __init__(self, right: bool) -> None:
        self.right, self.calls = right, 0

    def __call__(self) -> bool:
        self.calls += 1
        return self.right


WRONG, RIGHT = False, True
LOOSE_SERVER = Policy(free=1000, base=1, cap=60, forget=3600)  # out of the way, to test one browser alone


def lockout(clock: Clock, per_key: Policy = PER_BROWSER, server: Policy = SERVER, **kwargs) -> Lockout:
    return Lockout(per_key, server, clock=clock, **kwargs)


def wrong(box: Lockout, key: str = "a"):
    return box.attempt(key, Check(WRONG))


def wrong_codes(box: Lockout, clock: Clock, n: int, key: str = "a") -> None:
    """``n`` wrong codes from ``key``, each typed as soon as it is compared."""
    for _ in range(n):
        clock.now += box.wait(key)
        assert wrong(box, key).compared


def test_the_wait_doubles_after_the_free_failures_and_stops_at_the_cap():
    clock = Clock()
    box = lockout(clock, server=LOOSE_SERVER)
    waits = []
    for _ in range(14):
        attempt = wrong(box)
        assert attempt.compared and not attempt.ok
        waits.append(attempt.wait)
        clock.now += attempt.wait  # the browser types again as soon as it may
    assert waits == [0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    assert attempt.failures == 14


def test_during_the_wait_the_code_is_not_compared_and_the_wait_does_not_grow():
    clock = Clock()
    box = lockout(clock, server=LOOSE_SERVER)
    wrong_codes(box, clock, 5)  # 3 free, then 1 s, then 2 s
    last = clock.now
    right = Check(RIGHT)
    for elapsed in (0.0, 1.0, 1.9):
        clock.now = last + elapsed
        attempt = box.attempt("a", right)
        assert not attempt.compared and not attempt.ok and attempt.wait == pytest.approx(2.0 - elapsed)
        assert attempt.failures == 5
    assert right.calls == 0  # the right code too: not even compared
    clock.now = last + 2.0
    assert box.attempt("a", right).ok and right.calls == 1


def test_a_success_clears_the_browsers_count():
    clock = Clock()
    box = lockout(clock, server=LOOSE_SERVER)
    wrong_codes(box, clock, 4)
    clock.now += 1
    assert box.attempt("a", Check(RIGHT)).ok
    assert [wrong(box).wait for _ in range(4)] == [0, 0, 0, 1]  # three free ones again


def test_browsers_count_apart_until_the_server_runs_out_of_free_failures():
    clock = Clock()
    box = lockout(clock)
    wrong_codes(box, clock, 5, "a")
    assert box.wait("a") == 2 and box.wait("b") == 0
    for key in "bcdef":
        assert wrong(box, key).compared
    # ten wrong codes on the server, from six browsers: the next one starts its wait
    attempt = wrong(box, "g")
    assert attempt.compared and attempt.server_failures == 11 and attempt.failures == 1
    assert attempt.wait == 1 and box.wait("new") == 1  # a browser never seen waits as well
    held = box.attempt("new", Check(RIGHT))
    assert not held.compared and held.wait == 1


def test_many_sessions_get_no_more_than_the_servers_cap_allows():
    clock = Clock()
    box = lockout(clock)
    compared, browser = 0, 0
    while clock.now < 1000.0 + 3600:  # an hour of a new browser id whenever one is held up
        attempt = wrong(box, f"s{browser}")
        compared += attempt.compared
        browser += 1
        clock.now += max(0.02, box.wait(f"s{browser}"))
    # 10 free, 6 while the wait doubles to 32 s (63 s in all), then one a minute
    assert compared == 10 + 6 + (3600 - 63) // 60 + 1


def test_a_browser_that_got_in_before_is_held_up_by_its_own_wrong_codes_only():
    clock = Clock()
    box = lockout(clock)
    assert box.attempt("teacher", Check(RIGHT)).ok
    for n in range(50):
        wrong(box, f"student {n}")
    assert box.wait("stranger") > 0 and box.wait("teacher") == 0
    assert box.attempt("teacher", Check(RIGHT)).ok  # while the server's wait runs
    wrong_codes(box, clock, 3, "teacher")  # her own three typos: free
    assert box.wait("teacher") == 0
    wrong(box, "teacher")
    assert box.wait("teacher") == 1  # her fourth


def test_a_quiet_hour_forgets_the_count():
    clock = Clock()
    box = lockout(clock)
    for _ in range(12):
        wrong(box)
        clock.now += 400  # the longest wait of both is 300 s
    clock.now += 3600
    assert box.wait("a") == 0
    attempt = wrong(box)
    assert attempt.failures == 1 and attempt.server_failures == 1 and attempt.wait == 0


def test_a_flood_of_ids_is_forgotten_oldest_first_but_the_server_remembers():
    clock = Clock()
    box = lockout(clock, max_keys=3, server=Policy(free=5, base=1, cap=60, forget=3600))
    wrong_codes(box, clock, 4, "first")
    for key in ("b", "c", "d"):
        clock.now += 1000  # past every wait
        wrong(box, key)
    clock.now += 1000
    assert box.attempt("first", Check(WRONG)).failures == 1  # forgotten: a fresh count
    assert box.wait("e") == 4  # the server still counts all 8: 2 ** (8 - 5 - 1) s
    assert len(box._keys) == 3


def test_threads_cannot_slip_into_one_free_moment_together():
    clock = Clock()
    box = lockout(clock, server=Policy(free=0, base=5, cap=60, forget=3600))
    compared = []

    def slow_wrong() -> bool:
        time.sleep(0.005)  # widens the window a race would need
        return False

    def guess(key: str) -> None:
        compared.append(box.attempt(key, slow_wrong).compared)

    threads = [threading.Thread(target=guess, args=(f"t{n}",)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert compared.count(True) == 1  # the first wrong code starts the server's wait for all the others


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(free=-1, base=1, cap=2, forget=10),
        dict(free=1, base=0, cap=2, forget=10),
        dict(free=1, base=3, cap=2, forget=10),
        dict(free=1, base=1, cap=20, forget=10),
    ],
)
def test_a_policy_that_makes_no_sense_is_refused(kwargs):
    with pytest.raises(ValueError):
        Policy(**kwargs)


def test_the_apps_policies_bound_the_guessing():
    assert PER_BROWSER.most_per_hour() == 12 and SERVER.most_per_hour() == 60
    assert SERVER.free > PER_BROWSER.free and SERVER.cap < PER_BROWSER.cap  # the server's count is the looser
