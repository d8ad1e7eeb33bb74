"""The class fine-tune's bookkeeping, through the database as app replicas share it: who is held
out, one job per class whichever replica starts it, a killed job, the fine-tuned models per class.
On SQLite and PostgreSQL (``db_url``); each ClassSet made here is its own engine, as another
replica's would be."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from mnist_small.checkpoints import load_checkpoint
from mnist_small.classroom.finetune import FinetuneError, held_out_students
from mnist_small.classroom.jobs import HEARTBEAT_ENV, KILLED, STALE_ENV, claim, fail, job_running, read_status, run_job, start_job
from mnist_small.classroom.tables import transaction
from mnist_small.classroom.tuned import class_models, class_zoo, model_stamps, save_model
from mnist_small.classset.store import DEFAULT_CLASS, ClassSet
from mnist_small.registry import CLASS

from .conftest import CHECKPOINTS, MNIST_DIR, ROOT, class_rows

SMALL = "three_blocks_9.6k"
OTHER = "depthwise_6.5k"


@pytest.fixture
def replicas(db_url):
    """Two ClassSets of class 7b on separate engines, as two app replicas hold them."""
    made = [ClassSet(db_url, "7b"), ClassSet(db_url, "7b")]
    yield made
    for store in made:
        store.dispose()


@pytest.fixture
def quick(monkeypatch):
    """Heartbeats every 0.2 s and a job silent for 1.5 s counts as gone, here and in the jobs this test starts."""
    monkeypatch.setenv(HEARTBEAT_ENV, "0.2")
    monkeypatch.setenv(STALE_ENV, "1.5")


def test_a_quarter_of_the_students_are_held_out_the_same_every_time():
    students = [f"s{i}" for i in range(8)] * 5
    held = held_out_students(students)
    assert len(held) == 2 and held == held_out_students(list(reversed(students)))
    assert held_out_students(["only"] * 30) == set()  # nobody to hold out: no honest before/after
    assert held_out_students(students, share=0.0) == set()


def test_one_job_per_class_whichever_replica_starts_it(replicas):
    first, second = replicas
    assert read_status(second) is None and not job_running(second)
    outcomes: list[str | Exception] = []
    barrier = threading.Barrier(4)

    def start(store: ClassSet, model: str) -> None:
        barrier.wait()  # all at once: the database, not the order, decides
        try:
            outcomes.append(claim(store, model, 10))
        except FinetuneError as err:
            outcomes.append(err)

    racers = [threading.Thread(target=start, args=(store, model)) for store in replicas for model in (SMALL, OTHER)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    won = [o for o in outcomes if isinstance(o, str)]
    assert len(won) == 1 and len(outcomes) == 4
    assert all("being taught already" in str(o) for o in outcomes if not isinstance(o, str))
    for store in replicas:  # either replica reads the one job
        status = read_status(store)
        assert status["state"] == "starting" and status["model"] in (SMALL, OTHER) and job_running(store)
    fail(first, won[0], "stopped by the test")
    assert read_status(second)["state"] == "failed" and read_status(second)["message"] == "stopped by the test"
    assert claim(second, SMALL, 10)  # a finished job frees the class


def test_two_classes_run_one_job_each(db_url):
    store = ClassSet(db_url, "7b")
    try:
        other = store.in_class("8a")
        assert claim(store, SMALL, 10) and claim(other, SMALL, 10)
        with pytest.raises(FinetuneError, match="being taught already"):
            claim(store, OTHER, 10)
        assert read_status(store.in_class(DEFAULT_CLASS)) is None  # the default class has no job
    finally:
        store.dispose()


def test_a_model_outside_the_zoo_is_refused_before_anything_is_claimed(replicas):
    with pytest.raises(FinetuneError, match="not a zoo model"):
        claim(replicas[0], "no_such_model", 10)
    assert read_status(replicas[1]) is None


def test_a_killed_job_reads_as_failed_from_another_process_and_frees_the_class(replicas, db_url, quick):
    """A process that claims class 7b and beats its heart as a job does, SIGKILLed: another
    replica reads it as running while it beats, as failed once it has been silent past the bound."""
    script = (
        "import sys, time\n"
        "from mnist_small.classroom.jobs import Heartbeat, claim, heartbeat_every\n"
        "from mnist_small.classset.store import ClassSet\n"
        f"store = ClassSet(sys.argv[1], '7b')\n"
        f"token = claim(store, {SMALL!r}, 10, state='running')\n"
        "Heartbeat(store, token, heartbeat_every()).start()\n"
        "print('claimed', flush=True)\n"
        "time.sleep(600)\n"
    )
    job = subprocess.Popen([sys.executable, "-c", script, db_url], cwd=ROOT, stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        assert job.stdout.readline().strip() == "claimed"
        time.sleep(2.5)  # longer than the bound: only the heartbeat keeps it running
        status = read_status(replicas[1])
        assert status["state"] == "running" and status["pid"] == job.pid and status["heard"] < 1.5
        with pytest.raises(FinetuneError, match="being taught already"):
            claim(replicas[1], OTHER, 10)
    finally:
        job.send_signal(signal.SIGKILL)
        job.wait()
        job.stdout.close()
    deadline = time.monotonic() + 10
    while (status := read_status(replicas[1]))["state"] == "running":
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
    assert status["state"] == "failed" and status["message"] == KILLED and status["heard"] > 1.5
    assert claim(replicas[1], OTHER, 10)  # the class may start another


def test_a_job_that_lost_its_claim_keeps_no_result(replicas, quick):
    first, second = replicas
    token = claim(first, SMALL, 10, state="running")
    time.sleep(1.7)  # silent past the bound (no heartbeat here): another replica takes the class
    taken = claim(second, OTHER, 10)
    fail(first, token, "too late")  # the stale job's writes change nothing
    status = read_status(second)
    assert status["model"] == OTHER and status["state"] == "starting" and taken


def test_the_database_url_goes_through_the_jobs_environment(db_url, tmp_path, monkeypatch):
    started = {}
    monkeypatch.setattr("subprocess.Popen", lambda command, env, **_: started.update(command=command, env=env))
    store = ClassSet(db_url, "7b")
    try:
        start_job(store, db_url, SMALL, tmp_path, tmp_path, steps=7)
        command = started["command"]
        assert started["env"]["MNIST_SMALL_DB"] == db_url and started["env"]["OMP_NUM_THREADS"] == "1"
        assert not any("://" in part for part in command)  # the command line shows in `ps`, a password with it
        assert command[command.index("--class") + 1] == "7b" and command[command.index("--steps") + 1] == "7"
        assert read_status(store)["state"] == "starting"
    finally:
        store.dispose()


def fake_tuned(code: str) -> tuple:
    """A zoo model stored as class ``code``'s fine-tune (its weights, under the +class name)."""
    import dataclasses

    base = load_checkpoint(SMALL, CHECKPOINTS)
    return base.model, dataclasses.replace(base.run, name=SMALL + CLASS, class_data={"drawings": 1, "code": code})


