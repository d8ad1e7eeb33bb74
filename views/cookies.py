"""The cookie Streamlit sets once per browser, which the app reads (``submit.browser_id``).

Its one home: ``benchmarks/streamlit_client.py``, which plays the browser, sends the same
cookie, and imports it from here rather than from ``submit`` (which would bring torch and the
app's caches into the client). No imports, so that importing it costs nothing.
"""

XSRF_COOKIE = "_streamlit_xsrf"  # set by Streamlit once per browser, sent with every page
