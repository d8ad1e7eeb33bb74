"""The app's CSS, all of it, and the sizes it is computed from.

Streamlit's own layout does most of the work; the rules here do what it cannot say:
- Draw: the canvas has a fixed size, and its column is never narrower (relative columns
  clipped it on a 1024 px projector). The answer's column wraps below the canvas rather than
  shrink under ANSWER_MIN_WIDTH (a tablet held upright left it a 150 px sliver with unreadable
  bars); the rule goes on the flex item that wraps the keyed container. What the models see
  goes under the canvas while the answer is beside it, and beside the answer once that wraps
  below (on a phone both are then in view right under the canvas): both are drawn, and a
  container query on the row's width shows one.
- Training curves: three charts that wrap, side by side on a wide screen, stacked on a phone.
"""

from __future__ import annotations

CANVAS = 280  # px, the drawing canvas's width and height
CANVAS_COLUMN = CANVAS + 10
LARGE_GAP = 64  # px between the items of a container with gap="large"
ANSWER_MIN_WIDTH = 200  # px: ten readable bars; beside the canvas on a 1024 px projector with the sidebar open
ANSWER_WRAPS_BELOW = CANVAS_COLUMN + LARGE_GAP + ANSWER_MIN_WIDTH  # px: the canvas-and-answer row's width where it wraps

CSS = (
    "<style>"
    # Draw
    f"div:has(> .st-key-answer) {{ min-width: {ANSWER_MIN_WIDTH}px }}"
    "div:has(> .st-key-verdict) { flex: 1 1 10rem }"  # its words wrap beside the picture
    ".st-key-canvas_and_answer { container-type: inline-size }"
    f"@container (min-width: {ANSWER_WRAPS_BELOW}px) {{ div:has(> .st-key-pictures_beside) {{ display: none }} }}"
    f"@container (max-width: {ANSWER_WRAPS_BELOW - 0.5}px) {{ div:has(> .st-key-pictures_under) {{ display: none }} }}"
    # Training curves
    "div:has(> [class*='st-key-curve-']) { flex: 1 1 260px }"
    "</style>"
)
