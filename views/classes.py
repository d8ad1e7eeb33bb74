"""Classes on one server: the class a page belongs to (``/?class=7b``), the link and QR code a
class joins by, the teacher's list of classes, and the page's own link for lesson plans.

The entry script reads the code once per run (``enter_class``); the views ask ``current_class``.
Without a code a page is in the default class, as before classes existed.
"""

from __future__ import annotations

import io
import os
from urllib.parse import urlencode, urlsplit, urlunsplit

import segno
import streamlit as st
from streamlit.net_util import get_internal_ip

from mnist_small.classset.store import DEFAULT_CLASS, ClassSetError, normalize_code

from .context import log
from .resources import class_set, current_class

CLASS_PARAM = "class"
PUBLIC_URL_ENV = "MNIST_SMALL_PUBLIC_URL"  # the address phones reach the app by, when the projector's is localhost
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "0.0.0.0")


def enter_class(url: str) -> str:
    """The class of this page from its ``class`` query parameter (the default class without
    one), kept for the views of this run; says so on the page when the code is bad or the class
    is not open."""
    raw = st.query_params.get(CLASS_PARAM)
    code = DEFAULT_CLASS
    if raw:
        try:
            code = normalize_code(raw)
            if raw != code:
                st.query_params[CLASS_PARAM] = code  # one spelling per class in the address bar and in shared links
        except ValueError as err:
            st.warning(f"This link's class code cannot be used ({err}); you are in no class. Ask your teacher for the link.")
    st.session_state.class_code = code
    st.session_state.class_is_open = code == DEFAULT_CLASS or class_is_open(url, code)
    return code


@st.cache_data(ttl=5, show_spinner=False)
def class_is_open(url: str, code: str) -> bool:
    """Whether the class takes drawings, read at most every 5 s per server: every stroke reruns
    the page (``add`` checks it again, in its own transaction)."""
    try:
        return class_set(url, code).is_open()
    except ClassSetError as err:
        log.warning("class set: %s", err)
        return True  # the submit button says it when it fails; drawing goes on


def show_badge(code: str) -> None:
    """Which class this page is in, and whether it takes drawings."""
    if code == DEFAULT_CLASS:
        return
    st.markdown(f":material/school: Class **{code}**", help="Your drawings go to this class's set, leaderboard and gallery, and no other.")
    if not st.session_state.get("class_is_open", True):
        st.warning(f"Class {code} is not open: drawing works, but drawings cannot be added to its set. Ask your teacher.")


def base_url() -> str:
    """The app's address as a phone in the room reaches it: ``$MNIST_SMALL_PUBLIC_URL`` if set,
    else the address of this page, with this machine's network address for localhost."""
    if os.environ.get(PUBLIC_URL_ENV):
        return os.environ[PUBLIC_URL_ENV].rstrip("/") + "/"
    page = st.context.url or "http://localhost:8501/"
    parts = urlsplit(page)
    if parts.hostname in LOCAL_HOSTS and (ip := get_internal_ip()):
        parts = parts._replace(netloc=f"{ip}:{parts.port}" if parts.port else ip)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/", query="", fragment=""))


def join_link(code: str) -> str:
    return base_url() + ("" if code == DEFAULT_CLASS else "?" + urlencode({CLASS_PARAM: code}))


def view_link() -> str:
    """This page as it is now: the class, the model and the tab; a lesson plan can open it."""
    params = {k: v for k, v in st.query_params.to_dict().items() if v}
    return base_url() + ("?" + urlencode(params) if params else "")


@st.cache_data(max_entries=64, show_spinner=False)
def qr_png(link: str) -> bytes:
    """The link as a QR code, 12 px a module: sharp on a projector and scannable from the back of a room."""
    picture = io.BytesIO()
    segno.make(link, error="m").save(picture, kind="png", scale=12, border=2)
    return picture.getvalue()


def show_join(code: str) -> None:
    """On the Class tab: the link this class joins by, and its QR code, big."""
    link = join_link(code)
    text, picture = st.columns([3, 2], vertical_alignment="center")
    with text:
        name = "this class" if code == DEFAULT_CLASS else f"class **{code}**"
        st.markdown(f"**Join {name}:** scan the code with a phone's camera, or open")
        st.code(link, language=None)
        if st.button("Show the QR code full screen", key="qr_full", icon=":material/qr_code_2:"):
            full_screen_qr(link)
    with picture.container(key="join_qr"):
        st.image(qr_png(link), width=320, caption=f"Join {code}" if code != DEFAULT_CLASS else None)


@st.dialog("Scan to join", width="large")
def full_screen_qr(link: str) -> None:
    with st.container(key="join_qr_full"):
        st.image(qr_png(link), width="stretch")
    st.code(link, language=None)


def show_link_to_view() -> None:
    """In the sidebar: the link that opens this view (class, model, tab) for a lesson plan."""
    with st.expander("Link to this view"):
        st.code(view_link(), language=None)
        st.caption("Opens this class, model and tab. Put it in a lesson plan or a chat.")


MAX_LISTED = 40  # classes listed for the teacher; a school year makes many


def go_to(code: str) -> None:
    """This page moves to class ``code``; the session (and the unlocked teacher controls) stay."""
    if code == DEFAULT_CLASS:
        st.query_params.pop(CLASS_PARAM, None)
    else:
        st.query_params[CLASS_PARAM] = code


def show_classes(url: str) -> None:
    """The teacher's list of classes: open a new one (this page moves to it, showing its QR code),
    go to one, close or reopen one."""
    st.subheader("Classes")
    store = class_set(url)
    with st.form("open_class", border=False, enter_to_submit=True):
        typed = st.text_input("Open a class", placeholder="a short code, e.g. 7b", max_chars=16, key="new_class")
        if st.form_submit_button("Open", icon=":material/add:"):
            try:
                code = normalize_code(typed)
            except ValueError as err:
                st.warning(str(err))
            else:
                store.in_class(code).open_class()
                go_to(code)
                st.rerun()
    rows = store.classes()
    for info in rows[:MAX_LISTED]:
        name, count, state, go, toggle = st.columns([2, 2, 3, 2, 2], vertical_alignment="center")
        here = info.code == current_class()
        name.markdown(f"**{info.code}**" + (" (this page)" if here else ""))
        count.write(f"{info.drawings} drawing{'s' if info.drawings != 1 else ''}")
        state.write("open" if info.is_open else "closed: keeps its drawings, takes no new ones")
        go.button("Go to it", key=f"class_go_{info.code}", disabled=here, on_click=go_to, args=(info.code,))
        if info.code != DEFAULT_CLASS:
            label = "Close" if info.is_open else "Reopen"
            if toggle.button(label, key=f"class_toggle_{info.code}"):
                sibling = store.in_class(info.code)
                sibling.close_class() if info.is_open else sibling.open_class()
                class_is_open.clear()
                st.rerun()
    if len(rows) > MAX_LISTED:
        st.caption(f"…and {len(rows) - MAX_LISTED} more; open one by typing its code above.")
