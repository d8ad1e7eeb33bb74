"""One browser tab of the app, in Streamlit's own protocol (``BackMsg``/``ForwardMsg`` protobufs
over ``/_stcore/stream``): what ``benchmarks/class_load.py`` and ``benchmarks/teacher_guessing.py``
drive instead of a browser. Not a benchmark of its own.

The handshake, as Streamlit 1.67 serves it (web/server/starlette/starlette_websocket.py): the
browser's first request (``/_stcore/health``) sets the ``_streamlit_xsrf`` cookie; the websocket
offers the subprotocols ``streamlit, <that cookie>[, <last session id>]`` and sends the cookie and
an ``Origin`` matching the host; like a browser, the client keeps every cookie it is set (HAProxy's
affinity cookie too: deploy/haproxy.cfg) and sends them all. Only the origin is enforced (a client
without ``Origin`` is let in too); the token merely unlocks the login cookie. The app reads the
cookie as the student's anonymous id, so each simulated student keeps its own, also across a
server restart. The script runs on the client's first ``rerun_script``. Widget ids (``$$ID-<hash>-<key>``) come from the
page's elements and blocks; like the browser, every rerun carries the whole widget state.
"""

from __future__ import annotations

import asyncio
import re
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field

import websockets
from google.protobuf.message import Message
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

from views.cookies import XSRF_COOKIE

ANSWER = re.compile(r"says</div><div[^>]*>(\d)</div>")  # the chosen model's digit, in large type
OPEN_TIMEOUT = 180.0  # a page's first run: on a fresh server it waits for torch and the models
FINISHED = (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR)
FRAGMENT_FINISHED = ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY


@dataclass
class Widget:
    kind: str  # the element's type: "bidi_component", "button", "button_group", ...
    id: str
    proto: Message
    fragment_id: str = ""  # set when the widget lives in an st.fragment: changing it reruns that alone


@dataclass
class Run:
    """What one rerun sent back, with the client's clock at each step."""

    sent: float
    fragment: bool = False  # a fragment's own rerun
    full: bool = False  # the whole script ran (also when a fragment's st.rerun() asked for it)
    first: float | None = None  # the run's first message: the script has started
    answer: float | None = None  # the chosen model's answer arrived
    finished: float | None = None  # script_finished
    digit: int | None = None  # the answer
    texts: list[str] = field(default_factory=list)  # markdown and alert bodies
    alerts: list[str] = field(default_factory=list)
    widgets: dict[str, Widget] = field(default_factory=dict)  # by the user's key

    def ms(self, end: float | None) -> float:
        assert end is not None
        return 1000 * (end - self.sent)


def user_key(element_id: str) -> str | None:
    """``$$ID-<hash>-<key>`` -> key; None for an element without a key."""
    if not element_id.startswith("$$ID-"):
        return None
    key = element_id.split("-", 2)[2]
    return None if key == "None" else key


def set_cookies(headers: list[str]) -> dict[str, str]:
    """The name=value of each ``Set-Cookie`` header."""
    pairs = (header.split(";", 1)[0].partition("=") for header in headers)
    return {name.strip(): value for name, _, value in pairs if name.strip()}


def cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


def first_request(url: str, cookies: dict[str, str]) -> dict[str, str]:
    """The browser's first request (``/_stcore/health``), with the cookies it has; returns them
    updated by what the answer sets: the ``_streamlit_xsrf`` cookie (the same token again for a
    browser that has one) and, through HAProxy, the affinity cookie naming the replica."""
    request = urllib.request.Request(f"{url}/_stcore/health", headers={"Cookie": cookie_header(cookies)} if cookies else {})
    with urllib.request.urlopen(request, timeout=30) as response:
        cookies = {**cookies, **set_cookies(response.headers.get_all("Set-Cookie") or [])}
    if XSRF_COOKIE not in cookies:
        raise RuntimeError(f"{url}/_stcore/health set no {XSRF_COOKIE} cookie")
    return cookies


