"""Sphinx extension: serve plotly.js and the vendored JavaScript once, from _static/offline.

Figures in the book are ``text/html`` outputs without plotly.js (see ``minime.notebook``); this
extension adds one ``<script src="_static/offline/plotly.min.js">`` to every page and copies the
file from the installed ``plotly`` package, so the figures need no CDN and always match the
plotly that made them. It also copies ``book/_vendor`` (require.js, the ipywidgets html-manager,
MathJax 3) next to it; ``_config.yml`` points MathJax and myst-nb's widget scripts there.

The files are copied after the build rather than kept in a top-level ``_static/``, because Jupyter
Book 1 adds every ``.js`` under ``_static/`` to every page.
"""

import shutil
from pathlib import Path

OFFLINE = "offline"


def _copy_assets(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    import plotly

    dst = Path(app.outdir) / "_static" / OFFLINE
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copy2(
        Path(plotly.__file__).parent / "package_data" / "plotly.min.js", dst / "plotly.min.js"
    )
    shutil.copy2(Path(__file__).parent / "mathjax2_shim.js", dst / "mathjax2_shim.js")
    vendor = Path(app.srcdir) / "book" / "_vendor"
    shutil.copytree(vendor, dst, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("*.md", "widget-fonts"))
    # The widget manager asks for its icon fonts relative to the page (book/...), not to itself
    for sub in ("@jupyter-widgets/html-manager/dist", "@jupyter-widgets"):
        shutil.copytree(vendor / "widget-fonts", Path(app.outdir) / "book" / sub,
                        dirs_exist_ok=True)


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    """Drop repeated ``<script>`` entries (sphinx-thebe registers its inline config twice under
    Jupyter Book 1, and the second ``const THEBE_JS_URL`` raises a JavaScript error)."""
    seen, unique = set(), []
    for script in context.get("script_files", []):
        key = (getattr(script, "filename", str(script)) or None,  # inline scripts: None or ""
               tuple(sorted((getattr(script, "attributes", None) or {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    # in place: handlers that run later (myst-nb's widget and MathJax scripts) append to this list
    context["script_files"][:] = unique


def setup(app):
    app.add_js_file(f"{OFFLINE}/plotly.min.js")
    app.add_js_file(f"{OFFLINE}/mathjax2_shim.js", defer="defer", priority=900)
    app.connect("html-page-context", _dedupe_scripts, priority=100)  # before any handler that returns
    app.connect("build-finished", _copy_assets)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
