"""Running the app under Streamlit's AppTest: the script, a fake canvas in place of the browser
component, and readers for what a run put on the page. Shared by the AppTest test files."""

from __future__ import annotations

import json
import types

from streamlit.testing.v1 import AppTest

from mnist_small.registry import REGISTRY, split_name

from .conftest import ROOT

APP = str(ROOT / "streamlit_app.py")
FIRST = next(iter(REGISTRY))


class FakeCanvas:
    """Stands in for streamlit_drawable_canvas, which only registers inside a real browser session."""

    def __init__(self):
        self.image = None
        self.module = types.ModuleType("streamlit_drawable_canvas")
        self.module.st_canvas = lambda **kwargs: types.SimpleNamespace(image_data=self.image, json_data=None)


def run_app(view: str | None = None, model: str | None = FIRST) -> AppTest:
    """Run the app script; ``view`` opens that tab (tabs are lazy: only the open one is built);
    ``model`` is picked in the sidebar (None: the app's own default)."""
    at = AppTest.from_file(APP, default_timeout=120)
    if view:
        at.session_state["view"] = view
    if model:
        at.session_state["model"], at.session_state["kind"] = split_name(model)
    return at.run()


def chart(at: AppTest, key: str) -> dict:
    for element in at.get("plotly_chart"):
        spec = json.loads(element.proto.spec)
        if element.proto.id.endswith(key) or key in element.proto.id:
            return spec
    raise AssertionError(f"no plotly chart {key!r} on the page")


def page_text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [i.value for i in at.info] + [w.value for w in at.warning] + [e.value for e in at.error]
    return "\n".join(str(p) for p in parts).replace("<wbr>", "")  # the line-break hints in model names