class Tab:
    """One page in a browser: a websocket session and the widget state the frontend keeps."""

    def __init__(self, url: str, page_errors: Counter[str]) -> None:
        self.page_errors = page_errors  # every exception the page shows, counted by type and message
        self.http_url = url
        self.url = url.replace("http://", "ws://") + "/_stcore/stream"
        self.cookies: dict[str, str] = {}  # the browser's cookies (_streamlit_xsrf, a proxy's), kept across reconnects
        self.session_id = ""  # offered again on a reconnect, as the browser does
        self.ws: websockets.ClientConnection | None = None
        self.states: dict[str, WidgetState] = {}  # by widget id: what every rerun sends
        self.widgets: dict[str, Widget] = {}  # the last run's keyed widgets
        self.page_hash = ""
        self.auto_rerun: tuple[float, str] | None = None  # (seconds, fragment id) of a run_every fragment

    async def open(self) -> Run:
        """Connect as the browser does, and run the page once with no widget state."""
        self.cookies = await asyncio.to_thread(first_request, self.http_url, self.cookies)
        tokens = [self.cookies[XSRF_COOKIE], *([self.session_id] if self.session_id else [])]
        self.ws = await websockets.connect(
            self.url,
            subprotocols=[websockets.Subprotocol(p) for p in ("streamlit", *tokens)],
            additional_headers={"Origin": self.http_url, "Cookie": cookie_header(self.cookies)},
            max_size=None,
            ping_interval=None,  # a browser sends no pings, and a busy server must not be dropped for a late pong
        )
        # a proxy that sent the upgrade to another replica than the first request says so here
        self.cookies.update(set_cookies(self.ws.response.headers.get_all("Set-Cookie") if self.ws.response else []))
        self.states, self.widgets = {}, {}
        return await self.rerun([], OPEN_TIMEOUT)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
            self.ws = None

    async def rerun(self, changes: list[WidgetState], timeout: float, fragment_id: str = "", auto: bool = False) -> Run:
        """Send the widget state with ``changes`` (triggers are sent once, values kept), wait for
        the run's script_finished, and keep what the page now holds. With ``fragment_id``, rerun
        that fragment alone, as the browser does for a widget inside it (``auto``: for its
        ``run_every`` timer); a fragment calling st.rerun() makes it a full run, waited for too."""
        assert self.ws is not None
        for change in changes:
            if change.WhichOneof("value") != "trigger_value":
                self.states[change.id] = change
        msg = BackMsg()
        msg.rerun_script.page_script_hash = self.page_hash
        msg.rerun_script.fragment_id = fragment_id
        msg.rerun_script.is_auto_rerun = auto
        msg.rerun_script.widget_states.widgets.extend(
            [*self.states.values(), *(c for c in changes if c.WhichOneof("value") == "trigger_value")]
        )
        run = Run(sent=time.perf_counter(), fragment=bool(fragment_id))
        await self.ws.send(msg.SerializeToString())
        await asyncio.wait_for(self.until_finished(run), timeout)
        if not run.full:
            self.widgets.update(run.widgets)  # a fragment's run sends only its own elements: the rest stays
            return run
        self.widgets = run.widgets
        active = {w.id for w in run.widgets.values()}
        # as the frontend does, forget the widgets that are gone from the page
        self.states = {wid: state for wid, state in self.states.items() if wid in active}
        return run

    async def until_finished(self, run: Run) -> None:
        assert self.ws is not None
        while run.finished is None:
            self.receive(run, await self.ws.recv())

    def receive(self, run: Run, data: bytes | str) -> None:
        msg = ForwardMsg()
        msg.ParseFromString(data)
        kind = msg.WhichOneof("type")
        now = time.perf_counter()
        if kind == "new_session":
            self.session_id = msg.new_session.initialize.session_id
            self.page_hash = msg.new_session.page_script_hash or msg.new_session.main_script_hash
        if kind in ("delta", "page_config_changed") and run.first is None:
            run.first = now
        if kind == "script_finished" and msg.script_finished in FINISHED:
            run.finished, run.full = now, True
        elif kind == "script_finished" and run.fragment and msg.script_finished == FRAGMENT_FINISHED:
            run.finished = now
        if kind == "auto_rerun":
            self.auto_rerun = (msg.auto_rerun.interval, msg.auto_rerun.fragment_id)
        if kind == "delta" and msg.delta.WhichOneof("type") == "add_block":
            block = msg.delta.add_block  # the tabs are a widget too: a block with an id
            if block.id and (key := user_key(block.id)) is not None:
                run.widgets[key] = Widget(block.WhichOneof("type") or "block", block.id, block, msg.delta.fragment_id)
        if kind != "delta" or msg.delta.WhichOneof("type") != "new_element":
            return
        element = msg.delta.new_element
        element_type = element.WhichOneof("type")
        inner = getattr(element, element_type)
        if element_type == "markdown":
            run.texts.append(inner.body)
            if (found := ANSWER.search(inner.body)) and run.answer is None:
                run.answer, run.digit = now, int(found.group(1))
        elif element_type == "alert":
            run.texts.append(inner.body)
            run.alerts.append(inner.body)
        elif element_type == "exception":
            run.alerts.append(f"exception: {inner.type}: {inner.message}")
            self.page_errors[f"{inner.type}: {inner.message}"[:100]] += 1
        element_id = getattr(inner, "id", "") if "id" in inner.DESCRIPTOR.fields_by_name else ""
        if element_id and (key := user_key(element_id)) is not None:
            run.widgets[key] = Widget(element_type, element_id, inner, msg.delta.fragment_id)
