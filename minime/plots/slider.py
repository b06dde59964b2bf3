"""Figures with a slider over precomputed runs: interactive in the static book, no kernel."""

from __future__ import annotations

from typing import Sequence

import plotly.graph_objects as go

from minime.plots.theme import styled

__all__ = ["matrix_slider", "slider_figure"]


def slider_figure(
    steps: Sequence[Sequence[go.BaseTraceType]],
    labels: Sequence[str],
    *,
    prefix: str = "",
    title: str | None = None,
    active: int = 0,
    step_titles: Sequence[str] | None = None,
    layout: go.Layout | None = None,
) -> go.Figure:
    """One figure whose slider shows one precomputed group of traces at a time.

    Every step's traces are embedded in the page; the slider only toggles their visibility, so
    it works in the static HTML book without Python.

    Args:
        steps: for each slider position, the traces drawn at that position.
        labels: the slider label of each position (same length as ``steps``).
        prefix: text before the current label, e.g. ``"exponent s = "``.
        title: figure title (also used when ``step_titles`` is None).
        active: the position shown first.
        step_titles: optional title per position, replacing ``title`` when it moves.
        layout: a layout to start from, e.g. a subplot grid's (the traces keep their axes).

    Returns:
        A plotly Figure with ``layout.sliders`` set; with a single step (e.g. one size at ``ci``
        scale) there is nothing to slide, and the figure has no slider.

    Example:
        >>> fig = slider_figure([[go.Scatter(y=[1, 2])], [go.Scatter(y=[2, 1])]], ["a", "b"])
        >>> len(fig.layout.sliders[0].steps)
        2
        >>> slider_figure([[go.Scatter(y=[1, 2])]], ["a"]).layout.sliders
        ()
    """
    if len(steps) != len(labels) or not steps:
        raise ValueError(f"need one label per step: {len(steps)} steps, {len(labels)} labels")
    if not 0 <= active < len(steps):
        raise ValueError(f"active={active} is not a step index (0..{len(steps) - 1})")
    owner = [i for i, traces in enumerate(steps) for _ in traces]
    fig = go.Figure([t for traces in steps for t in traces], layout=layout)
    for trace, i in zip(fig.data, owner):
        trace.visible = i == active
    buttons = []
    for i, label in enumerate(labels):
        layout = {}
        if step_titles is not None:
            layout["title.text"] = step_titles[i]
        buttons.append(
            dict(method="update", label=str(label),
                 args=[{"visible": [j == i for j in owner]}, layout])
        )
    if len(steps) > 1:
        fig.update_layout(
            sliders=[dict(active=active, steps=buttons, pad=dict(t=40),
                          currentvalue=dict(prefix=prefix))]
        )
    first_title = step_titles[active] if step_titles is not None else title
    return styled(fig, first_title, height=fig.layout.height or 480)


def matrix_slider(matrices, names, *, prefix: str = "", title: str | None = None,
                  colorbar: str = "", x_title: str = "field j", y_title: str = "field i"):
    """A slider over precomputed square matrices indexed by fields (e.g. one per embedding set).

    Args:
        matrices: slider label -> ``(F, F)`` array; all share one colour range.
        names: the ``F`` field names labelling both axes.
        prefix: text before the current label.
        title: figure title.
        colorbar: colour bar title.
        x_title, y_title: axis titles.

    Returns:
        A plotly Figure of heat-maps (first row on top), one visible at a time.

    Example:
        >>> import numpy as np
        >>> fig = matrix_slider({"set 1": np.eye(2), "set 2": np.ones((2, 2))}, ["a", "b"])
        >>> len(fig.data), fig.data[0].zmax
        (2, 1.0)
    """
    import numpy as np

    arrays = {k: np.asarray(v, dtype=float) for k, v in matrices.items()}
    if any(a.shape != (len(names), len(names)) for a in arrays.values()):
        raise ValueError(f"every matrix must be ({len(names)}, {len(names)})")
    low = min(float(np.nanmin(a)) for a in arrays.values())
    high = max(float(np.nanmax(a)) for a in arrays.values())
    steps = [[go.Heatmap(z=a, x=list(names), y=list(names), zmin=low, zmax=high,
                         colorscale="Blues", colorbar=dict(title=colorbar),
                         hovertemplate="%{y} ← %{x}: %{z:.3g}<extra></extra>")]
             for a in arrays.values()]
    fig = slider_figure(steps, list(arrays), prefix=prefix, title=title)
    fig.update_xaxes(title=x_title, showgrid=False)
    fig.update_yaxes(title=y_title, autorange="reversed", showgrid=False)
    return fig
