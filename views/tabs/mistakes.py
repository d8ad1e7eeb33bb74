"""Errors on MNIST: the chosen model's test-set mistakes, one confusion at a time, and the test
digits that fool most of the zoo."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from mnist_small import plots
from mnist_small.cards import misclassified, stored_confusion
from mnist_small.data import MNIST
from mnist_small.records import Misread
from mnist_small.summary import fooled, hardest_digits, mistake_pairs, mistakes_of

from ..context import Context, guard
from ..resources import mnist_on_disk, where_to_put_mnist


def show_test_digits(mnist: MNIST, indices: list[int], captions: list[str]) -> None:
    """MNIST test digits in rows that wrap to the screen's width (a tablet gets fewer per row),
    each with its caption; enlarged 3x here so the browser does not blur the pixels."""
    images = mnist.test_images[indices, 0].repeat_interleave(3, 1).repeat_interleave(3, 2).numpy()
    st.image(list(images), caption=captions, width=64)


@st.fragment  # the mistakes filter reruns this view only, not the page
def show(context: Context) -> None:
    with guard("errors"):
        wrong = misclassified(context.models[context.chosen])
        st.markdown(f"**{context.chosen}** misclassifies **{len(wrong)}** of the 10,000 MNIST test images.")
        st.plotly_chart(
            plots.confusion_heatmap(stored_confusion(context.models[context.chosen]), "Test-set confusion matrix (mistakes only)"),
            width="stretch",
            key="confusion",
        )
        mnist = mnist_on_disk(context.data_dir)
        if mnist is None:
            st.info(where_to_put_mnist(context.data_dir, "the misclassified digits themselves"))
        elif wrong:
            show_one_confusion(mnist, wrong, context.chosen)
        st.divider()
        show_hardest(mnist, context)


def show_one_confusion(mnist: MNIST, wrong: Sequence[Misread], chosen: str) -> None:
    """The chosen model's mistakes, all or one confusion (say 4 read as 9) picked in a filter."""
    pairs = {f"{true} read as {predicted} ({n})": (true, predicted) for true, predicted, n in mistake_pairs(wrong)}
    everything = f"all {len(wrong)} mistakes"
    picked = st.selectbox("Show", [everything, *pairs], key=f"mistakes-{chosen}", width=320)  # a key per model: its own confusions
    listed = mistakes_of(wrong, None if picked == everything else pairs[picked])
    first = listed[:48]
    show_test_digits(mnist, [m.index for m in first], [f"{m.label}→{m.predicted}" for m in first])
    st.caption(f"True → predicted label; {len(first)} of {len(listed)}.")


def show_hardest(mnist: MNIST | None, context: Context) -> None:
    """The test digits most of the zoo gets wrong, with the most common wrong answer."""
    hard = hardest_digits({name: misclassified(loaded) for name, loaded in context.models.items()})
    zoo_size = len(context.models)
    fool_most, fool_all = fooled(hard, zoo_size)
    st.markdown(
        f"**Hard for the whole zoo.** {len(hard)} test digits fool at least one of the {zoo_size} models, "
        f"{fool_most} fool most of them and {fool_all} fool every one."
    )
    if mnist is not None and hard:
        hardest = hard[:24]
        show_test_digits(mnist, [h.index for h in hardest], [f"{h.label}→{h.common_answer} ({len(h.answers)})" for h in hardest])
        st.caption(
            f"The {len(hardest)} that most models get wrong. True label → the most common wrong answer (how many of the "
            f"{zoo_size} models answer wrong). Can the class read them?"
        )
