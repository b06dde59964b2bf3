"""Grouped bars per category (field, model ...), and a slider over precomputed groups of bars."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from minime.plots.slider import slider_figure
from minime.plots.theme import PALETTE, styled

__all__ = ["bars_slider", "grouped_bars"]


def _bar_traces(categories: Sequence[str], series: Mapping[str, Sequence[float] | None],
                bound=None, bound_label: str = "bound") -> list:
    """One Bar per series (None skipped) and a dash marker per category for ``bound``."""
    categories = list(categories)
    if bound is not None and np.ndim(bound) == 0:
        bound = [float(bound)] * len(categories)
    lengths = {k: len(v) for k, v in {**series, "bound": bound}.items()
               if v is not None and len(v) != len(categories)}
    if lengths:
        raise ValueError(f"need one value per category ({len(categories)}), got lengths {lengths}")
    traces = [go.Bar(x=categories, y=[float(v) for v in values], name=name,
                     marker_color=PALETTE[i % len(PALETTE)],
                     hovertemplate=f"%{{x}}: %{{y:.3g}} ({name})<extra></extra>")
              for i, (name, values) in enumerate(series.items()) if values is not None]
    if bound is not None:
        traces.append(go.Scatter(x=categories, y=[float(b) for b in bound], name=bound_label,
                                 mode="markers", marker=dict(symbol="line-ew-open", size=28,
                                                             color="black", line_width=2),
                                 hovertemplate=f"%{{x}}: {bound_label} %{{y:g}}<extra></extra>"))
    return traces


def grouped_bars(categories: Sequence[str], series: Mapping[str, Sequence[float] | None], *,
                 bound: float | Sequence[float] | None = None, bound_label: str = "bound",
                 x_title: str = "field", y_title: str = "", title: str | None = None) -> go.Figure:
    """Bars side by side for every category, one colour per series, optional bound markers.

    Args:
        categories: the x labels (e.g. field names), in the order drawn.
        series: series name -> one value per category (None: left out).
        bound: optional reference, one number or one per category, drawn as a dash marker.
        bound_label: legend name of the bound.
        x_title, y_title: axis titles.
        title: figure title.

    Returns:
        A plotly Figure.

    Example:
        >>> fig = grouped_bars(["a", "b"], {"SE": [1, 2], "ME": [2, 3]}, bound=4)
        >>> [t.name for t in fig.data], list(fig.data[1].y)
        (['SE', 'ME', 'bound'], [2.0, 3.0])
    """
    fig = go.Figure(_bar_traces(categories, series, bound, bound_label))
    fig.update_layout(barmode="group")
    fig.update_xaxes(title=x_title)
    fig.update_yaxes(title=y_title, rangemode="tozero")
    return styled(fig, title)


def bars_slider(steps: Mapping[str, Mapping[str, Sequence[float]]], categories: Sequence[str], *,
                prefix: str = "", y_title: str = "", x_title: str = "field",
                title: str | None = None) -> go.Figure:
    """A slider over precomputed groups of bars (e.g. one group per model configuration).

    Args:
        steps: slider label -> {series name -> one value per category}.
        categories: the x labels shared by every step.
        prefix: text before the current label.
        y_title, x_title: axis titles.
        title: figure title.

    Returns:
        A plotly Figure whose slider shows one step's bars at a time (no kernel needed); the y
        range is fixed over all steps so that bars can be compared while sliding.

    Example:
        >>> fig = bars_slider({"1": {"SE": [1, 2]}, "2": {"SE": [3, 4]}}, ["a", "b"])
        >>> len(fig.layout.sliders[0].steps), [t.visible for t in fig.data]
        (2, [True, False])
    """
    groups = [_bar_traces(categories, series) for series in steps.values()]
    fig = slider_figure(groups, list(steps), prefix=prefix, title=title)
    top = max(float(np.nanmax(t.y)) for traces in groups for t in traces)
    fig.update_layout(barmode="group")
    fig.update_xaxes(title=x_title)
    fig.update_yaxes(title=y_title, range=[0, 1.08 * top])
    return fig
