"""mnist_small in the browser: draw a digit and watch compact CNNs react.

    streamlit run streamlit_app.py

The page, the sidebar and the tabs; each tab is a module in ``views/tabs/`` and every computation
lives in the ``mnist_small`` package. Settings: MNIST_SMALL_CHECKPOINTS (default
./checkpoints) and MNIST_SMALL_DATA (default ./data, a folder with MNIST/raw/ for the
training digits of the model card and the misclassified test digits).
"""

from __future__ import annotations

import os
from pathlib import Path

# Idle torch threads sleep instead of spinning: spinning doubled to tripled the CPU of every
# answer on a busy classroom server (docs/benchmarks.md, class set at scale). Before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# One torch thread per computation: the sessions are the parallelism, and a second thread for these
# tiny models costs more than it saves, most of all on a busy server (docs/benchmarks.md, prediction latency).
os.environ.setdefault("OMP_NUM_THREADS", "1")

import streamlit as st

from mnist_small.settings import checkpoint_dir, class_db_url, data_dir
from views.classes import enter_class, show_badge, show_link_to_view
from views.context import Context
from views.resources import load_models
from views.sidebar import pick_model
from views.style import CSS
from views.tabs import classroom, compare, curves, draw, inside, mistakes, model_card, zoo

HERE = Path(__file__).resolve().parent
# read on every run, not at import: the tests point the app at other folders
CHECKPOINTS = checkpoint_dir(HERE / "checkpoints")
DATA_DIR = data_dir(HERE / "data")
CLASS_DB = class_db_url(DATA_DIR)  # $MNIST_SMALL_DB, else a SQLite file in DATA_DIR/class/

st.set_page_config(page_title="mnist_small: draw a digit", page_icon="✏️", layout="wide")
st.html(CSS)  # style only: takes no room on the page


class_code = enter_class(CLASS_DB)  # ?class=7b: this page's drawings, leaderboard, gallery and fine-tuned models are that class's
models, failed = load_models(CHECKPOINTS, CLASS_DB, class_code)  # the zoo, and this class's fine-tuned models (in the database)
if not models:
    st.title("✏️ mnist_small")
    st.error(f"No trained models found in `{CHECKPOINTS}`.")
    st.markdown(
        "Train them first (about 25 minutes on a 2-core CPU), then reload this page:\n\n```\npython train.py --jobs 2 --pen data/pendigits\n```\n\n(`--pen`: UCI's pen digits, for the +pen twins; README: Real handwriting)"
    )
    for reason in failed.values():
        st.warning(f"Unavailable: {reason}")
    st.stop()

# ---- sidebar: model choice and settings -------------------------------------------------
with st.sidebar:
    st.title("✏️ mnist_small")
    chosen = pick_model(models, CHECKPOINTS, CLASS_DB, class_code)  # an architecture, and trained on MNIST or with pen digits too
    brush_width = st.slider("Brush width", 8, 40, 20, key="stroke")
    if st.button("Clear the canvas", width="stretch"):
        st.session_state.canvas_version = st.session_state.get("canvas_version", 0) + 1  # a new, empty canvas
    save_slot = st.empty()  # filled by the Draw tab once there is a drawing on the canvas
    upload = st.file_uploader(
        "…or upload a picture of a digit",
        type=["png", "jpg", "jpeg", "webp", "bmp", "gif"],
        help="A photo of a digit written on paper works too: shadows and noise are cleaned up first.",
        key="upload",
    )
    for name, reason in failed.items():
        st.warning(f"**{name}** is unavailable: {reason}")
    link_slot = st.empty()  # filled last, once the tab is known

show_badge(class_code)  # above the tabs, where a phone (its sidebar folded away) shows it too

# ---- tabs ---------------------------------------------------------------------------------
# Lazy tabs, in the URL: a drawing reruns the script, and only the open tab's charts are built and sent.
# The Draw tab always runs, so the canvas keeps its drawing while another tab is open.
# Inside the model, Training curves, Model card and Errors are fragments: their own widgets
# (the layer picker, the models, "New random draw", the mistakes filter) rerun that tab alone.
tab_draw, tab_compare, tab_inside, tab_curves, tab_card, tab_zoo, tab_errors, tab_class = st.tabs(
    ["Draw", "Compare models", "Inside the model", "Training curves", "Model card", "Zoo", "Errors on MNIST", "Class"],
    key="view",
    on_change="rerun",
    bind="query-params",  # ?view=Zoo: a link opens the tab, and a reload keeps it
)
with tab_draw:
    canvas_key = f"canvas-{st.session_state.get('canvas_version', 0)}"
    drawing, probabilities = draw.show(models, chosen, brush_width, canvas_key, upload, save_slot, CLASS_DB)

context = Context(models, chosen, drawing, probabilities, CHECKPOINTS, DATA_DIR, class_code, CLASS_DB)
for tab, view in [
    (tab_compare, compare),
    (tab_inside, inside),
    (tab_curves, curves),
    (tab_card, model_card),
    (tab_zoo, zoo),
    (tab_errors, mistakes),
]:
    if tab.open:
        with tab:
            view.show(context)
if tab_class.open:
    with tab_class:
        classroom.show(context, CLASS_DB)
with link_slot.container():
    show_link_to_view()
