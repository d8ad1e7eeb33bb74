"""The class fine-tune as a job, coordinated through the class set's database so that any number
of app replicas, on any machines, agree: one job per class at a time (starting one claims the
class's row of ``finetune_jobs`` in one transaction), its progress and a heartbeat in that row,
readable from any process; a job whose heartbeat is older than a bound (its process was killed,
its machine went away) reads as failed, and its class may start another. The job runs in its own
process (``python -m mnist_small class finetune MODEL --class CODE``) on one CPU thread, so the
app keeps answering, and saves ``<model>+class`` into the database (``tuned``)."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import case, or_, select, update

from ..checkpoints import load_checkpoint
from ..classset.store import DIALECTS, ClassSet, ClassSetError
from ..data import load_mnist
from ..records import RunRecord
from ..registry import CLASS, REGISTRY
from ..settings import DB_ENV
from .finetune import STEPS, Config, FinetuneError, Progress, finetune
from .tables import db_now, jobs, transaction
from .tuned import save_model

log = logging.getLogger(__name__)

HEARTBEAT_ENV = "MNIST_SMALL_JOB_HEARTBEAT"
STALE_ENV = "MNIST_SMALL_JOB_STALE"
HEARTBEAT = 5.0  # seconds between a job's heartbeats, whatever its training is doing
STALE_AFTER = 30.0  # seconds without a heartbeat after which a running job counts as gone
START_GRACE = 60.0  # seconds a new job may take to start (import torch, read MNIST) before it counts as gone
ACTIVE = ("starting", "running")
KILLED = "the job stopped before it finished (was its process killed, or its machine stopped?); start it again"


def _seconds(env: str, default: float) -> float:
    """A bound from the environment (the tests shorten them), else ``default``."""
    try:
        value = float(os.environ.get(env) or default)
    except ValueError:
        return default
    return value if value > 0 else default


def heartbeat_every() -> float:
    return _seconds(HEARTBEAT_ENV, HEARTBEAT)


def stale_after() -> float:
    return _seconds(STALE_ENV, STALE_AFTER)


def _gone(now: Any, stale: float) -> Any:
    """SQL: the row's job has not been heard of for longer than its bound (a starting one gets more)."""
    return jobs.c.heartbeat < now - case((jobs.c.state == "starting", max(START_GRACE, stale)), else_=stale)


def claim(store: ClassSet, model: str, steps: int, state: str = "starting") -> str:
    """Claim the class's job row for a fine-tune of ``model``, in one transaction; returns the
    claim's token. Raises FinetuneError if a job of this class runs (on any replica) and is alive."""
    if model not in REGISTRY:
        raise FinetuneError(f"{model!r} is not a zoo model: pick one of {', '.join(REGISTRY)}")
    token = uuid.uuid4().hex
    with transaction(store) as connection:
        now = db_now(connection.dialect.name)
        # the class's row exists from its first job on; the conditional update below is then the claim:
        # PostgreSQL's row lock and SQLite's write lock let one of two concurrent claims see the other's
        empty = {"token": "", "state": "failed", "model": "", "step": 0, "steps": 0, "points": "[]", "started": 0.0, "heartbeat": 0.0}
        first = DIALECTS[connection.dialect.name].insert(jobs).values(code=store.code, **empty)
        connection.execute(first.on_conflict_do_nothing(index_elements=[jobs.c.code]))
        fresh = {"token": token, "state": state, "model": model, "step": 0, "steps": steps, "points": "[]"}
        fresh |= {"started": now, "heartbeat": now, "host": socket.gethostname(), "pid": os.getpid()}
        fresh |= {"message": None, "class_data": None, "seconds": None}
        free = or_(jobs.c.state.not_in(ACTIVE), _gone(now, stale_after()))
        if connection.execute(update(jobs).where(jobs.c.code == store.code, free).values(**fresh)).rowcount == 1:
            return token
        busy = connection.execute(select(jobs.c.model, jobs.c.step, jobs.c.steps).where(jobs.c.code == store.code)).one()
    raise FinetuneError(
        f"{busy.model} is being taught already (step {busy.step} of {busy.steps}): one fine-tune per class at a time, so the class keeps drawing"
    )


def _write(store: ClassSet, token: str, **values: Any) -> None:
    """Update the job's row if this job still holds it; FinetuneError if it does not (it was
    judged gone and another job took the class)."""
    with transaction(store) as connection:
        values = {"heartbeat": db_now(connection.dialect.name)} | values
        mine = update(jobs).where(jobs.c.code == store.code, jobs.c.token == token, jobs.c.state.in_(ACTIVE)).values(**values)
        if connection.execute(mine).rowcount != 1:
            raise FinetuneError("this job lost its claim (it was silent too long, and another job started): its result is not kept")


def start_job(store: ClassSet, url: str, model: str, checkpoints: Path, data_dir: Path, steps: int | None = None) -> str:
    """Claim the class and start its fine-tune in a new process on one CPU thread (``steps``
    default: STEPS); returns the claim's token. Raises FinetuneError if one of the class runs."""
    steps = steps or STEPS
    token = claim(store, model, steps)
    command = [sys.executable, "-m", "mnist_small", "--checkpoints", str(checkpoints), "class", "--data", str(data_dir)]
    command += ["finetune", model, "--class", store.code, "--steps", str(steps), "--job", token]
    # the URL through the environment, not the command line: its password would show in `ps`
    env = {**os.environ, DB_ENV: url, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    try:  # its output joins the server's log: the job may run on any replica, and the data folder may be read-only
        subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, start_new_session=True)
    except OSError as err:
        fail(store, token, f"the job's process could not start: {err}")
        raise FinetuneError(f"the job's process could not start: {err}") from err
    return token


