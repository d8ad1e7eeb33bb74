"""The class fine-tune's bookkeeping: who is held out, one job at a time, a killed job."""

from __future__ import annotations

import fcntl
import time

import pytest

from mnist_small.classroom.finetune import FinetuneError, held_out_students
from mnist_small.classroom.jobs import job_running, lock_path, read_status, start_job, write_status


def test_a_quarter_of_the_students_are_held_out_the_same_every_time():
    students = [f"s{i}" for i in range(8)] * 5
    held = held_out_students(students)
    assert len(held) == 2 and held == held_out_students(list(reversed(students)))
    assert held_out_students(["only"] * 30) == set()  # nobody to hold out: no honest before/after
    assert held_out_students(students, share=0.0) == set()


def test_one_job_at_a_time(tmp_path):
    lock = lock_path(tmp_path)
    lock.parent.mkdir(parents=True)
    with open(lock, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as a running job holds it
        assert job_running(tmp_path)
        with pytest.raises(FinetuneError, match="already running"):
            start_job("three_blocks_9.6k", "sqlite://", tmp_path, tmp_path)
    assert not job_running(tmp_path)


def test_a_killed_job_reads_as_failed_not_running_forever(tmp_path):
    write_status(
        tmp_path, {"state": "running", "model": "m", "result": "m+class", "step": 3, "steps": 9, "points": [], "started": time.time()}
    )
    status = read_status(tmp_path)  # nobody holds the lock: its process is gone
    assert status["state"] == "failed" and "killed" in status["message"]
    write_status(
        tmp_path, {"state": "starting", "model": "m", "result": "m+class", "step": 0, "steps": 9, "points": [], "started": time.time()}
    )
    assert read_status(tmp_path)["state"] == "starting"  # a job that is still starting up gets time


def test_the_job_gets_the_database_url_through_its_environment(tmp_path, monkeypatch):
    started = {}
    monkeypatch.setattr("subprocess.Popen", lambda command, env, **_: started.update(command=command, env=env))
    url = "postgresql+psycopg://teacher:s3cret@db.example/class"
    start_job("three_blocks_9.6k", url, tmp_path, tmp_path)
    assert not any("s3cret" in part for part in started["command"])  # the command line shows in `ps`
    assert started["env"]["MNIST_SMALL_DB"] == url


def test_a_link_planted_as_the_jobs_log_is_not_followed(tmp_path, monkeypatch):
    monkeypatch.setattr("subprocess.Popen", lambda *_, **__: None)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    log = lock_path(tmp_path).parent / "finetune.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.symlink_to(victim)
    with pytest.raises(FinetuneError, match="symbolic link"):
        start_job("three_blocks_9.6k", "sqlite://", tmp_path, tmp_path)
    assert victim.read_text() == "keep me"
