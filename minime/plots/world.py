"""Figures of the synthetic world: field sizes and how long-tailed their ids are."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from minime.plots.slider import slider_figure
from minime.plots.theme import PALETTE, styled

__all__ = ["field_cardinalities", "id_frequency", "zipf_slider"]


def field_cardinalities(names: Sequence[str], field_dims: Sequence[int], *,
                        title: str = "Cardinality of each field") -> go.Figure:
    """Bars of every field's number of ids, on a log axis.

    Args:
        names: the F field names.
        field_dims: the F cardinalities.
        title: figure title.

    Returns:
        A plotly Figure.

    Example:
        >>> list(field_cardinalities(["gender", "item_id"], [2, 3000]).data[0].y)
        [2, 3000]
    """
    if len(names) != len(field_dims):
        raise ValueError(f"{len(names)} names for {len(field_dims)} field_dims")
    fig = go.Figure(go.Bar(x=list(names), y=list(field_dims), text=[f"{d:,}" for d in field_dims],
                           textposition="outside", marker_color=PALETTE[0],
                           hovertemplate="%{x}: %{y:,} ids<extra></extra>"))
    fig.update_yaxes(type="log", title="ids (log scale)")
    fig.update_xaxes(title="field")
    return styled(fig, title, height=380)


def id_frequency(counts: Mapping[str, np.ndarray], *,
                 title: str = "How often each id appears, most popular first") -> go.Figure:
    """Log-log share of rows against popularity rank, one line per field.

    Args:
        counts: field name -> (V,) number of rows of each id (any order; ids never seen count 0
            and are left out, since a log axis cannot show them).
        title: figure title.

    Returns:
        A plotly Figure.

    Example:
        >>> fig = id_frequency({"a": np.array([5, 0, 1])})
        >>> fig.data[0].y.tolist()
        [0.8333333333333334, 0.16666666666666666]
    """
    fig = go.Figure()
    for i, (name, c) in enumerate(counts.items()):
        c = np.sort(np.asarray(c, dtype=float))[::-1]
        c = c[c > 0]
        fig.add_trace(go.Scatter(x=np.arange(1, len(c) + 1), y=c / c.sum(), name=name,
                                 mode="lines", line=dict(color=PALETTE[i % len(PALETTE)]),
                                 hovertemplate=f"{name}: rank %{{x}}, share %{{y:.2%}}<extra></extra>"))
    fig.update_xaxes(type="log", title="popularity rank k")
    fig.update_yaxes(type="log", title="share of rows")
    return styled(fig, title)


def zipf_slider(curves: Mapping[float, np.ndarray], *, head: float = 0.01,
                title: str = "Zipf's law: probability of the k-th most popular id") -> go.Figure:
    """A slider over Zipf exponents s: the probability of each rank, and the head's share.

    Args:
        curves: exponent s -> (V,) probabilities in popularity order (e.g. from
            ``minime.data.synthetic.zipf_by_rank``).
        head: the fraction of top ids whose share each step's title reports.
        title: prefix of every step's title.

    Returns:
        A plotly Figure whose slider steps through the exponents (works without a kernel).

    Example:
        >>> fig = zipf_slider({0.0: np.full(4, 0.25), 1.0: np.array([.48, .24, .16, .12])})
        >>> len(fig.layout.sliders[0].steps)
        2
    """
    steps, labels, titles = [], [], []
    for s, p in curves.items():
        p = np.asarray(p, dtype=float)
        top = p[: max(1, int(round(head * len(p))))].sum()
        steps.append([go.Scatter(x=np.arange(1, len(p) + 1), y=p, mode="lines",
                                 line=dict(color=PALETTE[0], width=3), name=f"s = {s:g}",
                                 hovertemplate="rank %{x}: %{y:.2e}<extra></extra>")])
        labels.append(f"{s:g}")
        titles.append(f"{title}<br><sup>s = {s:g}: the top {head:.0%} of ids take "
                      f"{top:.1%} of the rows</sup>")
    fig = slider_figure(steps, labels, prefix="exponent s = ", step_titles=titles)
    fig.update_xaxes(type="log", title="popularity rank k")
    fig.update_yaxes(type="log", title="probability", exponentformat="power")
    return fig
