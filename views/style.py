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
- The canvas's toolbar (CANVAS_TOOLBAR): streamlit-drawable-canvas hides it, until hovered, over
  the canvas's top-right corner, where it swallowed every stroke started there (a phone never
  hovers, and a mouse that presses as it arrives beats the toolbar's move up). It lives in the
  component's shadow root, which page CSS cannot reach, so a script adds a style sheet there:
  the toolbar always shown, in a column of its own right of the canvas, with finger-sized buttons.
- The canvas's wait (same script): the component sends a drawing 200 ms after the pen lifts (a fixed
  debounce in its bundle, no option), a third of the time from mouse-up to the answer. The script
  sends it SEND_AFTER_MS after a stroke that began on the canvas instead, through the component's
  own "Update the app" button (hidden, still clicked): its send cancels the pending one, so each
  stroke is sent once; a stroke begun within SEND_AFTER_MS waits for its own end. Should a later
  version rename the button, the component's own 200 ms send still works.
"""

from __future__ import annotations

import json

CANVAS = 280  # px, the drawing canvas's width and height
TOOLBAR_BUTTON = 36  # px, undo, redo and reset: a finger's width
TOOLBAR_WIDTH = 6 + TOOLBAR_BUTTON + 2 * 2  # px: the gap to the canvas, the buttons and the card's padding
CANVAS_COLUMN = CANVAS + TOOLBAR_WIDTH + 4  # the canvas and its toolbar
PAGE_PADDING = 16  # px, Streamlit's margin left of the page's content on a phone
# px between the canvas's column and the answer, beside it or wrapped below; with the toolbar in the
# column, the wrap point (554 px) is what it was before the toolbar moved out of the canvas
CANVAS_GAP = 24
SEND_AFTER_MS = 50  # after the pen lifts, the canvas's drawing goes to the app (the component's own wait: 200 ms)
ANSWER_MIN_WIDTH = 200  # px: ten readable bars; beside the canvas on a 1024 px projector with the sidebar open (a 564 px row)
ANSWER_WRAPS_BELOW = CANVAS_COLUMN + CANVAS_GAP + ANSWER_MIN_WIDTH  # px: the canvas-and-answer row's width where it wraps

CSS = (
    "<style>"
    # Draw
    f"div:has(> .st-key-answer) {{ min-width: {ANSWER_MIN_WIDTH}px }}"
    "div:has(> .st-key-verdict) { flex: 1 1 10rem }"  # its words wrap beside the picture
    ".st-key-canvas_and_answer { container-type: inline-size }"
    f"@container (min-width: {ANSWER_WRAPS_BELOW}px) {{ div:has(> .st-key-pictures_beside) {{ display: none }} }}"
    f"@container (max-width: {ANSWER_WRAPS_BELOW - 0.5}px) {{ div:has(> .st-key-pictures_under) {{ display: none }} }}"
    "div:has(> .st-key-canvas_toolbar) { display: none }"  # holds a script only: no gap above the canvas
    # Training curves
    "div:has(> [class*='st-key-curve-']) { flex: 1 1 260px }"
    "</style>"
)

# Inside the canvas's shadow root (streamlit-drawable-canvas 0.13's class names; tests/test_browser_strokes.py
# checks the toolbar is beside the canvas). !important: the component's own rules for a hovered or pinned
# toolbar are more specific. Its "send" and "edit" buttons go: the app answers on every stroke, and edit
# mode (moving strokes) stops drawing.
SEND_LABEL = "Update the app with this drawing"  # the component's send button, by its accessible name
CANVAS_TOOLBAR_CSS = (
    ".dc-toolbar { opacity: 1 !important; top: 0 !important; right: auto !important; left: 100%;"
    " padding: 0 0 0 6px !important; transition: none !important }"
    ".dc-toolbar-card { flex-direction: column; padding: 2px }"
    f".dc-icon-button {{ width: {TOOLBAR_BUTTON}px; height: {TOOLBAR_BUTTON}px }}"
    ".dc-icon-button svg { width: 20px; height: 20px }"
    ".dc-toolbar-separator, .dc-icon-button[aria-label='Edit'],"
    f" .dc-icon-button[aria-label='{SEND_LABEL}'] {{ display: none }}"
    # a phone too narrow for the toolbar beside the canvas (320 px) has it in a row under the canvas
    f"@media (max-width: {PAGE_PADDING + CANVAS + TOOLBAR_WIDTH - 0.5}px) {{"
    " .dc-toolbar { position: static !important; justify-content: flex-end; padding: 6px 0 0 !important }"
    " .dc-toolbar-card { flex-direction: row } }"
)
# Adopted by each canvas's shadow root as it appears (a cleared canvas is a new one); an adopted sheet
# outlives Streamlit's re-rendering of the root's children. Once per page: the observer outlives reruns.
# The sending: a pointer pressed on a canvas's drawing layer marks that root; its release anywhere
# (a stroke may end off the canvas) starts the short wait, and the next press on that canvas stops it.
CANVAS_TOOLBAR = f"""<script>
(() => {{
  if (window.mnistSmallCanvasToolbar) return;
  const sheet = new CSSStyleSheet();
  sheet.replaceSync({json.dumps(CANVAS_TOOLBAR_CSS)});
  window.mnistSmallCanvasToolbar = sheet;
  let stroke = null, wait = 0;
  const send = {json.dumps(f".dc-icon-button[aria-label='{SEND_LABEL}']")};
  addEventListener('pointerup', () => {{
    const root = stroke;
    stroke = null;
    if (root) wait = setTimeout(() => root.isConnected && root.querySelector(send)?.click(), {SEND_AFTER_MS});
  }}, true);
  addEventListener('pointercancel', () => {{ stroke = null; }}, true);
  const adopt = (tries) => {{
    for (const host of document.querySelectorAll('[data-testid="stBidiComponentIsolated"]')) {{
      const root = host.shadowRoot;
      if (!root) {{
        if (tries > 0) requestAnimationFrame(() => adopt(tries - 1));  // attached just after the host
      }} else if (!root.adoptedStyleSheets.includes(sheet)) {{
        root.adoptedStyleSheets = [...root.adoptedStyleSheets, sheet];
        root.addEventListener('pointerdown', (event) => {{
          clearTimeout(wait);
          stroke = event.target.classList.contains('upper-canvas') ? root : null;
        }}, true);
      }}
    }}
  }};
  new MutationObserver(() => adopt(60)).observe(document.body, {{ childList: true, subtree: true }});
  adopt(60);
}})();
</script>"""
