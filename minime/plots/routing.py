"""Figures of AME's routing: where each task's gate sends its rows, against the task's data volume."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from minime.plots.entanglement import gate_heatmap
from minime.plots.slider import slider_figure
from minime.plots.theme import PALETTE, styled

__all__ = ["gate_mass_vs_volume", "gate_slider"]


def gate_mass_vs_volume(mass, volumes: Sequence[float], task_names: Sequence[str],
                        set_names: Sequence[str], *,
                        title: str = "Gate mass on each embedding set against the task's training rows"
                        ) -> go.Figure:
    """Each task's gate mass on every embedding set (AME: one expert per set) against its data
    volume, every seed a marker.

    Args:
        mass: ``(S, T, M)`` mean gate weights (seeds × tasks × sets), each ``(T, M)`` from
            :func:`minime.analysis.task_gate_mass`.
        volumes: ``(T,)`` training rows (or positives) of each task; the x axis is logarithmic.
        task_names: the T tasks (hover text).
        set_names: the M embedding sets, e.g. ``["16-d", "32-d", "64-d"]``: one colour each.
        title: figure title.

    Returns:
        A plotly Figure: per set, one marker per (seed, task) and a line through the mean
        over seeds, tasks ordered by volume.

    Example:
        >>> fig = gate_mass_vs_volume([[[0.2, 0.8], [0.6, 0.4]]], [1000, 10], ["head", "tail"],
        ...                           ["small", "large"])
        >>> [t.name for t in fig.data], fig.data[1].y.tolist()   # the mean line, head first
        (['small', 'small: mean over seeds', 'large', 'large: mean over seeds'], [0.2, 0.6])
    """
    m = np.asarray(mass, dtype=np.float64)
    volumes = np.asarray(volumes, dtype=np.float64)
    if m.ndim != 3 or m.shape[1:] != (len(task_names), len(set_names)) or \
            volumes.shape != (len(task_names),):
        raise ValueError(f"mass must be (seeds, T, M) = (S, {len(task_names)}, {len(set_names)}) "
                         f"and volumes (T,); got {m.shape} and {volumes.shape}")
    if (volumes <= 0).any():
        raise ValueError("volumes must be positive (the x axis is logarithmic)")
    order = np.argsort(-volumes)
    seeds = m.shape[0]
    fig = go.Figure()
    for k, table in enumerate(set_names):
        color = PALETTE[k % len(PALETTE)]
        fig.add_trace(go.Scatter(
            x=np.repeat(volumes, seeds), y=m[:, :, k].T.ravel(), mode="markers", name=table,
            legendgroup=table, marker=dict(color=color, size=8, opacity=0.6),
            text=[f"{task}, seed {s + 1}" for task in task_names for s in range(seeds)],
            hovertemplate="%{text}: %{y:.2f} of the gate on " + table + "<extra></extra>"))
        fig.add_trace(go.Scatter(
            x=volumes[order], y=m[:, order, k].mean(0), mode="lines", legendgroup=table,
            name=f"{table}: mean over seeds", line=dict(color=color), showlegend=False,
            hovertemplate="mean: %{y:.2f}<extra></extra>"))
    fig.update_xaxes(title="training rows of the task", type="log")
    fig.update_yaxes(title="gate mass", range=[0, 1])
    return styled(fig, title)


def gate_slider(steps: Mapping[str, object], task_names: Sequence[str],
                expert_names: Sequence[str], *, prefix: str = "",
                title: str = "Mean gate weight of each task on each expert") -> go.Figure:
    """:func:`gate_heatmap` with a slider over precomputed runs (e.g. one per AME size triple).

    Args:
        steps: slider label -> ``(T, E)`` mean gate weights; every step has the same shape.
        task_names, expert_names: the rows and columns (the same for every step).
        prefix: text before the current label, e.g. ``"table widths "``.
        title: figure title.

    Returns:
        A plotly Figure, one heat-map visible at a time, colour range [0, 1].

    Example:
        >>> fig = gate_slider({"a": [[0.5, 0.5]], "b": [[1.0, 0.0]]}, ["head"], ["t1", "t2"])
        >>> len(fig.data), len(fig.layout.sliders[0].steps)
        (2, 2)
    """
    maps = [gate_heatmap(w, task_names, expert_names) for w in steps.values()]
    fig = slider_figure([list(m.data) for m in maps], list(steps), prefix=prefix, title=title)
    fig.update_xaxes(title="expert", showgrid=False)
    fig.update_yaxes(title="task", autorange="reversed", showgrid=False)
    return fig
