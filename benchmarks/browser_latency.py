"""The app in real Chromium: cold start, mouse-up -> updated prediction, and 20 sessions at once.

    python -m benchmarks.browser_latency [--drawings 12] [--sessions 20]

Starts `streamlit run streamlit_app.py` on a free localhost port, then
1. cold start: from launching the server to the app's first rendered text;
2. latency: clears the canvas, draws a digit, and times mouse-up -> the prediction shown,
   median over --drawings drawings;
3. load: --sessions browser pages draw at the same time against the one server, each
   --rounds times; reports errors and the p95 update time, and apart from the errors the
   strokes that left no ink (drawn on a canvas still loading, which clears itself once
   loaded: the user sees the stroke vanish and draws again). Bounded: every wait times out.
Needs Debian's chromium at /usr/bin/chromium. Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import time

from PIL import Image
from playwright.async_api import TimeoutError as PlaywrightTimeout
from playwright.async_api import async_playwright, expect

from benchmarks.appserver import BIG_DIGIT, CANVAS, CHROMIUM, CHROMIUM_FLAGS, HINT, running_app

ONE = [(150, 40), (145, 140), (140, 245)]
SEVEN = [(60, 50), (220, 50), (120, 250)]
ANSWER_SHOWN = f"() => document.querySelector({BIG_DIGIT!r}) !== null"


class StrokeLost(Exception):
    """No answer and no ink on the canvas: the stroke never made it onto the drawing."""


async def has_ink(page) -> bool:
    shot = Image.open(io.BytesIO(await page.locator(CANVAS).screenshot())).convert("L")
    inside = shot.crop((3, 3, shot.width - 3, shot.height - 3))  # the element's box can take in a row of the page around it
    return inside.getextrema()[1] > 128


async def draw_and_time(page, stroke) -> float:
    """Clear the canvas, draw ``stroke``, return ms from mouse-up to the prediction on screen."""
    await page.get_by_role("button", name="Clear the canvas").click()
    await page.get_by_text(HINT).wait_for(timeout=30_000)
    # the cleared canvas is a new component: let it mount, and the old one go (on a busy server both
    # are on the page for a while)
    canvas = page.locator(CANVAS)
    await expect(canvas).to_have_count(1, timeout=30_000)
    await page.wait_for_timeout(500)
    box = await canvas.bounding_box()
    await page.mouse.move(box["x"] + stroke[0][0], box["y"] + stroke[0][1])
    await page.mouse.down()
    for x, y in stroke[1:]:
        await page.mouse.move(box["x"] + x, box["y"] + y, steps=10)
    start = time.perf_counter()
    await page.mouse.up()
    # polled on every animation frame: a locator's wait_for polls at growing intervals (up to
    # 500 ms apart) and would add up to half a second to what it measures
    try:
        await page.wait_for_function(ANSWER_SHOWN, timeout=30_000)
    except PlaywrightTimeout:
        if not await has_ink(page):
            raise StrokeLost from None
        raise
    return 1000 * (time.perf_counter() - start)


async def session(browser, url: str, rounds: int, times: list[float], errors: list[str], lost: list[int]) -> None:
    page = await browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        await page.goto(url, timeout=60_000)
        await page.get_by_text(HINT).wait_for(timeout=90_000)
        for i in range(rounds):
            try:
                times.append(await draw_and_time(page, ONE if i % 2 == 0 else SEVEN))
            except StrokeLost:
                lost.append(i)
        if await page.locator('[data-testid="stException"]').count():
            errors.append("exception element on page")
    except Exception as err:  # a benchmark reports failures, it does not stop at the first
        errors.append(f"{type(err).__name__}: {str(err).splitlines()[0]}")
    finally:
        await page.close()


async def main(args: argparse.Namespace) -> None:
    launched = time.perf_counter()
    with running_app() as url:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            page = await browser.new_page(viewport={"width": 1400, "height": 900})
            await page.goto(url, timeout=60_000)
            await page.get_by_text(HINT).wait_for(timeout=90_000)
            print(f"cold_start_s: {time.perf_counter() - launched:.2f}")

            latencies = [await draw_and_time(page, ONE if i % 2 == 0 else SEVEN) for i in range(args.drawings)]
            print(
                f"update_median_ms: {statistics.median(latencies):.0f}  (n={len(latencies)}, min {min(latencies):.0f}, max {max(latencies):.0f})"
            )
            await page.close()

            times: list[float] = []
            errors: list[str] = []
            lost: list[int] = []
            started = time.perf_counter()
            await asyncio.wait_for(
                asyncio.gather(*(session(browser, url, args.rounds, times, errors, lost) for _ in range(args.sessions))),
                timeout=args.timeout,
            )
            times.sort()
            p95 = times[max(0, int(0.95 * len(times)) - 1)] if times else float("nan")
            print(
                f"load_sessions: {args.sessions}, updates: {len(times)}, strokes_lost: {len(lost)}, errors: {len(errors)}, "
                f"wall_s: {time.perf_counter() - started:.1f}"
            )
            print(f"load_update_median_ms: {statistics.median(times) if times else float('nan'):.0f}")
            print(f"load_update_p95_ms: {p95:.0f}")
            for err in errors[:5]:
                print(f"  error: {err}")
            await browser.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--drawings", type=int, default=12)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=600, help="seconds the load phase may take in all")
    asyncio.run(main(parser.parse_args()))
