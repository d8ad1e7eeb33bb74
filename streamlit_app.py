"""mnist_small in the browser: draw a digit and watch compact CNNs react.

    streamlit run streamlit_app.py

Layout and widgets only; every computation lives in the ``mnist_small`` package.
Settings: MNIST_SMALL_CHECKPOINTS (default ./checkpoints) and MNIST_SMALL_DATA (default
./data, a folder with MNIST/raw/ for the gallery of misclassified test digits).
"""

from __future__ import annotations

import io
import logging
import os
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image
from streamlit_drawable_canvas import st_canvas

from mnist_small import plots
from mnist_small.checkpoints import load_all
from mnist_small.data import MNIST, DataError, augmentation_examples, load_mnist
from mnist_small.inference import all_probabilities, feature_maps, occlusion
from mnist_small.preprocess import NO_DIGIT, Prepared, drawing_png, prepare
from mnist_small.registry import Recipe
from mnist_small.summary import hardest_digits, layer_table, mistake_pairs, model_card, overview_rows

HERE = Path(__file__).resolve().parent
CHECKPOINTS = Path(os.environ.get("MNIST_SMALL_CHECKPOINTS", HERE / "checkpoints"))
DATA_DIR = Path(os.environ.get("MNIST_SMALL_DATA", HERE / "data"))
CANVAS = 280
LARGE_GAP = 64  # px between the items of a container with gap="large"
ANSWER_MIN_WIDTH = 200  # px: ten readable bars; beside the canvas on a 1024 px projector with the sidebar open
log = logging.getLogger("mnist_small.app")

st.set_page_config(page_title="mnist_small: draw a digit", page_icon="✏️", layout="wide")


@contextmanager
def guard(view: str):
    """Keep one failing view from taking the page down; the traceback goes to the server log."""
    try:
        yield
    except Exception:
        log.exception("view %r failed", view)
        st.error(f"The {view} view hit an unexpected error (details are in the server log). The other views still work.")


# Cached per folder (passed explicitly: the cache keys on the arguments), so models load
# once per process and tests can point the app at other folders.
@st.cache_resource(show_spinner="Loading models…")
def zoo(folder: Path) -> tuple[dict, dict]:
    return load_all(folder)


@st.cache_data
def card(name: str, folder: Path) -> dict:
    return model_card(zoo(folder)[0][name])


@st.cache_data
def overview(folder: Path) -> list[dict]:
    return overview_rows(zoo(folder)[0])


@st.cache_resource(show_spinner="Reading MNIST…")
def mnist_on_disk(folder: Path) -> MNIST | None:
    try:
        return load_mnist(folder, allow_download=False)
    except DataError as err:
        log.info("no MNIST on disk: %s", err)
        return None


def where_to_put_mnist(what: str) -> str:
    return (
        f"To see {what}, put MNIST in `{DATA_DIR}/MNIST/raw/` (for example `python -m mnist_small evaluate` "
        "downloads it there) or set MNIST_SMALL_DATA to a folder that has it."
    )


def show_test_digits(mnist: MNIST, indices: list[int], captions: list[str]) -> None:
    """MNIST test digits in rows that wrap to the screen's width (a tablet gets fewer per row),
    each with its caption; enlarged 3x here so the browser does not blur the pixels."""
    images = mnist.test_images[indices, 0].repeat_interleave(3, 1).repeat_interleave(3, 2).numpy()
    st.image(list(images), caption=captions, width=64)


def read_drawing(image: np.ndarray | None) -> Prepared:
    """The canvas as model input; a drawing that cannot be read is reported, not raised."""
    if image is None:
        return Prepared(None, message=NO_DIGIT)
    try:
        return prepare(image)
    except Exception:
        log.exception("could not read the canvas image")
        return Prepared(None, message="That drawing could not be read: clear the canvas and draw again.")


