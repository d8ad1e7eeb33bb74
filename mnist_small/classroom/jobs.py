"""The class fine-tune as a job: one at a time (a lock file its process holds), in its own process
(``python -m mnist_small class finetune``) on one CPU thread so the app keeps answering, its
progress in a JSON status file the Class view polls; a killed job reads as failed."""

from __future__ import annotations

import dataclasses
import errno
import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from ..checkpoints import atomic_write, load_checkpoint, save_checkpoint
from ..classset.store import ClassSet
from ..data import load_mnist
from ..records import RunRecord
from ..registry import CLASS, REGISTRY
from ..settings import DB_ENV
from .finetune import STEPS, Config, FinetuneError, Progress, finetune


def status_path(data_dir: Path) -> Path:
    return Path(data_dir) / "class" / "finetune.json"


def lock_path(data_dir: Path) -> Path:
    """Held by the running job's process for as long as it runs."""
    return status_path(data_dir).with_suffix(".lock")


def new_status(state: str, model: str, steps: int) -> dict[str, Any]:
    """A job's status before its first step."""
    return {"state": state, "model": model, "result": model + CLASS, "step": 0, "steps": steps, "points": [], "started": time.time()}


START_GRACE = 60  # seconds a new job may take to start (import torch, read MNIST) before it counts as gone


def read_status(data_dir: Path) -> dict[str, Any] | None:
    """The last job's status, or None if there was none (a half-written file cannot be: writes
    are atomic). A job that says it runs but holds no lock was killed: it reads as failed."""
    try:
        status = json.loads(status_path(data_dir).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    starting_for = time.time() - status.get("started", 0)
    gone = status["state"] == "running" or (status["state"] == "starting" and starting_for > START_GRACE)
    if gone and not job_running(data_dir):
        status.update(state="failed", message="the job stopped before it finished (was its process killed?); start it again")
    return status


def write_status(data_dir: Path, status: dict[str, Any]) -> None:
    text = json.dumps(status)
    atomic_write(status_path(data_dir), lambda p: p.write_text(text))


def job_running(data_dir: Path) -> bool:
    """True while a fine-tune holds the lock (a killed job releases it with its process)."""
    lock = lock_path(data_dir)
    if not lock.exists():
        return False
    with open_no_follow(lock, os.O_WRONLY | os.O_CREAT) as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
    return False


def start_job(model: str, db_url: str, checkpoints: Path, data_dir: Path, steps: int | None = None) -> None:
    """Start a fine-tune in a new process on one CPU thread (``steps`` default: STEPS); raises
    FinetuneError if one is running."""
    steps = steps or STEPS
    if job_running(data_dir):
        raise FinetuneError("a fine-tune is already running: one at a time, so the class keeps drawing")
    write_status(data_dir, new_status("starting", model, steps))
    command = [sys.executable, "-m", "mnist_small", "--checkpoints", str(checkpoints), "class", "--data", str(data_dir)]
    command += ["finetune", model, "--steps", str(steps)]
    # the URL through the environment, not the command line: its password would show in `ps`
    env = {**os.environ, DB_ENV: db_url, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    with open_no_follow(status_path(data_dir).with_suffix(".log"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC) as out:
        subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def open_no_follow(path: Path, flags: int) -> IO[bytes]:
    """A file of the job's (log, lock) opened without following a link planted in its place."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW, 0o644)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise FinetuneError(f"{path} is a symbolic link: remove it, the job writes only its own files") from None
        raise
    return os.fdopen(fd, "wb" if flags & os.O_WRONLY else "rb")


def run_job(model: str, db_url: str, checkpoints: Path, data_dir: Path, steps: int = STEPS) -> RunRecord:
    """The job's body (``mnist-small class finetune``, on one thread): fine-tune ``model`` on the
    class set, save ``<model>+class``, and keep the status file current, also when it fails."""
    lock_file = lock_path(data_dir)
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    lock = open_no_follow(lock_file, os.O_WRONLY | os.O_CREAT)  # held for the whole job, released when the process ends
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise FinetuneError("a fine-tune is already running: one at a time") from None
    status = new_status("running", model, steps) | {"pid": os.getpid()}
    write_status(data_dir, status)
    try:
        if model not in REGISTRY:
            raise FinetuneError(f"{model!r} is not a zoo model: pick one of {', '.join(REGISTRY)}")
        base = load_checkpoint(model, checkpoints)
        store = ClassSet(db_url)
        drawings = store.all()
        store.dispose()
        try:
            mnist = load_mnist(data_dir, allow_download=False)
        except Exception as err:
            raise FinetuneError(f"MNIST is needed, so the model does not forget it while it learns the class's digits: {err}") from err

        def report(p: Progress) -> None:
            status.update(step=p.step, steps=p.steps)
            status["points"].append(dataclasses.asdict(p) | {"seconds": round(time.time() - status["started"], 1)})
            write_status(data_dir, status)

        tuned, run = finetune(base, drawings, mnist, Config(steps=steps), report=report)
        save_checkpoint(tuned, run, checkpoints)
        status.update(state="done", class_data=run.class_data, seconds=round(time.time() - status["started"], 1))
        write_status(data_dir, status)
        return run
    except Exception as err:
        status.update(state="failed", message=str(err))
        write_status(data_dir, status)
        raise
    finally:
        lock.close()
