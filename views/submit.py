"""On the Draw tab: a student keeps a drawing in the class set, with the digit they meant.

Stored: the canvas as a PNG, the 28x28 input, the label, the answers the page showed (the chosen
model's; every model's after the Compare tab), the preprocessing's flag, an anonymous per-browser id and the time. The student is told "Added"
only once the row is committed.
"""

from __future__ import annotations

import hashlib
import uuid

import numpy as np
import streamlit as st

from mnist_small.checkpoints import LoadedModel
from mnist_small.classset.store import ClassClosed, ClassSetError, TooSoon
from mnist_small.preprocess import Prepared, drawing_png
from mnist_small.summary import guesses

from .context import log
from .cookies import XSRF_COOKIE
from .predictions import kept_every_model
from .resources import class_set

DIGITS = [str(d) for d in range(10)]


def browser_id() -> str:
    """An anonymous id for this browser: a hash of the cookie Streamlit sets once per browser
    (so a reload or a second tab is the same student), else one per session."""
    cookie = st.context.cookies.get(XSRF_COOKIE)
    if isinstance(cookie, str) and cookie:  # hashed: the id cannot be turned back into the cookie
        return hashlib.sha256(b"mnist_small class set " + cookie.encode()).hexdigest()[:12]
    if "student" not in st.session_state:
        st.session_state.student = uuid.uuid4().hex[:12]
    return st.session_state.student


def add_to_class_set(url: str, canvas: np.ndarray, drawing: Prepared, models: dict[str, LoadedModel], shown: dict[str, np.ndarray]) -> None:
    """The button's callback: store the drawing (the canvas as draw.read_canvas checked it) with the
    answers this page computed for it: the chosen model's (``shown``), every model's if the Compare
    tab ran them. No model runs here: the Class view runs the others when it is open. The outcome is
    kept for the run that follows, which shows it."""
    label = st.session_state.get("class_label")
    if label is None:
        st.session_state.class_outcome = ("warning", "Pick the digit you meant first, then add the drawing.")
        return
    answers = guesses(kept_every_model(models, drawing) or shown)
    try:
        kept = class_set(url).add(drawing_png(canvas), drawing.image, int(label), browser_id(), answers, flag=drawing.flag)
    except (TooSoon, ClassClosed) as err:
        st.session_state.class_outcome = ("warning", f"Not added: {err}.")
        return
    except ClassSetError as err:
        log.warning("class set: %s", err)
        st.session_state.class_outcome = (
            "error",
            "Not added: the class set cannot be reached right now. Drawing still works; ask your teacher.",
        )
        return
    note = f" It is flagged ({kept.flag}), so the leaderboard leaves it out." if kept.flag else ""
    st.session_state.class_outcome = (
        "success",
        f"Added: your {kept.label} is drawing #{kept.id} of the class set.{note} Draw the next one!",
    )
    st.session_state.class_label = None
    st.session_state.canvas_version = st.session_state.get("canvas_version", 0) + 1  # a new, empty canvas


def show_outcome() -> None:
    """What became of the last "Add to the class set", once."""
    outcome = st.session_state.pop("class_outcome", None)
    if outcome is not None:
        kind, message = outcome
        getattr(st, kind)(message)


@st.fragment  # picking the digit and adding rerun these controls only, not the models and charts
def show(url: str, canvas: np.ndarray | None, drawing: Prepared, models: dict[str, LoadedModel], shown: dict[str, np.ndarray]) -> None:
    """The label picker and the button, only with a digit on the canvas."""
    outcome = st.session_state.get("class_outcome")
    if outcome is not None and outcome[0] == "success":
        st.rerun()  # the whole page: a new, empty canvas, and the message above it
    show_outcome()  # a refusal, beside the controls
    if canvas is None or not drawing.has_digit:
        return
    with st.container(border=True, key="class_submit", width=500):
        label = st.segmented_control("Which digit did you mean?", DIGITS, key="class_label", width="stretch")
        st.button(
            "Add to the class set",
            key="class_add",
            disabled=label is None,
            on_click=add_to_class_set,
            args=(url, canvas, drawing, models, shown),
            help="Keeps this drawing, with your label and the model's answer, for the Class tab. Nothing else about you is stored.",
            type="primary",
            width="stretch",
        )