def fail(store: ClassSet, token: str, message: str) -> None:
    """Mark the job failed with ``message``, if it still holds the class."""
    try:
        _write(store, token, state="failed", message=message)
    except (FinetuneError, ClassSetError) as err:
        log.warning("class %s: could not record the job's failure (%s): %s", store.code, message, err)


def read_status(store: ClassSet) -> dict[str, Any] | None:
    """The class's last job, or None if it never had one: its state, model, result, step, steps,
    points, and once done its class figures and seconds, or once failed its message. A job that
    says it runs but has not been heard of within the bound reads as failed."""
    with transaction(store) as connection:
        row = connection.execute(select(jobs, db_now(connection.dialect.name).label("now")).where(jobs.c.code == store.code)).first()
    if row is None or not row.model:
        return None
    status = {
        "state": row.state,
        "model": row.model,
        "result": row.model + CLASS,
        "step": row.step,
        "steps": row.steps,
        "points": json.loads(row.points),
        "started": row.started,
        "heard": float(row.now) - row.heartbeat,  # seconds since its last heartbeat
        "host": row.host,
        "pid": row.pid,
    }
    bound = max(START_GRACE, stale_after()) if row.state == "starting" else stale_after()
    if row.state in ACTIVE and status["heard"] > bound:
        status.update(state="failed", message=KILLED)
    elif row.state == "failed":
        status["message"] = row.message or "see the server log"
    if row.state == "done":
        status.update(class_data=json.loads(row.class_data), seconds=row.seconds)
    return status


def job_running(store: ClassSet) -> bool:
    """True while a fine-tune of the class runs somewhere and has been heard of recently."""
    status = read_status(store)
    return status is not None and status["state"] in ACTIVE


class Heartbeat(threading.Thread):
    """Writes the job's heartbeat every few seconds, whatever the training does (one round's
    evaluation on MNIST's 10,000 test digits takes a while); notices when the job lost its claim."""

    def __init__(self, store: ClassSet, token: str, every: float) -> None:
        super().__init__(name="finetune-heartbeat", daemon=True)
        self.store, self.token, self.every = store, token, every
        self.stopped = threading.Event()
        self.lost: FinetuneError | None = None

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            try:
                _write(self.store, self.token)
            except FinetuneError as err:
                self.lost = err
                return
            except ClassSetError as err:  # the database away for a moment: the next beat may reach it
                log.warning("class %s: heartbeat not written: %s", self.store.code, err)

    def stop(self) -> None:
        self.stopped.set()
        self.join()


def run_job(model: str, url: str, code: str, checkpoints: Path, data_dir: Path, steps: int = STEPS, token: str | None = None) -> RunRecord:
    """The job's body (``mnist-small class finetune``, on one thread): fine-tune ``model`` on
    class ``code``'s drawings and keep ``<model>+class`` in the database, the job's row current
    all along, also when it fails. ``token``: the claim ``start_job`` made; without one (the
    command line) the job claims the class itself."""
    store = ClassSet(url, code)
    try:
        if token is None:
            token = claim(store, model, steps, state="running")
        else:  # the app claimed the class for this process: take it over, if it is still ours
            _write(store, token, state="running", host=socket.gethostname(), pid=os.getpid())
        heartbeat = Heartbeat(store, token, heartbeat_every())
        heartbeat.start()
        try:
            return _teach(store, token, model, checkpoints, data_dir, steps, heartbeat)
        except Exception as err:
            fail(store, token, str(err))
            raise
        finally:
            heartbeat.stop()
    finally:
        store.dispose()


def _teach(store: ClassSet, token: str, model: str, checkpoints: Path, data_dir: Path, steps: int, heartbeat: Heartbeat) -> RunRecord:
    started = time.monotonic()
    base = load_checkpoint(model, checkpoints)
    drawings = store.all()
    try:
        mnist = load_mnist(data_dir, allow_download=False)
    except Exception as err:
        raise FinetuneError(f"MNIST is needed, so the model does not forget it while it learns the class's digits: {err}") from err
    points: list[dict[str, Any]] = []

    def report(p: Progress) -> None:
        if heartbeat.lost is not None:
            raise heartbeat.lost  # another job has the class now: stop spending the CPU
        points.append(dataclasses.asdict(p) | {"seconds": round(time.monotonic() - started, 1)})
        _write(store, token, step=p.step, steps=p.steps, points=json.dumps(points))

    tuned, run = finetune(base, drawings, mnist, Config(steps=steps), report=report)
    with transaction(store) as connection:  # the model and "done" in one transaction: every replica sees both or neither
        done = {"state": "done", "class_data": json.dumps(run.class_data), "seconds": round(time.monotonic() - started, 1)}
        mine = update(jobs).where(jobs.c.code == store.code, jobs.c.token == token, jobs.c.state.in_(ACTIVE))
        if connection.execute(mine.values(heartbeat=db_now(connection.dialect.name), **done)).rowcount != 1:
            raise FinetuneError("this job lost its claim (it was silent too long, and another job started): its result is not kept")
        save_model(connection, store.code, tuned, run)
    return run