@st.cache_data(max_entries=16, show_spinner="Reading the picture…")
def read_upload(data: bytes, name: str) -> Prepared:
    """An uploaded picture as model input, prepared once (every click reruns the script, and a
    phone photo takes ~0.5 s); a file that is not an image is reported, not raised."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return prepare(image)
    except Exception as err:
        log.info("could not read the uploaded file %r: %s", name, err)
        return Prepared(None, message=f"{name} could not be read as an image: upload a PNG or JPEG photo of one digit.")


def show_pictures(box, drawing: Prepared, upload) -> None:
    """The uploaded photo, if any, and the 28x28 image the models see."""
    if upload is not None:
        box.image(upload, caption=upload.name, width=135)
    caption = "What the models see: 28x28, centred like MNIST" + (f"; {drawing.note}" if drawing.note else "")
    box.image(np.kron(drawing.image, np.ones((5, 5))), caption=caption, clamp=True, width=135)


def label(name: str) -> str:
    """The name already says the size; the accuracy helps pick (the sidebar fits ~32 characters)."""
    return f"{name} · {card(name, CHECKPOINTS)['final_acc']:.2f}%"


models, failed = zoo(CHECKPOINTS)
if not models:
    st.title("✏️ mnist_small")
    st.error(f"No trained models found in `{CHECKPOINTS}`.")
    st.markdown("Train them first (about 25 minutes on a 2-core CPU), then reload this page:\n\n```\npython train.py --jobs 2\n```")
    for reason in failed.values():
        st.warning(f"Unavailable: {reason}")
    st.stop()

# ---- sidebar: model choice and settings -------------------------------------------------
with st.sidebar:
    st.title("✏️ mnist_small")
    chosen = st.selectbox("Model", list(models), format_func=label, key="model")
    chosen_card = card(chosen, CHECKPOINTS)
    drawn = f" · {chosen_card['drawn_acc']:.2f}% on drawn ones" if chosen_card["drawn_acc"] is not None else ""
    st.caption(
        f"**{chosen_card['params']:,}** parameters · **{chosen_card['final_acc']:.2f}%** on MNIST's test digits{drawn}\n\n"
        f"{chosen_card['description']}"
    )
    stroke = st.slider("Brush width", 8, 40, 20, key="stroke")
    if st.button("Clear the canvas", width="stretch"):
        st.session_state.canvas_version = st.session_state.get("canvas_version", 0) + 1
    save_slot = st.empty()  # filled once there is a drawing on the canvas
    upload = st.file_uploader(
        "…or upload a picture of a digit",
        type=["png", "jpg", "jpeg", "webp", "bmp", "gif"],
        help="A photo of a digit written on paper works too: shadows and noise are cleaned up first.",
        key="upload",
    )
    for name, reason in failed.items():
        st.warning(f"**{name}** is unavailable: {reason}")

# Lazy tabs: a drawing reruns the script, and only the open tab's charts are built and sent.
# The Draw tab always runs, so the canvas keeps its drawing while another tab is open.
tab_draw, tab_compare, tab_inside, tab_curves, tab_model, tab_zoo, tab_errors = st.tabs(
    ["Draw", "Compare models", "Inside the model", "Training curves", "Model card", "Zoo", "Errors on MNIST"], key="view", on_change="rerun"
)

# ---- draw ---------------------------------------------------------------------------------
with tab_draw:
    # The canvas has a fixed size: its column is never narrower (relative columns clipped it on a
    # 1024 px projector). The answer's column wraps below it rather than shrink under ANSWER_MIN_WIDTH
    # (a tablet held upright left it a 150 px sliver with unreadable bars); the rule goes on the flex
    # item that wraps the keyed container. What the models see goes under the canvas while the answer
    # is beside it, and beside the answer once that wraps below (on a phone both are then in view
    # right under the canvas): both are drawn, a container query on the row's width shows one.
    wraps_below = CANVAS + 10 + LARGE_GAP + ANSWER_MIN_WIDTH
    st.html(
        "<style>"
        f"div:has(> .st-key-answer) {{ min-width: {ANSWER_MIN_WIDTH}px }}"
        "div:has(> .st-key-verdict) { flex: 1 1 10rem }"  # its words wrap beside the picture
        ".st-key-canvas_and_answer { container-type: inline-size }"
        f"@container (min-width: {wraps_below}px) {{ div:has(> .st-key-pictures_beside) {{ display: none }} }}"
        f"@container (max-width: {wraps_below - 0.5}px) {{ div:has(> .st-key-pictures_under) {{ display: none }} }}"
        "</style>"
    )
    canvas_and_answer = st.container(horizontal=True, gap="large", key="canvas_and_answer")
    left, right = canvas_and_answer.container(width=CANVAS + 10), canvas_and_answer.container(width="stretch", key="answer")
    with left:
        # a line of text above the canvas gives its hover toolbar room, so it never covers the tabs
        st.caption("Draw one digit, large. Undo, redo, reset: hover over the canvas.")
        canvas = st_canvas(
            stroke_width=stroke,
            stroke_color="#FFFFFF",
            background_color="#000000",
            height=CANVAS,
            width=CANVAS,
            drawing_mode="freedraw",
            return_image_data=True,
            key=f"canvas-{st.session_state.get('canvas_version', 0)}",
        )
        drawing = read_upload(upload.getvalue(), upload.name) if upload is not None else read_drawing(canvas.image_data)
        if drawing.has_digit:
            show_pictures(st.container(horizontal=True, gap="small", key="pictures_under"), drawing, upload)
        if drawing.has_digit and upload is None:
            drawn = canvas.image_data
            save_slot.download_button(
                "Save the drawing",
                lambda: drawing_png(drawn),  # made on a click, not on every rerun
                file_name="drawing.png",
                mime="image/png",
                on_click="ignore",
                width="stretch",
                help="A PNG of the canvas: upload it below to bring this drawing back, say in the next lesson.",
            )
    probs = all_probabilities(models, drawing.tensor()) if drawing.has_digit else {}
    with right, guard("prediction"):
        if upload is not None:
            st.caption(f"Reading the uploaded **{upload.name}**, not the canvas: remove it in the sidebar to draw again.")
        if drawing.message and drawing.message != NO_DIGIT:
            st.warning(drawing.message)
        elif upload is not None and not drawing.has_digit:
            st.warning(f"No digit found in {upload.name}: the picture looks blank.")
        elif not drawing.has_digit:
            st.info("Draw a digit on the black canvas: the models will answer as soon as you lift the mouse.")
        else:
            p = probs[chosen]
            digit = int(p.argmax())
            pictures_and_answer = st.container(horizontal=True, gap="medium", vertical_alignment="center")
            show_pictures(
                pictures_and_answer.container(horizontal=True, gap="small", width="content", key="pictures_beside"), drawing, upload
            )
            pictures_and_answer.container(key="verdict").markdown(
                f"<div style='font-size:1.4rem;overflow-wrap:anywhere'>{chosen.replace('_', '_<wbr>')} says</div><div style='font-size:6rem;font-weight:700;line-height:1'>{digit}</div>"
                f"<div style='font-size:1.4rem'>with {100 * p[digit]:.1f}% confidence</div>",
                unsafe_allow_html=True,
            )
            if drawing.warning:
                st.warning(drawing.warning)
            st.plotly_chart(plots.probability_bars(p), width="stretch", key="bars")

# ---- compare ------------------------------------------------------------------------------
with tab_compare, guard("compare"):
    if tab_compare.open:
        if not probs:
            st.info("Draw a digit in the Draw tab to compare every model on it.")
        else:
            guesses = {name: int(p.argmax()) for name, p in probs.items()}
            votes = np.bincount(list(guesses.values()), minlength=10)
            if votes.max() == len(guesses):
                st.success(f"All {len(guesses)} models agree: **{votes.argmax()}**")
            else:
                st.warning("The models disagree: " + ", ".join(f"**{d}** ({n})" for d, n in enumerate(votes) if n))
            if drawing.warning:
                st.warning(drawing.warning)
            st.plotly_chart(plots.compare_heatmap(probs), width="stretch", key="compare")
            st.dataframe(
                [
                    {
                        "model": n,
                        "guess": g,
                        "confidence (%)": round(100 * float(probs[n][g]), 1),
                        "test accuracy (%)": card(n, CHECKPOINTS)["final_acc"],
                    }
                    for n, g in guesses.items()
                ],
                hide_index=True,
                width="stretch",
            )

# ---- inside the model ---------------------------------------------------------------------
with tab_inside, guard("inside the model"):
    if tab_inside.open:
        if not drawing.has_digit:
            st.info("Draw a digit in the Draw tab to look inside the model.")
        else:
            model = models[chosen].model
            layers = [row for row in layer_table(model) if len(row.output_shape) == 3 and row.output_shape[1] > 1]
            picked = st.selectbox(
                "Layer",
                range(len(layers)),
                format_func=lambda i: f"{layers[i].label}  ({'x'.join(map(str, layers[i].output_shape))})",
                key="layer",
            )
            x = drawing.tensor()
            maps = feature_maps(model, x, layers[picked].module)
            st.image(plots.feature_map_images(maps), caption=[f"ch {i}" for i in range(len(maps))], width=64)
            target = int(probs[chosen].argmax())
            hiding = occlusion(model, x, target)
            patch_row, patch_col, guess_without, confidence_without = hiding.most_telling()
            if hiding.drop.max() >= 0.01:
                without, without_title = (
                    hiding.image_without(patch_row, patch_col),
                    f"brightest spot hidden: {guess_without} ({100 * confidence_without:.0f}%)",
                )
            else:
                without, without_title = drawing.image, f"no patch matters: still {target}"
            views = [
                ("what the model sees", drawing.image, "gray", "input"),
                (f"hide a 5x5 patch: '{target}' drops up to {100 * hiding.drop.max():.0f} pts", hiding.drop, "hot", "occlusion"),
                (without_title, without, "gray", "hidden"),
            ]
            for column, (title, pixels, colorscale, key) in zip(st.columns(len(views), vertical_alignment="bottom"), views, strict=True):
                column.markdown(f"**{title}**")  # above the plot, not in it: wraps in a narrow column
                column.plotly_chart(plots.image(pixels, colorscale=colorscale), width="stretch", key=key)
            st.caption(
                f"Middle: each pixel's colour is how much the probability for '{target}' drops when a 5x5 patch "
                "centred there is blanked out (black: no change, white: all the way to zero). Right: the drawing "
                f"with the patch that matters most hidden, and what the model says then ({'still ' if guess_without == target else ''}"
                f"{guess_without}). Ask the class to guess first which part of their digit the model needs."
            )

# ---- training curves ----------------------------------------------------------------------
with tab_curves, guard("training curves"):
    if tab_curves.open:
        shown = st.multiselect("Models", list(models), default=[chosen])  # no key: follows the sidebar's model
        if shown:
            colours = plots.curve_colours(shown)
            st.markdown(
                " &nbsp; ".join(
                    f"<span style='white-space:nowrap'><span style='color:{colours[n]};font-weight:700'>&#9473;&#9473;</span> {n}</span>"
                    for n in shown
                ),
                unsafe_allow_html=True,
            )
            # three charts that wrap: side by side on a wide screen, stacked on a phone
            st.html("<style>div:has(> [class*='st-key-curve-']) { flex: 1 1 260px }</style>")
            charts = st.container(horizontal=True)
            for i, fig in enumerate(plots.training_curves({n: models[n].meta["history"] for n in shown})):
                charts.container(key=f"curve-{i}").plotly_chart(fig, width="stretch", key=f"curves-{i}")
            distilled = [n for n in shown if models[n].meta["recipe"].get("teacher")]
            note = (
                f" Learning from a teacher model ({', '.join(distilled)}): the training loss is mostly the distance to the "
                "teacher's softened answers, so it sits above the test loss."
                if distilled
                else ""
            )
            st.caption(
                "Dotted: training set (augmented, running average over the epoch). Solid: the 10,000 test images after the epoch." + note
            )
        else:
            st.info("Pick at least one model.")

# ---- model card ---------------------------------------------------------------------------
with tab_model, guard("model card"):
    if tab_model.open:
        c = card(chosen, CHECKPOINTS)
        st.subheader(chosen)
        st.write(c["description"])
        figures = st.container(horizontal=True, gap="medium")  # wraps on a narrow screen instead of cutting the numbers
        figures.metric("parameters", f"{c['params']:,}", width="content")
        figures.metric("MACs per image", f"{c['macs'] / 1e6:.2f} M", width="content")
        figures.metric("weights", f"{c['weights_kb']:.1f} KB", width="content")
        figures.metric("final test accuracy", f"{c['final_acc']:.2f}%", width="content")
        figures.metric("best test accuracy", f"{c['best_acc']:.2f}%", help=f"epoch {c['best_epoch']} of {c['epochs']}", width="content")
        try:
            augment = Recipe.from_dict(c["recipe"]).augment  # as the training run stored it
        except (TypeError, ValueError):  # a recipe from another version: the registry's
            augment = models[chosen].spec.recipe.augment
        heading = st.container(horizontal=True, vertical_alignment="center")
        heading.markdown(f"**Training digits as {chosen} saw them**: {augment.describe()}", width="content")
        mnist = mnist_on_disk(DATA_DIR)
        if mnist is None:
            st.info(where_to_put_mnist("them"))
        else:
            if heading.button("New random draw", key="redraw"):
                st.session_state.augment_draw = st.session_state.get("augment_draw", 0) + 1
            examples = augmentation_examples(mnist, augment, draws=2, seed=st.session_state.get("augment_draw", 0))
            st.image(plots.digit_strips(examples), caption=[str(d) for d in range(10)], width=64)
            st.caption(
                "Top: the first training image of each digit. Below it: two random draws of the jitter this model's "
                "recipe applies to every batch; each epoch it sees all 60,000 digits jittered anew."
            )
        left, right = st.columns([1.2, 1])
        left.dataframe(c["layers"], hide_index=True, width="stretch", height=min(36 * len(c["layers"]) + 38, 700))
        right.markdown(f"**Trained** {c['epochs']} epochs in {c['train_seconds']:.0f} s  \n**Source write-up** `{c['source']}`")
        right.json(c["recipe"], expanded=1)  # the notes and the augmentation open on a click

# ---- zoo ----------------------------------------------------------------------------------
with tab_zoo, guard("zoo"):
    if tab_zoo.open:
        rows = overview(CHECKPOINTS)
        has_drawn = all(r["drawn accuracy"] is not None for r in rows)
        phone = "Mobi" in st.context.headers.get("User-Agent", "")  # MDN's test for a phone's browser
        figure = (plots.zoo_dots if phone else plots.zoo_scatter)(rows, extra="drawn accuracy" if has_drawn else None)
        st.plotly_chart(figure, width="stretch", key="zoo")
        percent = st.column_config.NumberColumn(format="%.2f%%")
        st.dataframe(
            rows,
            hide_index=True,
            width="stretch",
            column_config={
                "params": st.column_config.NumberColumn(format="localized"),
                "MACs": st.column_config.NumberColumn("MACs per image", format="compact"),
                "accuracy": percent,
                "drawn accuracy": percent,
                "best accuracy": percent,
                "train seconds": st.column_config.NumberColumn("train time", format="%.0f s"),
            },
        )
        st.caption(
            "accuracy: final epoch on the 10,000 MNIST test images. drawn accuracy: the same digits re-drawn the way a "
            "canvas drawing looks (random size, place, brush width and slant), through the app's preprocessing."
        )

# ---- errors on MNIST ----------------------------------------------------------------------
with tab_errors, guard("errors"):
    if tab_errors.open:
        meta = models[chosen].meta
        wrong = meta.get("misclassified", [])
        st.markdown(f"**{chosen}** misclassifies **{len(wrong)}** of the 10,000 MNIST test images.")
        st.plotly_chart(
            plots.confusion_heatmap(meta["confusion_matrix"], "Test-set confusion matrix (mistakes only)"), width="stretch", key="confusion"
        )
        mnist = mnist_on_disk(DATA_DIR)
        if mnist is None:
            st.info(where_to_put_mnist("the misclassified digits themselves"))
        elif wrong:
            pairs = {f"{true} read as {predicted} ({n})": (true, predicted) for true, predicted, n in mistake_pairs(wrong)}
            everything = f"all {len(wrong)} mistakes"
            pick = st.selectbox("Show", [everything, *pairs], key=f"mistakes-{chosen}", width=320)  # a key per model: its own confusions
            listed = wrong if pick == everything else [w for w in wrong if (w["label"], w["predicted"]) == pairs[pick]]
            shown = listed[:48]
            captions = [f"{w['label']}→{w['predicted']}" for w in shown]
            show_test_digits(mnist, [w["index"] for w in shown], captions)
            st.caption(f"True → predicted label; {len(shown)} of {len(listed)}.")

        st.divider()
        hard = hardest_digits({name: loaded.meta.get("misclassified", []) for name, loaded in models.items()})
        everyone = len(models)
        st.markdown(
            f"**Hard for the whole zoo.** {len(hard)} test digits fool at least one of the {everyone} models, "
            f"{sum(len(h.answers) > everyone / 2 for h in hard)} fool most of them and "
            f"{sum(len(h.answers) == everyone for h in hard)} fool every one."
        )
        if mnist is not None and hard:
            shown = hard[:24]
            captions = [f"{h.label}→{h.common_answer} ({len(h.answers)})" for h in shown]
            show_test_digits(mnist, [h.index for h in shown], captions)
            st.caption(
                f"The {len(shown)} that most models get wrong. True label → the most common wrong answer (how many of the "
                f"{everyone} models answer wrong). Can the class read them?"
            )
