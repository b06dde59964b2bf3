"""Chapter set-up: plotly renderer for the book, Jupyter and Colab, seed, device, scale.

Every chapter's first code cell calls :func:`setup`. It

* registers a ``book`` plotly renderer that emits a small ``text/html`` output *without*
  plotly.js (Jupyter Book 1 drops plotly's own mimetype; the local Sphinx extension
  ``book/_ext/offline_assets.py`` serves ``plotly.min.js`` once per page instead);
* picks ``plotly_mimetype+book`` in Jupyter (the mimetype for JupyterLab/VS Code, the html
  for the book) and plotly's ``colab`` renderer on Colab;
* seeds Python, numpy and torch from ``MINIME_SEED`` (default 0; chapters derive every world and
  training seed from it), uses one intra-op thread at ``ci`` scale, and
* chooses the device: CUDA when present, else CPU.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import torch

from minime.studies import scales

__all__ = ["IN_COLAB", "SEED_ENV", "Session", "choose_renderer", "glue", "read_seed",
           "register_book_renderer", "setup"]

SEED_ENV = "MINIME_SEED"  # the environment variable holding every chapter's seed
#: True inside Google Colab.
IN_COLAB = "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


@dataclass(frozen=True)
class Session:
    """What :func:`setup` chose; chapters keep it as ``ctx``."""

    scale: str
    device: torch.device
    seed: int
    renderer: str

    def __str__(self) -> str:
        return f"minime: scale={self.scale}, device={self.device}, seed={self.seed}"

    def seeds(self, offsets) -> tuple[int, ...]:
        """A chapter's seeds shifted by this session's: ``(seed + k for k in offsets)``.

        Example:
            >>> Session("ci", torch.device("cpu"), 1, "json").seeds((0, 1, 2))
            (1, 2, 3)
        """
        return tuple(self.seed + int(k) for k in offsets)


def _book_html(fig_dict: dict) -> dict:
    import plotly.io as pio

    html = pio.to_html(
        fig_dict,
        include_plotlyjs=False,
        include_mathjax=False,
        full_html=False,
        default_width="100%",
        default_height=fig_dict.get("layout", {}).get("height") or 480,
        validate=False,
        config={"displaylogo": False, "responsive": True},
    )
    return {"text/html": html}


def register_book_renderer() -> None:
    """Register plotly's ``book`` renderer (text/html without plotly.js; idempotent)."""
    import plotly.io as pio
    from plotly.io.base_renderers import MimetypeRenderer

    class BookRenderer(MimetypeRenderer):
        def to_mimebundle(self, fig_dict):
            return _book_html(fig_dict)

    pio.renderers["book"] = BookRenderer()


def choose_renderer() -> str:
    """Set and return plotly's default renderer for this environment.

    ``MINIME_PLOTLY`` overrides the choice (any plotly renderer name, e.g. ``notebook``);
    plotly's own ``PLOTLY_RENDERER`` accepts only built-in names, so we do not use it.
    """
    import plotly.io as pio

    register_book_renderer()
    override = os.environ.get("MINIME_PLOTLY")
    if override:
        pio.renderers.default = override
    elif IN_COLAB:
        pio.renderers.default = "colab"
    else:
        pio.renderers.default = "plotly_mimetype+book"
    return pio.renderers.default


def setup(seed: int | None = None, *, verbose: bool = True) -> Session:
    """Prepare a chapter: renderer, seed, threads, device; print scale, device and seed.

    Args:
        seed: the chapter's seed: it seeds Python's, numpy's and torch's generators, and chapters
            derive their world and training seeds from it (``ctx.seed``, ``ctx.seeds(...)``).
            None reads ``MINIME_SEED`` (default 0), so one variable reruns a whole chapter on
            another seed.
        verbose: print one line saying the scale, device and seed.

    Returns:
        A :class:`Session` with ``scale``, ``device``, ``seed`` and ``renderer``.

    Example:
        >>> ctx = setup(0, verbose=False)
        >>> ctx.seed
        0
    """
    from minime import train

    seed = read_seed() if seed is None else int(seed)

    renderer = choose_renderer()
    if scales.SCALE == "ci" or (os.cpu_count() or 1) <= 2:
        torch.set_num_threads(1)  # small models on 2 cores: one thread is faster and steadier
    train.set_seed(seed)
    session = Session(scales.SCALE, train.device(), seed, renderer)
    if verbose:
        print(session)
    return session


def read_seed() -> int:
    """The seed in ``MINIME_SEED`` (default 0); a ValueError names a value that is not one.

    Example:
        >>> read_seed() >= 0
        True
    """
    value = os.environ.get(SEED_ENV, "0").strip() or "0"
    if not value.isdigit():
        raise ValueError(f"{SEED_ENV}={value!r} is not a seed; use a non-negative integer, e.g. "
                         f"{SEED_ENV}=1")
    return int(value)


def glue(name: str, value, *, display: bool = False) -> None:
    """Store ``value`` for the book's prose (``{glue:text}`name```); a no-op off the book.

    Jupyter Book's ``myst_nb.glue`` is used when it is installed (building the book, nbmake);
    on Colab, where it is not, nothing is stored and the value is shown if ``display``. numpy and torch scalars are stored as Python
    numbers, so that formats such as ``{glue:text}`name:.2f``` work.

    Args:
        name: the key used in the text.
        value: a number, string or figure.
        display: also show the value as the cell's output.

    Example:
        >>> glue("answer", 42)
    """
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()
    try:
        from myst_nb import glue as myst_glue
    except ImportError:  # Colab and plain Jupyter without myst-nb: nothing to store
        if display:
            from IPython.display import display as show

            show(value)
        return
    myst_glue(name, value, display=display)
