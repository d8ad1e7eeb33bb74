"""The teacher's controls on the Class tab: delete a drawing, clear the set, export it, and teach
a model the class's handwriting. Locked by the teacher code; students never see them. Wrong codes
make the next ones wait (mnist_small.classroom.lockout), per browser and for the whole server."""

from __future__ import annotations

import hashlib
import hmac
import io
import math
import os
import tempfile
import zipfile
from pathlib import Path

import streamlit as st

from mnist_small import plots
from mnist_small.classroom.finetune import FinetuneError
from mnist_small.classroom.jobs import ACTIVE, read_status, start_job
from mnist_small.classroom.lockout import Attempt, Lockout
from mnist_small.classset.folder import export_set
from mnist_small.classset.store import DEFAULT_CLASS, ClassSet, ClassSetError
from mnist_small.registry import REGISTRY
from mnist_small.settings import TEACHER_CODE_ENV
from mnist_small.summary import TRAINED_ON, architecture, variant

from ..context import Context, log
from ..resources import class_set, fresh_class_models
from ..submit import browser_id

CODE_KEY = "teacher_code_entered"


def teacher_code() -> str | None:
    """``$MNIST_SMALL_TEACHER_CODE``, else ``teacher_code`` in Streamlit's secrets; None if neither is set."""
    if os.environ.get(TEACHER_CODE_ENV):
        return os.environ[TEACHER_CODE_ENV]
    try:
        return str(st.secrets["teacher_code"]) if "teacher_code" in st.secrets else None
    except (FileNotFoundError, KeyError, OSError):  # no secrets file at all
        return None


@st.cache_resource
def lockout() -> Lockout:
    """One for the whole server: every session's wrong codes count together."""
    return Lockout()


def same(entered: str, code: str) -> bool:
    """Compared in constant time, the length too: both are hashed to 32 bytes first."""
    return hmac.compare_digest(hashlib.sha256(entered.encode()).digest(), hashlib.sha256(code.encode()).digest())


def try_code() -> None:
    """The code field's callback: compare what was typed unless this browser has to wait, and
    empty the field, so the code stays nowhere and typing it again is a new attempt."""
    entered, code = st.session_state.get(CODE_KEY) or "", teacher_code()
    st.session_state[CODE_KEY] = ""
    if not entered or code is None:
        return
    who = browser_id()
    attempt = lockout().attempt(who, lambda: same(entered, code))
    if attempt.ok:
        st.session_state.teacher = True
        log.info("teacher controls unlocked by browser %s", who)
    elif attempt.compared:  # never the code typed: a near miss in the log would help the next guess
        log.warning(
            "wrong teacher code from browser %s: %d in a row from it, %d on the server; its next code is checked in %.0f s",
            who,
            attempt.failures,
            attempt.server_failures,
            attempt.wait,
        )
    st.session_state.teacher_attempt = attempt


def lock() -> None:
    st.session_state.teacher = False
    log.info("teacher controls locked by browser %s", browser_id())


def seconds(wait: float) -> str:
    n = math.ceil(wait)
    return f"{n} second" if n == 1 else f"{n} seconds"


def tell(attempt: Attempt) -> None:
    if not attempt.compared:
        st.warning(f"Too many wrong codes: this one was not checked. Type the code again in {seconds(attempt.wait)}.")
    elif not attempt.ok:
        st.warning("That is not the teacher code." + (f" The next one is checked in {seconds(attempt.wait)}." if attempt.wait > 0 else ""))


def show(context: Context, url: str, class_code: str | None = None) -> None:
    """The teacher's controls for class ``class_code`` (default: the page's, ``context.class_code``) of the class set at ``url``."""
    class_code = context.class_code if class_code is None else class_code
    st.subheader("Teacher")
    code = teacher_code()
    if code is None:
        st.info(
            "Teacher controls (delete a drawing, clear the set, export it, teach a model the class's handwriting) are off. "
            f'Turn them on with a teacher code: start the app with `{TEACHER_CODE_ENV}=...` set, or put `teacher_code = "..."` '
            "in `.streamlit/secrets.toml`."
        )
        return
    if not st.session_state.get("teacher"):
        st.text_input("Teacher code", type="password", key=CODE_KEY, on_change=try_code)
        if (attempt := st.session_state.pop("teacher_attempt", None)) is not None:
            tell(attempt)
        return
    st.button(
        "Lock the teacher controls",
        key="teacher_lock",
        on_click=lock,
        icon=":material/lock:",
        help="Before leaving the projector: the code is needed again in this tab.",
    )
    try:
        controls(context, url, class_code)
    except ClassSetError as err:
        log.warning("class set: %s", err)
        st.error("The class set cannot be reached right now (the server log says why). Drawing and the other tabs still work.")


