"""The teacher code on the Class tab (AppTest): wrong codes make the next ones wait, per browser
and for the whole server, the wait is told on the page, and the controls can be locked again.
The server's Lockout is replaced by one on a fake clock: no test sleeps."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from mnist_small.classroom.lockout import PER_BROWSER, Lockout, Policy

from .apptest import APP

CODE = "owl-river-lamp"
CODE_KEY = "teacher_code_entered"
WRONG, HELD = "That is not the teacher code.", "this one was not checked"
LOOSE_SERVER = Policy(free=1000, base=1, cap=60, forget=3600)  # out of the way, to test one browser alone


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def class_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The app on an empty class set, with a teacher code."""
    monkeypatch.setenv("MNIST_SMALL_DB", f"sqlite:///{tmp_path / 'class.db'}")
    monkeypatch.setenv("MNIST_SMALL_TEACHER_CODE", CODE)


def use_lockout(monkeypatch: pytest.MonkeyPatch, clock: Clock, server: Policy) -> Lockout:
    """The server's one Lockout, replaced for this test (the real one lives in st.cache_resource)."""
    from views.tabs import teacher

    box = Lockout(PER_BROWSER, server, clock=clock)
    monkeypatch.setattr(teacher, "lockout", lambda: box)
    return box


def page(browser: str) -> AppTest:
    """The Class tab in a new session of ``browser``: AppTest sends no cookie, so the app's
    anonymous browser id is the one it keeps in the session, set here."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["view"], at.session_state["student"] = "Class", browser
    return at.run()


def type_code(at: AppTest, code: str) -> AppTest:
    at.text_input(key=CODE_KEY).input(code).run()
    assert not at.exception
    return at


def said(at: AppTest) -> str:
    return " ".join(w.value for w in at.warning)


def unlocked(at: AppTest) -> bool:
    return any(b.key == "teacher_delete" for b in at.button)


def test_wrong_codes_make_the_browser_wait_and_the_right_code_waits_too(class_mode, clock, monkeypatch):
    use_lockout(monkeypatch, clock, LOOSE_SERVER)
    at = page("browser-1")
    for guess in ("cat", "dog", "fox"):  # three free typos
        assert said(type_code(at, guess)) == WRONG
    assert said(type_code(at, "emu")) == f"{WRONG} The next one is checked in 1 second."
    assert at.text_input(key=CODE_KEY).value == ""  # the field is emptied: a code stays nowhere
    # the right code during the wait is refused, not even compared, and the page says how long
    type_code(at, CODE)
    assert HELD in said(at) and "Type the code again in 1 second." in said(at) and not unlocked(at)
    clock.now += 0.5
    assert "in 1 second" in said(type_code(at, CODE))  # 0.5 s left: rounded up
    clock.now += 0.5
    type_code(at, CODE)
    assert unlocked(at) and not at.warning


def test_the_wait_doubles_and_a_reload_does_not_reset_it(class_mode, clock, monkeypatch):
    use_lockout(monkeypatch, clock, LOOSE_SERVER)
    at = page("browser-1")
    for guess in ("cat", "dog", "fox", "emu"):
        type_code(at, guess)
    clock.now += 1
    assert said(type_code(at, "gnu")) == f"{WRONG} The next one is checked in 2 seconds."
    again = page("browser-1")  # a reload: a new session, the same browser
    assert HELD in said(type_code(again, CODE)) and "in 2 seconds" in said(again)
    assert said(type_code(page("browser-2"), "yak")) == WRONG  # another browser has its own count


def test_many_sessions_share_the_servers_count_but_the_teachers_browser_gets_in(class_mode, clock, monkeypatch):
    use_lockout(monkeypatch, clock, Policy(free=2, base=4, cap=60, forget=3600))
    teacher = type_code(page("teacher"), CODE)  # she got in once, from this browser
    assert unlocked(teacher)
    teacher.button(key="teacher_lock").click().run()
    for n in range(2):
        assert said(type_code(page(f"student-{n}"), f"guess{n}")) == WRONG
    # the server's third wrong code, from a third new session: the whole server waits 4 s
    assert said(type_code(page("student-2"), "guess2")) == f"{WRONG} The next one is checked in 4 seconds."
    stranger = type_code(page("student-3"), CODE)  # a browser never seen: held up although it is the right code
    assert HELD in said(stranger) and "in 4 seconds" in said(stranger)
    assert unlocked(type_code(teacher, CODE))  # the teacher's browser is held up by its own wrong codes only
    clock.now += 4
    assert unlocked(type_code(stranger, CODE))


def test_the_lock_button_locks_the_controls_again(class_mode, clock, monkeypatch):
    use_lockout(monkeypatch, clock, LOOSE_SERVER)
    at = type_code(page("browser-1"), CODE)
    assert unlocked(at) and at.session_state["teacher"]
    at.button(key="teacher_lock").click().run()
    assert not unlocked(at) and not at.session_state["teacher"]
    assert at.text_input(key=CODE_KEY).value == ""
    at.run()  # and it stays locked
    assert not unlocked(at)
    assert unlocked(type_code(at, CODE))


def test_wrong_codes_are_logged_with_the_browser_and_the_count_never_the_code(class_mode, clock, monkeypatch, caplog):
    use_lockout(monkeypatch, clock, LOOSE_SERVER)
    at = page("browser-1")
    with caplog.at_level(logging.INFO, logger="mnist_small.app"):
        for guess in ("secret-guess-1", "secret-guess-2"):
            type_code(at, guess)
        type_code(at, CODE)
    logged = [r.getMessage() for r in caplog.records if r.name == "mnist_small.app"]
    wrong = [line for line in logged if "wrong teacher code" in line]
    assert len(wrong) == 2 and "browser browser-1" in wrong[1] and "2 in a row" in wrong[1]
    assert all(r.levelno == logging.WARNING for r in caplog.records if "wrong teacher code" in r.getMessage())
    assert any("unlocked by browser browser-1" in line for line in logged)
    assert not any("secret-guess" in line or CODE in line for line in logged)


def test_the_real_app_shares_one_lockout_between_sessions(class_mode):
    """Not replaced: the app's own st.cache_resource Lockout is one for every session."""
    first, second = page("browser-1"), page("browser-2")
    from views.tabs import teacher

    teacher.lockout.clear()
    box = teacher.lockout()
    assert isinstance(box, Lockout) and teacher.lockout() is box
    type_code(first, "cat")
    type_code(second, "dog")
    assert box.attempt("someone", lambda: False).server_failures == 3
    teacher.lockout.clear()  # the next test's app starts afresh
