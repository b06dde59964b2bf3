"""Feature-correlation heat-maps: the CTC ground truth beside what sequence models learned."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from minime.plots.theme import styled

__all__ = ["correlation_maps", "min_max"]


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