def test_a_classs_model_is_seen_by_every_replica_and_by_no_other_class(replicas):
    first, second = replicas
    assert class_models(second) == ({}, {}) and model_stamps(second) == ()
    with transaction(first) as connection:
        save_model(connection, first.code, *fake_tuned("7b"))
    (stamp,) = model_stamps(second)
    loaded, failed = class_models(second)
    assert not failed and list(loaded) == [SMALL + CLASS] and loaded[SMALL + CLASS].run.class_data["code"] == "7b"
    base = load_checkpoint(SMALL, CHECKPOINTS)
    assert all((loaded[SMALL + CLASS].model.state_dict()[k] == v).all() for k, v in base.model.state_dict().items())
    with transaction(first) as connection:  # taught again: the same name, a new stamp
        save_model(connection, first.code, *fake_tuned("7b"))
    assert model_stamps(second)[0][0] == stamp[0] and model_stamps(second)[0][1] != stamp[1]
    assert class_models(second.in_class("8a")) == ({}, {}) and class_models(second.in_class(DEFAULT_CLASS)) == ({}, {})


def test_class_zoo_keeps_a_folder_class_model_for_the_default_class_only():
    base, pen = load_checkpoint(SMALL, CHECKPOINTS), load_checkpoint(SMALL + "+pen", CHECKPOINTS)
    old, new = object(), object()  # a +class checkpoint in the folder, and the database's
    zoo = {SMALL: base, SMALL + CLASS: old, SMALL + "+pen": pen}
    assert list(class_zoo(zoo, {}, DEFAULT_CLASS)) == [SMALL, SMALL + CLASS, SMALL + "+pen"]
    assert class_zoo(zoo, {}, DEFAULT_CLASS)[SMALL + CLASS] is old
    assert class_zoo(zoo, {SMALL + CLASS: new}, DEFAULT_CLASS)[SMALL + CLASS] is new  # a fine-tune in the database replaces it
    assert list(class_zoo(zoo, {}, "7b")) == [SMALL, SMALL + "+pen"]
    assert class_zoo(zoo, {SMALL + "+pen" + CLASS: new}, "7b")[SMALL + "+pen" + CLASS] is new


