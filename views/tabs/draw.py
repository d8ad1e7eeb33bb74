"""Draw: the canvas (or an uploaded picture), what the models see, and the chosen model's answer
(only the chosen model runs on a stroke: views/predictions.py)."""

from __future__ import annotations

import io

import numpy as np
import streamlit as st
from streamlit.delta_generator import DeltaGenerator
from streamlit.runtime.uploaded_file_manager import UploadedFile

from mnist_small import plots
from mnist_small.checkpoints import LoadedModel
from mnist_small.preprocess import NO_DIGIT, PictureError, Prepared, drawing_png, prepare, read_picture
from mnist_small.preprocess.pictures import CANVAS_REFUSED, MAX_ASPECT_RATIO, read_canvas_png

from .. import predictions, submit
from ..context import guard, log
from ..style import CANVAS, CANVAS_COLUMN, CANVAS_GAP, CANVAS_TOOLBAR

PREVIEW_WIDTH = 135  # px, the uploaded picture beside what the models see


def read_canvas(canvas: object) -> tuple[Prepared, np.ndarray | None]:
    """The canvas as model input, and the drawing itself as an RGBA array (None when there is none
    or it was refused), decoded once per run. The value is the browser's, so anyone can send any
    picture: only the canvas's own CANVAS x CANVAS PNG is accepted, checked from its header before
    it is decoded; anything else is reported, not raised, and never stored."""
    # The component's raw data URL: its image_data property decodes a value of any size, on every access.
    url = getattr(canvas, "_image_data_url", None)
    try:
        if isinstance(url, str):
            image = read_canvas_png(url, (CANVAS, CANVAS))
        elif url is None:
            image = canvas.image_data  # None without a drawing; the tests' stand-in hands an array
        else:
            raise PictureError(f"{CANVAS_REFUSED} (It was not a data URL.)")
        if image is None:
            return Prepared(None, message=NO_DIGIT), None
        if np.shape(image) != (CANVAS, CANVAS, 4):
            raise PictureError(f"{CANVAS_REFUSED} (It was of shape {np.shape(image)}, not the canvas's own {(CANVAS, CANVAS, 4)}.)")
    except PictureError as err:
        log.warning("refused a canvas value: %s", err)
        return Prepared(None, message=str(err)), None
    try:
        return prepare(image), image
    except Exception:
        log.exception("could not read the canvas image")
        return Prepared(None, message=CANVAS_REFUSED), None


@st.cache_data(max_entries=16, show_spinner="Reading the picture…")
def read_upload(data: bytes, name: str) -> tuple[Prepared, bytes | None]:
    """An uploaded picture as model input, and a small upright copy of it to show (st.image would
    decode and shrink the whole upload on every run), read once (every click reruns the script,
    and a phone photo takes ~0.2 s). A picture too large to read (checked from its header) or
    not an image is reported, not raised."""
    try:
        image = read_picture(data)  # refused from its header when too large, and decoded no larger than needed
    except PictureError as err:
        log.info("refused the uploaded file %r: %s", name, err)
        return Prepared(None, message=str(err).replace("The file", name, 1)), None
    try:
        drawing = prepare(image)
        image.thumbnail((PREVIEW_WIDTH, PREVIEW_WIDTH * MAX_ASPECT_RATIO))
        preview = io.BytesIO()
        image.save(preview, format="PNG")
        return drawing, preview.getvalue()
    except Exception as err:
        log.info("could not read the uploaded file %r: %s", name, err)
        return Prepared(None, message=f"{name} could not be read as an image: upload a PNG or JPEG photo of one digit."), None


def show_pictures(box: DeltaGenerator, drawing: Prepared, upload: UploadedFile | None, preview: bytes | None) -> None:
    """The uploaded photo's ``preview``, if any, and the 28x28 image the models see."""
    if upload is not None and preview is not None:
        box.image(preview, caption=upload.name, width=PREVIEW_WIDTH)
    caption = "What the models see: 28x28, centred like MNIST" + (f"; {drawing.note}" if drawing.note else "")
    box.image(np.kron(drawing.image, np.ones((5, 5))), caption=caption, clamp=True, width=135)


