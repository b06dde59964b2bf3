"""The built book in a real browser: every figure renders, sliders move, math and widgets show.

These tests read ``_build/html`` (build it first: ``jupyter-book build . --all -W -n
--keep-going``), serve it on 127.0.0.1 and open every page of ``_toc.yml`` in headless Debian
Chromium driven by Playwright. They are marked ``pages`` and deselected by default; ``.ci/test``
runs them after the strict build. Screenshots go to ``artifacts/pages/``.
"""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import threading
from pathlib import Path

import pytest

from booktools import ROOT, toc_pages

pytestmark = pytest.mark.pages

HTML = ROOT / "_build" / "html"
EXECUTED = ROOT / "_build" / "jupyter_execute"
SHOTS = ROOT / "artifacts" / "pages"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
PLOTLY_MIME = "application/vnd.plotly.v1+json"


def expected_figures(doc: str) -> int:
    """Plotly figures the executed notebook of ``doc`` produced (0 for plain pages)."""
    nb = EXECUTED / f"{doc}.ipynb"
    if not nb.exists():
        return 0
    cells = json.loads(nb.read_text())["cells"]
    outputs = [o for c in cells if c["cell_type"] == "code" for o in c.get("outputs", [])]
    return sum(PLOTLY_MIME in o.get("data", {}) for o in outputs)


@pytest.fixture(scope="module")
def server():
    if not (HTML / "index.html").exists():
        pytest.fail(f"{HTML} has no index.html: build the book first (see README)")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    exe = shutil.which("chromium")
    if exe is None:
        pytest.fail("Debian chromium is not installed: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_FLAGS)
        yield b
        b.close()


RENDER_STATE = """() => {
  const divs = [...document.querySelectorAll('.plotly-graph-div')];
  const math = [...document.querySelectorAll('.math')];
  const views = [...document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]')];
  return {
    figures: divs.length,
    drawn: divs.filter(d => d.querySelector('svg.main-svg')).length,
    math: math.length,
    typeset: math.filter(m => m.querySelector('mjx-container')).length,
    widgetViews: views.length,
    widgetsShown: document.querySelectorAll('.jupyter-widgets').length,
  };
}"""


def open_page(browser, url: str):
    """Open ``url``; return the page and the list that collects its JavaScript errors."""
    page = browser.new_page(viewport={"width": 1280, "height": 2000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    page.on("console", lambda m: m.type == "error" and errors.append(f"console: {m.text}"))
    page.goto(url, wait_until="load")
    try:  # MathJax, plotly and the widget manager draw after load: wait until all are done
        page.wait_for_function(f"() => {{ const s = ({RENDER_STATE})(); return s.drawn === "
                               "s.figures && s.typeset === s.math && (s.widgetsShown > 0 || "
                               "s.widgetViews === 0); }", timeout=30_000)
    except Exception:  # noqa: BLE001 - the assertions below report what did not render
        pass
    return page, errors





@pytest.mark.parametrize("doc", toc_pages())
def test_page_renders(server, browser, doc):
    page, errors = open_page(browser, f"{server}/{doc}.html")
    state = page.evaluate(RENDER_STATE)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{Path(doc).name}.png"), full_page=True)
    page.close()
    want = expected_figures(doc)
    assert state["figures"] >= want, f"{doc}: {want} figures executed, {state['figures']} on page"
    assert state["drawn"] == state["figures"], f"{doc}: plotly did not draw every figure: {state}"
    assert state["typeset"] == state["math"], f"{doc}: MathJax left raw TeX: {state}"
    if state["widgetViews"]:
        assert state["widgetsShown"] > 0, f"{doc}: widget views did not render: {state}"
    assert not errors, f"{doc}: JavaScript errors: {errors}"


SLIDERS = """() => [...document.querySelectorAll('.plotly-graph-div')]
  .map((d, i) => [i, (d.layout.sliders || []).length]).filter(([, n]) => n > 0).map(([i]) => i)"""
VISIBLE = """(i) => document.querySelectorAll('.plotly-graph-div')[i].data
  .map(t => t.visible === undefined || t.visible === true)"""


@pytest.mark.parametrize("doc", toc_pages())
def test_sliders_move(server, browser, doc):
    """Clicking the right end of every slider shows a different set of traces."""
    page, errors = open_page(browser, f"{server}/{doc}.html")
    for i in page.evaluate(SLIDERS):
        before = page.evaluate(VISIBLE, i)
        rail = page.locator(".plotly-graph-div").nth(i).locator(".slider-rail-rect").first
        rail.scroll_into_view_if_needed()
        box = rail.bounding_box()
        page.mouse.click(box["x"] + box["width"] - 2, box["y"] + box["height"] / 2)
        after = before
        for _ in range(40):  # a busy machine can take seconds to relayout: poll, up to 10 s
            page.wait_for_timeout(250)
            after = page.evaluate(VISIBLE, i)
            if after != before:
                break
        assert after != before, f"{doc}: slider of figure {i} did not change the traces"
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{Path(doc).name}-slider{i}.png"), full_page=True)
    page.close()
    assert not errors, f"{doc}: JavaScript errors: {errors}"


def test_appendix_a_renders_its_tables():
    """The build-time table and the committed benchmark tables are HTML tables, not text."""
    html = (HTML / "book" / "appendix_a_performance.html").read_text()
    results = ROOT / "benchmarks" / "results"
    expected = 1 + (results / "summary.md").exists() + (results / "throughput.json").exists()
    assert html.count("<table") >= expected, f"{html.count('<table')} tables, {expected} expected"
    assert "| measurement |" not in html  # a Markdown table left as a paragraph