def export_zip(url: str, code: str = DEFAULT_CLASS) -> bytes:
    """The class's drawings as ``python -m mnist_small class export`` writes them, in one ZIP."""
    with tempfile.TemporaryDirectory() as folder:
        export_set(class_set(url, code), folder)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(Path(folder).rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(folder))
        return buffer.getvalue()


def controls(context: Context, url: str, code: str = DEFAULT_CLASS) -> None:
    store = class_set(url, code)
    left, middle, right = st.columns(3)
    with left:
        drawing_id = st.number_input("Drawing #", min_value=1, step=1, key="teacher_delete_id")
        if st.button("Delete this drawing", key="teacher_delete"):
            st.toast(f"Deleted drawing #{drawing_id}." if store.delete(int(drawing_id)) else f"There is no drawing #{drawing_id}.")
    with middle:
        sure = st.checkbox("Yes, remove every drawing", key="teacher_clear_sure")
        if st.button("Clear the class set", key="teacher_clear", disabled=not sure):
            st.toast(f"Removed {store.clear()} drawings.")
    with right:
        st.download_button(
            "Export (ZIP)",
            lambda: export_zip(url, code),
            file_name="class-set.zip" if code == DEFAULT_CLASS else f"class-{code}.zip",
            mime="application/zip",
            on_click="ignore",
            help="labels.csv, the PNGs and inputs.npz: train.py --class-set can train on it; mnist-small class import loads it elsewhere.",
        )
    st.markdown("**Teach a model our handwriting.** It learns from the class's drawings, with MNIST mixed in so it does not forget.")
    zoo = [name for name in context.models if name in REGISTRY]
    base = st.selectbox("Model to teach", zoo, index=zoo.index(context.chosen) if context.chosen in zoo else 0, key="teacher_model")
    status = read_status(store)  # of this class's job, wherever it runs: any replica may have started it
    running = status is not None and status["state"] in ACTIVE
    if st.button("Start teaching", key="teacher_start", disabled=running, type="primary"):
        try:
            start_job(store, url, base, context.checkpoints, context.data_dir)
        except FinetuneError as err:  # one of this class runs already (started elsewhere meanwhile), or no process
            st.warning(f"Teaching could not start: {err}")
        status = read_status(store)
    active = status is not None and status["state"] in ACTIVE
    st.fragment(job, run_every=1 if active else None)(store, active)  # polls only while a job runs


def job(store: ClassSet, polling: bool) -> None:
    """The class's last fine-tune: progress and curves while it runs, its before/after when done."""
    try:
        status = read_status(store)
    except ClassSetError as err:  # this fragment reruns on its own, outside the controls' guard
        log.warning("class %s: the fine-tune's status cannot be read: %s", store.code, err)
        st.warning("The fine-tune's progress cannot be read right now; it is checked again in a moment.")
        return
    if status is None:
        return
    result, state = status["result"], status["state"]
    if polling and state in ("done", "failed"):
        fresh_class_models()  # not the stamp read a moment ago: the new model is there now
        st.rerun()  # the whole page: the new model joins the zoo, and the polling stops
    if state in ACTIVE:
        st.progress(
            status["step"] / max(status["steps"], 1), text=f"Teaching {status['model']}: step {status['step']} of {status['steps']}"
        )
    elif state == "failed":
        st.error(f"Teaching {status['model']} failed: {status.get('message', 'see the server log')}")
    if status.get("points"):
        st.plotly_chart(plots.finetune_curves(status["points"]), width="stretch", key="finetune_curves")
    if state == "done":
        data = status["class_data"]
        before, after = data["before"], data["after"]

        def held_out(figures: dict) -> str:
            return "-" if figures["class_acc"] is None else f"{figures['class_acc']:.1f}%"

        st.success(
            f"**{result}** joined the zoo (in {status['seconds']:.0f} s): pick {architecture(result)} and *{TRAINED_ON[variant(result)]}* in the sidebar. "
            f"On the {data['held_out']} drawings of {data['held_out_students']} students it never saw: "
            f"{held_out(before)} → {held_out(after)}. MNIST test: {before['mnist_acc']:.2f}% → {after['mnist_acc']:.2f}%. "
            f"It trained on {data['trained_on']} drawings."
        )
        if before["class_acc"] is None:
            st.caption("With drawings from one student only, none could be held out: the before/after needs two students or more.")
