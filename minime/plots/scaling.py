"""Metrics against a size (embedding width, number of tables): one panel per metric."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from minime.plots.theme import PALETTE, styled

__all__ = ["metric_panels"]


def metric_panels(x: Sequence, panels: Mapping[str, Mapping[str, Sequence]], *,
                  x_title: str = "embedding dimension D",
                  title: str = "Metrics against size") -> go.Figure:
    """Side-by-side panels, one per metric, with one line per model across the sizes ``x``.

    Args:
        x: the sizes, e.g. embedding dims ``[8, 16, 32]``.
        panels: metric name -> {model name -> values at each size}. A value may also be a
            sequence of repeats (e.g. seeds): the line shows their mean and the error bar their
            standard deviation. A model may be missing from a panel.
        x_title: label of every x axis.
        title: figure title.

    Returns:
        A plotly Figure; a model keeps its colour across panels.

    Example:
        >>> fig = metric_panels([8, 16], {"AUC": {"DCNv2": [0.80, 0.81]},
        ...                               "IA": {"DCNv2": [[2.0, 2.2], [3.0, 3.2]]}})
        >>> [list(t.y) for t in fig.data]
        [[0.8, 0.81], [2.1, 3.1]]
    """
    names = list(dict.fromkeys(n for series in panels.values() for n in series))
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=list(panels))
    for col, series in enumerate(panels.values(), start=1):
        for name, values in series.items():
            if len(values) != len(x):
                raise ValueError(f"{name!r} has {len(values)} values for {len(x)} sizes")
            runs = [np.atleast_1d(np.asarray(v, dtype=float)) for v in values]
            mean = [float(r.mean()) for r in runs]
            std = [float(r.std(ddof=1)) if len(r) > 1 else 0.0 for r in runs]
            color = PALETTE[names.index(name) % len(PALETTE)]
            fig.add_trace(go.Scatter(
                x=list(x), y=mean, name=name, legendgroup=name, showlegend=col == 1,
                mode="lines+markers", line=dict(color=color),
                error_y=dict(type="data", array=std, visible=any(s > 0 for s in std))),
                row=1, col=col)
    fig.update_xaxes(type="category")
    fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.18, x=0.5,
                                  xanchor="center"),
                      margin=dict(b=110))
    fig.add_annotation(text=x_title, x=0.5, y=-0.1, xref="paper", yref="paper",
                       showarrow=False, yanchor="top")  # one x title under all panels
    return styled(fig, title, height=440)
