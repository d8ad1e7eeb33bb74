"""Class: the class's own drawings as a test set, refreshed every few seconds. How many there
are, which model reads them best, the chosen model's confusions, the drawings most models
misread, and a gallery; below, the teacher's controls."""

from __future__ import annotations

import numpy as np
import streamlit as st

from mnist_small import plots
from mnist_small.classset.answers import Snapshot
from mnist_small.classset.leaderboard import confusion, hardest, leaderboard, misread_by, per_digit, per_student
from mnist_small.classset.store import ClassSetError

from ..classes import show_classes, show_join
from ..context import Context, guard, log
from ..resources import class_answers, class_set
from . import teacher

REFRESH = 3  # seconds between updates of the live view: new drawings appear without a click


def show(context: Context, url: str) -> None:
    with guard("join link"):
        show_join(context.class_code)
    live(context, url)
    st.divider()
    with guard("teacher controls"):
        teacher.show(context, url)
    if st.session_state.get("teacher"):
        with guard("classes"):
            show_classes(url)


@st.fragment(run_every=REFRESH)
def live(context: Context, url: str) -> None:
    try:
        kept = class_answers(url, context.checkpoints, context.class_code)
    except ClassSetError as err:
        log.warning("class set: %s", err)
        st.error("The class set cannot be reached right now (the server log says why). Drawing and every other tab still work.")
        return
    if not len(kept):
        st.info("No drawings yet. On the Draw tab, draw a digit, pick the digit you meant and press **Add to the class set**.")
        return
    with guard("class"):
        show_set(context, url, kept)


def plural(n: int, word: str) -> str:
    return word if n == 1 else word + "s"


def show_set(context: Context, url: str, kept: Snapshot) -> None:
    labels, flagged, predicted = kept.labels, kept.flagged, kept.answers
    students = per_student(kept.students, kept.student_names)
    st.markdown(
        f"**{len(kept)}** {plural(len(kept), 'drawing')} by **{len(students)}** {plural(len(students), 'student')}"
        + (f"; {int(flagged.sum())} flagged by the preprocessing (a dot, a scribble, two digits)" if flagged.any() else "")
    )
    left, right = st.columns([3, 2])
    left.plotly_chart(plots.digit_counts(per_digit(kept.labels), "Drawings per digit"), width="stretch", key="class_counts")
    right.dataframe(
        {"student": [f"student {i + 1}" for i in range(len(students))], "drawings": list(students.values())}, height=260, hide_index=True
    )

    st.subheader("Which model reads our handwriting best?")
    leave_out = st.toggle("Leave out flagged drawings", value=True, key="class_leave_out") if flagged.any() else False
    keep = ~flagged if leave_out else np.ones(len(kept), bool)
    rows = leaderboard(labels, predicted, keep)
    board, matrix = st.columns([1, 1], gap="large")
    board.dataframe(
        [{"model": r["model"], "accuracy": r["accuracy"], "right": f"{r['correct']} of {r['total']}"} for r in rows],
        column_config={"accuracy": st.column_config.ProgressColumn("accuracy (%)", min_value=0, max_value=100, format="%.1f")},
        hide_index=True,
        height=min(36 * (len(rows) + 1) + 2, 560),
    )
    if context.chosen in predicted:
        matrix.plotly_chart(
            plots.confusion_heatmap(confusion(labels[keep], predicted[context.chosen][keep]), f"{context.chosen}'s mistakes", height=480),
            width="stretch",
            key="class_confusion",
        )
    hard = hardest(labels, predicted)
    if hard:
        st.markdown(f"**Hard for the zoo:** the class's drawings that most of the {len(predicted)} models misread.")
        wrong = misread_by(labels, predicted)
        gallery(url, kept.ids[hard], [f"#{kept.ids[i]}: a {labels[i]}, {wrong[i]} wrong" for i in hard])
    show_gallery(context, url, kept)


def gallery(url: str, ids: np.ndarray, captions: list[str]) -> None:
    """The drawings ``ids``, their images read now (the kept answers hold none); one deleted meanwhile is left out."""
    images = class_set(url).images(ids)  # the page's class
    shown = [(images[int(i)], caption) for i, caption in zip(ids, captions, strict=True) if int(i) in images]
    if shown:
        st.image([np.kron(image, np.ones((3, 3))) for image, _ in shown], caption=[c for _, c in shown], width=72, clamp=True)


def show_gallery(context: Context, url: str, kept: Snapshot) -> None:
    st.subheader("Gallery")
    labels = kept.labels
    digit = st.segmented_control("Digit", [str(d) for d in range(10)], key="class_digit")
    misread_only = st.toggle(f"Only those {context.chosen} misreads", key="class_misread")
    shown = np.ones(len(kept), bool) if digit is None else labels == int(digit)
    guess = kept.answers.get(context.chosen)
    if misread_only and guess is not None:
        shown &= guess != labels
    picked = np.flatnonzero(shown)[::-1][:60]  # newest first
    if not len(picked):
        st.caption("No drawings match.")
        return
    captions = [f"#{kept.ids[i]}: {labels[i]}" + (f"→{guess[i]}" if guess is not None and guess[i] != labels[i] else "") for i in picked]
    gallery(url, kept.ids[picked], captions)
    st.caption(f"{len(picked)} of {int(shown.sum())}, newest first. Label, and → {context.chosen}'s answer where it is wrong.")