def test_a_real_short_fine_tune_in_its_own_process_as_another_replica_sees_it(db_url, mnist, tmp_path, quick):
    """End to end: class 7b's drawings, the job started as the app starts it (its own process),
    its progress and result read through other engines; class 8a sees none of it."""
    store = ClassSet(db_url, "7b")
    folder = sorted(CHECKPOINTS.iterdir())
    try:
        store.import_rows(class_rows(mnist, 32, 4))
        start_job(store, db_url, SMALL, CHECKPOINTS, MNIST_DIR, steps=10)  # the shared MNIST folder: the job writes nothing there
        elsewhere = ClassSet(db_url, "7b")
        deadline, seen = time.monotonic() + 240, set()
        while (status := read_status(elsewhere))["state"] not in ("done", "failed"):
            seen.add(status["state"])
            assert time.monotonic() < deadline, status
            time.sleep(0.3)
        assert status["state"] == "done", status
        assert status["pid"] != os.getpid() and status["step"] == status["steps"] == 10 and status["points"]
        assert status["class_data"]["trained_on"] + status["class_data"]["held_out"] == 32 and "after" in status["class_data"]
        elsewhere.dispose()
        third = ClassSet(db_url, "7b")
        loaded, failed = class_models(third)
        assert not failed and list(loaded) == [SMALL + CLASS]
        assert loaded[SMALL + CLASS].run.class_data == status["class_data"] and len(loaded[SMALL + CLASS].run.history) == 5
        assert class_models(third.in_class("8a")) == ({}, {})
        assert sorted(CHECKPOINTS.iterdir()) == folder  # nothing written beside the zoo: other machines would not see it
        third.dispose()
    finally:
        store.dispose()


def test_run_job_claims_the_class_itself_from_the_command_line(db_url, quick, tmp_path):
    """Without the app's claim the command line claims the class; with a job of the class running it is refused."""
    store = ClassSet(db_url, "7b")
    try:
        claim(store, OTHER, 10, state="running")
        with pytest.raises(FinetuneError, match="being taught already"):
            run_job(SMALL, db_url, "7b", CHECKPOINTS, tmp_path, steps=10)
        with pytest.raises(FinetuneError, match="lost its claim"):
            run_job(SMALL, db_url, "7b", CHECKPOINTS, tmp_path, steps=10, token="not-the-claim")
        assert read_status(store)["model"] == OTHER
    finally:
        store.dispose()


def test_the_command_line_takes_a_class_after_its_action(db_url, mnist, tmp_path, capsys):
    from mnist_small.__main__ import main

    store = ClassSet(db_url, "7b")
    try:
        store.import_rows(class_rows(mnist, 6, 2))
        store.in_class("8a").import_rows(class_rows(mnist, 6, 2, prefix="t")[3:])
        assert main(["class", "--db", db_url, "export", str(tmp_path / "out"), "--class", "7B "]) == 0
        assert "exported 6 drawings of class 7b" in capsys.readouterr().out
        assert main(["class", "--db", db_url, "import", str(tmp_path / "out"), "--class", "9c"]) == 0
        assert [len(store.in_class(code).all()) for code in ("9c", "8a", DEFAULT_CLASS)] == [6, 3, 0]
        with pytest.raises(SystemExit, match=r"error: .*code"):
            main(["class", "--db", db_url, "export", str(tmp_path / "bad"), "--class", "no spaces"])
        claim(store.in_class("8a"), SMALL, 10)
        with pytest.raises(SystemExit, match="being taught already"):
            main(["class", "--db", db_url, "finetune", OTHER, "--class", "8a", "--steps", "10"])
    finally:
        store.dispose()
