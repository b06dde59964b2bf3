"""Feature-correlation heat-maps (the CTC ground truth beside what sequence models learned) and
the neighbourhoods of learned value embeddings."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from minime.plots.slider import slider_figure
from minime.plots.theme import styled

__all__ = ["correlation_maps", "correlation_slider", "min_max", "value_neighbourhood"]


def min_max(a) -> np.ndarray:
    """``(a − min) / (max − min)``, as P1's tool normalises every map (a constant map: zeros).

    Example:
        >>> min_max([[2.0, 4.0], [3.0, 2.0]]).tolist()
        [[0.0, 1.0], [0.5, 0.0]]
    """
    a = np.asarray(a, dtype=np.float64)
    span = np.nanmax(a) - np.nanmin(a)
    return np.zeros_like(a) if span == 0 else (a - np.nanmin(a)) / span


def correlation_maps(maps: Mapping[str, object], categories: Sequence[str],
                     positions: Sequence[int], *,
                     title: str = "Which behaviours matter for the target: truth and learned"
                     ) -> go.Figure:
    """Behaviour category × target-relative position maps side by side, each min-max normalised.

    Args:
        maps: panel title -> ``(C, P)`` array, e.g. ``{"CTC (truth)": analysis.ctc_map(...),
            "TIM": tim.correlation_map(...), "DIN": ...}``.
        categories: the ``C`` behaviour categories (rows, first on top), e.g. the target's first.
        positions: the ``P`` positions (columns; 1 = the most recent behaviour).
        title: figure title.

    Returns:
        A plotly Figure with one Heatmap per panel on the colour range [0, 1].

    Example:
        >>> fig = correlation_maps({"CTC": [[1, 0], [0, 0]], "TIM": [[3, 2], [1, 1]]},
        ...                        ["same", "other"], [1, 2])
        >>> len(fig.data), fig.data[1].z.tolist()
        (2, [[1.0, 0.5], [0.0, 0.0]])
    """
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in maps.items()}
    shape = (len(categories), len(positions))
    bad = {k: a.shape for k, a in arrays.items() if a.shape != shape}
    if bad or not arrays:
        raise ValueError(f"every map must be (categories, positions) = {shape}; got {bad or 'none'}")
    fig = make_subplots(rows=1, cols=len(arrays), subplot_titles=list(arrays),
                        shared_yaxes=True, horizontal_spacing=0.04)
    for k, (name, a) in enumerate(arrays.items()):
        fig.add_trace(go.Heatmap(
            z=min_max(a), x=[str(p) for p in positions], y=[str(c) for c in categories],
            zmin=0.0, zmax=1.0, colorscale="Blues", showscale=k == len(arrays) - 1,
            colorbar=dict(title="normalised"), name=name,
            hovertemplate=name + ": category %{y}, position %{x}: %{z:.2f}<extra></extra>"),
            row=1, col=k + 1)
        fig.update_xaxes(title="position (1 = most recent)", row=1, col=k + 1, showgrid=False)
    fig.update_yaxes(title="behaviour category", autorange="reversed", showgrid=False, col=1)
    return styled(fig, title, height=max(320, 160 + 28 * len(categories)))


def correlation_slider(steps: Mapping[str, Mapping[str, object]], categories: Sequence[str],
                       positions: Sequence[int], *, prefix: str = "target category ",
                       title: str = "Which behaviours matter for the target: truth and learned"
                       ) -> go.Figure:
    """:func:`correlation_maps` with a slider over precomputed steps (e.g. one per target).

    Args:
        steps: slider label -> {panel title -> ``(C, P)`` map}; every step has the same panels.
        categories, positions: the rows and columns, as :func:`correlation_maps`.
        prefix: text before the current label.
        title: figure title.

    Returns:
        A plotly Figure, one step's panels visible at a time (a single step: no slider).

    Example:
        >>> fig = correlation_slider({"0": {"CTC": [[1, 0]], "TIM": [[2, 1]]},
        ...                           "1": {"CTC": [[0, 1]], "TIM": [[1, 2]]}}, ["c"], [1, 2])
        >>> len(fig.data), len(fig.layout.sliders[0].steps), fig.data[2].visible
        (4, 2, False)
    """
    figures = [correlation_maps(maps, categories, positions, title=title) for maps in steps.values()]
    panels = {tuple(m) for m in steps.values()}
    if len(panels) > 1:
        raise ValueError(f"every step must have the same panels, got {sorted(panels)}")
    return slider_figure([list(f.data) for f in figures], list(steps), prefix=prefix,
                         title=title, layout=figures[0].layout)


def value_neighbourhood(rows: Mapping[str, object], anchor: int, *, rare=None,
                        x_title: str = "value",
                        title: str = "Cosine similarity of every value's embedding to one value's"
                        ) -> go.Figure:
    """One line per encoding: ``cos(e_v, e_anchor)`` for every value ``v``, rare values shaded.

    Args:
        rows: label -> ``(V, D)`` learned vectors of the values ``0 .. V − 1``.
        anchor: the value the others are compared with (marked by a vertical line).
        rare: optional ``(V,)`` booleans, the values rare in training (shaded).
        x_title, title: axis and figure titles.

    Returns:
        A plotly Figure.

    Example:
        >>> fig = value_neighbourhood({"MNSE": [[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]}, 0)
        >>> [round(float(v), 3) for v in fig.data[0].y]
        [1.0, 0.707, 0.0]
    """
    fig = go.Figure()
    for label, r in rows.items():
        r = np.asarray(r, dtype=np.float64)
        if not 0 <= anchor < len(r):
            raise ValueError(f"anchor {anchor} is not a value of {label!r} (0..{len(r) - 1})")
        unit = r / np.maximum(np.linalg.norm(r, axis=1, keepdims=True), 1e-12)
        fig.add_trace(go.Scatter(x=np.arange(len(r)), y=unit @ unit[anchor], mode="lines",
                                 name=label))
    if rare is not None:
        for start, stop in _runs(np.asarray(rare, dtype=bool)):
            fig.add_vrect(x0=start - 0.5, x1=stop - 0.5, fillcolor="grey", opacity=0.15,
                          line_width=0)
    fig.add_vline(x=anchor, line_dash="dot")
    fig.update_xaxes(title=x_title)
    fig.update_yaxes(title=f"cosine to value {anchor}")
    return styled(fig, title)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[start, stop)`` of every run of True in a boolean vector."""
    edges = np.flatnonzero(np.diff(np.r_[0, mask.astype(np.int8), 0]))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))
