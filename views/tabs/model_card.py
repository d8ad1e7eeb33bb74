"""Model card: the chosen model's size, accuracy, layers and recipe, and training digits
jittered the way its recipe jittered them."""

from __future__ import annotations

import streamlit as st

from mnist_small import plots
from mnist_small.cards import training_augment
from mnist_small.data import augmentation_examples
from mnist_small.handwriting.pen import VALIDATION_WRITERS
from mnist_small.summary import percent

from ..context import Context, guard
from ..resources import card_of, mnist_on_disk, where_to_put_mnist

CREDIT = (
    'Pen digits: E. Alpaydin and F. Alimoglu, "Pen-Based Recognition of Handwritten Digits", UCI Machine Learning '
    "Repository, [doi:10.24432/C5MG6K](https://doi.org/10.24432/C5MG6K), CC BY 4.0."
)


def pen_note(card: dict) -> str:
    """Where the real-handwriting figure comes from, and for a +pen model what it trained on, with the credit."""
    writers = ", ".join(map(str, VALIDATION_WRITERS))
    note = f"**Real handwriting**: the pen-written digits of writers {writers} of UCI pendigits, whom no model trained on."
    if card["pen_acc"] is None:
        note += " Not measured for this model yet (`mnist-small evaluate --pen --record`)."
    data = card["pen_data"]
    if data:
        note += (
            f"  \n**Fine-tuned from** `{card['fine_tuned_from'] or '?'}` with MNIST and {data.get('train_digits', 0):,} pen digits "
            f"of {len(data.get('train_writers', ()))} other writers (each drawn {data.get('renders', 1)} ways as on the canvas).  \n{CREDIT}"
        )
    return note


def published_note(compared: dict | None) -> str:
    """The write-up's own best and final test accuracy beside ours; empty for a model no write-up trained."""
    if compared is None:
        return ""
    return (
        f"**The write-up's own run** (`{compared['source']}`): best {percent(compared['published_best'])} at epoch "
        f"{compared['published_best_epoch']}, final {percent(compared['published_final'])} (epoch "
        f"{compared['published_final_epoch']}); ours final {percent(compared['ours_final'])}, "
        f"{compared['difference']:+.2f} points."
    )


@st.fragment  # "New random draw" reruns this view only, not the page
def show(context: Context) -> None:
    with guard("model card"):
        card = card_of(context.chosen, context.checkpoints, context.class_db, context.class_code)
        st.subheader(context.chosen)
        st.write(card["description"])
        figures = st.container(horizontal=True, gap="medium")  # wraps on a narrow screen instead of cutting the numbers
        writers = ", ".join(map(str, VALIDATION_WRITERS))
        figures.metric("reads real handwriting", percent(card["pen_acc"]), help=f"pen digits of writers {writers}", width="content")
        figures.metric("drawn MNIST", percent(card["drawn_acc"]), help="MNIST's test digits re-drawn as on the canvas", width="content")
        figures.metric(
            "MNIST test accuracy",
            percent(card["final_acc"]),
            help=f"best {card['best_acc']:.2f}% at epoch {card['best_epoch']}",
            width="content",
        )
        figures.metric("parameters", f"{card['params']:,}", width="content")
        figures.metric("MACs per image", f"{card['macs'] / 1e6:.2f} M", width="content")
        figures.metric("weights", f"{card['weights_kb']:.1f} KB", width="content")
        st.markdown(pen_note(card))
        if card.get("published"):
            st.markdown(published_note(card["published"]))

        augment = training_augment(context.models[context.chosen])
        heading = st.container(horizontal=True, vertical_alignment="center")
        heading.markdown(f"**Training digits as {context.chosen} saw them**: {augment.describe()}", width="content")
        mnist = mnist_on_disk(context.data_dir)
        if mnist is None:
            st.info(where_to_put_mnist(context.data_dir, "them"))
        else:
            if heading.button("New random draw", key="redraw"):
                st.session_state.augment_draw = st.session_state.get("augment_draw", 0) + 1
            examples = augmentation_examples(mnist, augment, draws=2, seed=st.session_state.get("augment_draw", 0))
            st.image(plots.digit_strips(examples), caption=[str(d) for d in range(10)], width=64)
            st.caption(
                "Top: the first training image of each digit. Below it: two random draws of the jitter this model's "
                "recipe applies to every batch; each epoch it sees all 60,000 digits jittered anew."
                + (" Its batches also hold the pen writers' digits (not shown here)." if card["pen_data"] else "")
            )

        layers_column, run_column = st.columns([1.2, 1])
        layers_column.dataframe(card["layers"], hide_index=True, width="stretch", height=min(36 * len(card["layers"]) + 38, 700))
        run_column.markdown(
            f"**{'Fine-tuned' if card['fine_tuned_from'] else 'Trained'}** {card['epochs']} epochs in {card['train_seconds']:.0f} s  \n**Source write-up** `{card['source']}`"
        )
        run_column.json(card["recipe"], expanded=1)  # the notes and the augmentation open on a click