def show(
    models: dict[str, LoadedModel],
    chosen: str,
    brush_width: int,
    canvas_key: str,
    upload: UploadedFile | None,
    save_slot: DeltaGenerator,
    class_url: str,
) -> tuple[Prepared, dict[str, np.ndarray]]:
    """The Draw tab. Fills ``save_slot`` (in the sidebar) with a download of the canvas once it
    holds a digit, and offers to keep the drawing in the class set at ``class_url``. Returns what the models see (the upload, if any, else the canvas) and the
    chosen model's probabilities for it, by its name (empty without a digit)."""
    # Imported here, on every run: the component registers only inside a Streamlit runtime, and
    # the tests put a fake in its place.
    from streamlit_drawable_canvas import st_canvas

    # The CSS in style.py places these containers: the answer beside the canvas or wrapped below it.
    canvas_and_answer = st.container(horizontal=True, gap=CANVAS_GAP, key="canvas_and_answer")
    canvas_column = canvas_and_answer.container(width=CANVAS_COLUMN)
    answer_column = canvas_and_answer.container(width="stretch", key="answer")
    with canvas_column:
        # moves the canvas's undo, redo and reset off the canvas, beside it (style.py says why)
        st.container(key="canvas_toolbar").html(CANVAS_TOOLBAR, unsafe_allow_javascript=True)
        st.caption("Draw one digit, large, with a finger or the mouse. The buttons by the canvas undo, redo and clear.")
        canvas = st_canvas(
            stroke_width=brush_width,
            stroke_color="#FFFFFF",
            background_color="#000000",
            height=CANVAS,
            width=CANVAS,
            drawing_mode="freedraw",
            return_image_data=True,
            key=canvas_key,
        )
        if upload is not None:  # read once per run: its cache key hashes the whole file
            (drawing, preview), canvas_image = read_upload(upload.getvalue(), upload.name), None
        else:
            (drawing, canvas_image), preview = read_canvas(canvas), None
        if drawing.has_digit:
            show_pictures(st.container(horizontal=True, gap="small", key="pictures_under"), drawing, upload, preview)
        if drawing.has_digit and canvas_image is not None:
            save_slot.download_button(
                "Save the drawing",
                lambda: drawing_png(canvas_image),  # made on a click, not on every rerun
                file_name="drawing.png",
                mime="image/png",
                on_click="ignore",
                width="stretch",
                help="A PNG of the canvas: upload it below to bring this drawing back, say in the next lesson.",
            )
    probabilities = predictions.of_chosen(models, chosen, drawing)
    with answer_column:
        submit.show_outcome()  # "Added ...": the first thing a student sees after adding
        with guard("prediction"):
            show_answer(drawing, probabilities, chosen, upload, preview)
        with guard("class set"):  # below the answer, also when a phone stacks the columns
            submit.show(class_url, canvas_image, drawing, models, probabilities)  # the checked drawing, never the browser's raw value
    return drawing, probabilities


def show_answer(
    drawing: Prepared, probabilities: dict[str, np.ndarray], chosen: str, upload: UploadedFile | None, preview: bytes | None
) -> None:
    """The chosen model's answer in large type beside what the models see, and its ten probabilities;
    or why there is no answer."""
    if upload is not None:
        st.caption(f"Reading the uploaded **{upload.name}**, not the canvas: remove it in the sidebar to draw again.")
    if drawing.message and drawing.message != NO_DIGIT:
        st.warning(drawing.message)
    elif upload is not None and not drawing.has_digit:
        st.warning(f"No digit found in {upload.name}: the picture looks blank.")
    elif not drawing.has_digit:
        st.info("Draw a digit on the black canvas: the models answer as soon as you lift your finger or the mouse.")
    else:
        chosen_probabilities = probabilities[chosen]
        digit = int(chosen_probabilities.argmax())
        pictures_and_answer = st.container(horizontal=True, gap="medium", vertical_alignment="center")
        show_pictures(
            pictures_and_answer.container(horizontal=True, gap="small", width="content", key="pictures_beside"), drawing, upload, preview
        )
        pictures_and_answer.container(key="verdict").markdown(
            f"<div style='font-size:1.4rem;overflow-wrap:anywhere'>{chosen.replace('_', '_<wbr>').replace('+', '<wbr>+')} says</div><div style='font-size:6rem;font-weight:700;line-height:1'>{digit}</div>"
            f"<div style='font-size:1.4rem'>with {100 * chosen_probabilities[digit]:.1f}% confidence</div>",
            unsafe_allow_html=True,
        )
        if drawing.warning:
            st.warning(drawing.warning)
        st.plotly_chart(plots.probability_bars(chosen_probabilities), width="stretch", key="bars")
