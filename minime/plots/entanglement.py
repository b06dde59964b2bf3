"""Figures of interest entanglement: RecScope's distance histograms, gates, transfer, gradients.

Every function takes plain arrays (distances, gate weights, AUC differences, cosines), so it draws
the output of :mod:`minime.analysis.entanglement` or numbers computed by hand alike.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from minime.plots.bars import grouped_bars
from minime.plots.slider import slider_figure
from minime.plots.theme import PALETTE, styled

__all__ = ["BAND_COLORS", "OTHER_COLOR", "bucket_bars", "bucket_bars_slider", "distance_histograms",
           "gate_heatmap", "gradient_conflict_bars", "task_affinity_slider"]

#: RecScope's colours for a table's own bands: bottom 40 % green, middle blue, top 40 % orange.
BAND_COLORS = {"near": PALETTE[2], "middle": PALETTE[0], "far": PALETTE[1]}
OTHER_COLOR = "#BBBBBB"


def _histogram_traces(d: np.ndarray, conflict: np.ndarray, bands: np.ndarray, bins: int,
                      low: float, high: float) -> list:
    """Grey bars of the other pairs, the conflict pairs of each band stacked on top, thresholds."""
    edges = np.histogram_bin_edges(d, bins=bins)  # equal width over this table's range
    centers, widths = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
    groups = {"other pairs": (~conflict, OTHER_COLOR)}
    num_conflict = max(int(conflict.sum()), 1)
    for band, (name, color) in enumerate(BAND_COLORS.items()):
        chosen = conflict & (bands == band)
        groups[f"conflict, {name} ({chosen.sum() / num_conflict:.0%})"] = (chosen, color)
    traces = [go.Bar(x=centers, y=np.histogram(d[rows], bins=edges)[0].tolist(), width=widths,
                     name=name, marker=dict(color=color, line_width=0),
                     hovertemplate=f"{name}<br>distance %{{x:.3g}}: %{{y}} pairs<extra></extra>")
              for name, (rows, color) in groups.items()]
    top = float(np.histogram(d, bins=edges)[0].max())
    lo, hi = np.percentile(d, [low, high])
    traces.append(go.Scatter(x=[lo, lo, None, hi, hi], y=[0, top, None, 0, top], mode="lines",
                             name=f"P{low:g} / P{high:g}", hoverinfo="skip",
                             line=dict(color="black", dash="dot", width=1)))
    return traces


def distance_histograms(distances: Mapping[str, np.ndarray], conflict, *, bins: int = 39,
                        low: float = 40, high: float = 60,
                        title: str = "User–item distances; conflict pairs by the table's own band"
                        ) -> go.Figure:
    """RecScope's entanglement histograms: a slider over tables, conflict pairs coloured by band.

    For each table: a histogram (``bins`` equal-width bins over its range) of the distances of all
    pairs, the non-conflict pairs in grey with the conflict pairs stacked on top, coloured by the
    table's own band (near ``d ≤ P_low``, middle, far ``d > P_high``, percentiles over all pairs,
    as :func:`minime.analysis.distance_bands`); dotted lines at ``P_low`` and ``P_high``. The
    legend gives the share of conflict pairs in each band. A table that reproduces task a's
    single-task geometry puts mode-0 conflict pairs near; a shared table puts them anywhere.

    Args:
        distances: table name -> ``(P,)`` distances of the same P pairs.
        conflict: ``(P,)`` bool, the conflict subset (e.g. :func:`minime.analysis.conflict_subset`).
        bins: number of bins (RecScope: 39).
        low, high: the bands' percentiles.
        title: figure title; each step adds the table's name.

    Returns:
        A plotly Figure: per table, 5 traces (other pairs, near, middle, far, thresholds).

    Example:
        >>> d = np.arange(10.0)
        >>> fig = distance_histograms({"ST": d, "MMoE": d[::-1]}, d < 3, bins=5)
        >>> [t.name for t in fig.data[:3]]  # then "conflict, far (0%)" and the thresholds
        ['other pairs', 'conflict, near (100%)', 'conflict, middle (0%)']
        >>> list(fig.data[0].y), list(fig.data[1].y)  # pairs 0-2 are conflict and near
        ([0, 1, 2, 2, 2], [2, 1, 0, 0, 0])
    """
    from minime.analysis.entanglement import distance_bands  # one definition of the bands

    conflict = np.asarray(conflict)
    if conflict.dtype != bool or conflict.ndim != 1 or not distances:
        raise ValueError(f"need at least one table and a 1-D bool conflict mask, got "
                         f"{len(distances)} tables and a {conflict.dtype} mask "
                         f"of shape {conflict.shape}")
    steps = []
    for name, d in distances.items():
        d = np.asarray(d, dtype=np.float64)
        if d.shape != conflict.shape:
            raise ValueError(f"table {name!r} has {d.shape} distances for {conflict.shape} pairs")
        bands = distance_bands(d, low=low, high=high)
        steps.append(_histogram_traces(d, conflict, bands, bins, low, high))
    fig = slider_figure(steps, list(distances), prefix="table: ", title=title,
                        step_titles=[f"{title}: {name}" for name in distances])
    fig.update_layout(barmode="stack", bargap=0)
    fig.update_xaxes(title="user–item distance ‖u − i‖₂")
    fig.update_yaxes(title="pairs")
    return fig


def gate_heatmap(weights, task_names: Sequence[str], expert_names: Sequence[str], *,
                 title: str = "Mean gate weight of each task on each expert") -> go.Figure:
    """Task × expert mean gate weights on the fixed colour range [0, 1], values in the cells.

    Args:
        weights: ``(T, E)`` mean gate weights (e.g. :func:`minime.analysis.gate_weights`).
        task_names: the T tasks (rows, first on top).
        expert_names: the E experts (columns), e.g. ``["click", "convert", "shared"]``.
        title: figure title.

    Returns:
        A plotly Figure with one Heatmap.

    Example:
        >>> fig = gate_heatmap([[0.7, 0.3], [0.4, 0.6]], ["click", "buy"], ["e1", "e2"])
        >>> fig.data[0].z.tolist(), (fig.data[0].zmin, fig.data[0].zmax)
        ([[0.7, 0.3], [0.4, 0.6]], (0.0, 1.0))
    """
    z = np.asarray(weights, dtype=np.float64)
    if z.shape != (len(task_names), len(expert_names)):
        raise ValueError(f"weights must be (T, E) = {(len(task_names), len(expert_names))}, "
                         f"got {z.shape}")
    if np.nanmin(z) < -1e-6 or np.nanmax(z) > 1 + 1e-6:
        raise ValueError("gate weights must lie in [0, 1]")
    fig = go.Figure(go.Heatmap(
        z=z, x=list(expert_names), y=list(task_names), zmin=0.0, zmax=1.0, colorscale="Blues",
        texttemplate="%{z:.2f}", colorbar=dict(title="gate weight"),
        hovertemplate="task %{y}, expert %{x}: %{z:.3f}<extra></extra>"))
    fig.update_xaxes(title="expert", showgrid=False)
    fig.update_yaxes(title="task", autorange="reversed", showgrid=False)
    return styled(fig, title, height=max(300, 180 + 50 * len(task_names)))


def _reference_bars(categories: Sequence[str], series: Mapping[str, Sequence[float]],
                    reference: float, **titles) -> go.Figure:
    """:func:`grouped_bars` with a dashed horizontal line at ``reference``."""
    fig = grouped_bars(categories, series, **titles)
    fig.add_hline(y=reference, line=dict(color="black", dash="dash", width=1))
    return fig


def bucket_bars(values: Mapping[str, Mapping[str, float]], *,
                y_title: str = "AUC − single-task AUC", reference: float = 0.0,
                x_title: str = "bucket", title: str | None = None) -> go.Figure:
    """Grouped bars per bucket, one colour per model, with a reference line (e.g. transfer = 0).

    Args:
        values: model -> {bucket -> value}; every model has the same buckets.
        y_title, x_title: axis titles.
        reference: height of the dashed line (0: no transfer).
        title: figure title.

    Returns:
        A plotly Figure: one Bar per model over the buckets (in the first model's order).

    Example:
        >>> fig = bucket_bars({"MMoE": {"conflict": -0.02, "other": 0.03},
        ...                    "STEM": {"conflict": 0.01, "other": 0.02}})
        >>> [t.name for t in fig.data], list(fig.data[0].x), fig.layout.shapes[0].y0
        (['MMoE', 'STEM'], ['conflict', 'other'], 0.0)
    """
    buckets, series = _bucket_series(values)
    return _reference_bars(buckets, series, reference, x_title=x_title, y_title=y_title,
                           title=title)


def _bucket_series(values: Mapping[str, Mapping[str, float]]) -> tuple[list, dict]:
    """The buckets (first model's order) and model -> one value per bucket; checks they match."""
    if not values:
        raise ValueError("bucket_bars needs at least one model")
    buckets = list(next(iter(values.values())))
    if any(set(v) != set(buckets) for v in values.values()):
        raise ValueError(f"every model needs the buckets {buckets}, got "
                         f"{ {m: list(v) for m, v in values.items()} }")
    return buckets, {model: [v[b] for b in buckets] for model, v in values.items()}


def bucket_bars_slider(steps: Mapping[str, Mapping[str, Mapping[str, float]]], *,
                       prefix: str = "", y_title: str = "AUC − single-task AUC",
                       reference: float = 0.0, x_title: str = "bucket",
                       title: str | None = None) -> go.Figure:
    """:func:`bucket_bars` for several precomputed runs (e.g. one per angle θ), with a slider.

    Unlike :func:`minime.plots.bars_slider` the bars may be negative (a negative transfer): the y
    range, fixed over all steps so that bars can be compared while sliding, spans every value and
    the reference line.

    Args:
        steps: slider label -> {model -> {bucket -> value}}; every model of every step has the
            same buckets, drawn in the first model's order of the first step.
        prefix: text before the current label, e.g. ``"θ = "``.
        y_title, x_title: axis titles.
        reference: height of the dashed line (0: no transfer).
        title: figure title.

    Returns:
        A plotly Figure: per step, one Bar per model over the buckets; one step visible at a time.

    Example:
        >>> fig = bucket_bars_slider({"0°": {"MMoE": {"conflict": 0.01, "other": 0.02}},
        ...                           "90°": {"MMoE": {"conflict": -0.03, "other": 0.01}}})
        >>> [t.visible for t in fig.data], fig.layout.yaxis.range[0] < -0.03
        ([True, False], True)
    """
    if not steps:
        raise ValueError("bucket_bars_slider needs at least one step")
    first = _bucket_series(next(iter(steps.values())))[0]  # every step in the first one's order
    groups = []
    for label, values in steps.items():
        buckets, _ = _bucket_series(values)
        if set(buckets) != set(first):
            raise ValueError(f"step {label!r} has the buckets {buckets}, the first step {first}")
        series = {m: [v[b] for b in first] for m, v in values.items()}
        groups.append(list(grouped_bars(first, series).data))
    ys = [float(y) for traces in groups for t in traces for y in t.y] + [float(reference)]
    low, high = min(ys), max(ys)
    pad = 0.08 * (high - low or 1.0)
    fig = slider_figure(groups, list(steps), prefix=prefix, title=title)
    fig.update_layout(barmode="group")
    fig.add_hline(y=reference, line=dict(color="black", dash="dash", width=1))
    fig.update_xaxes(title=x_title)
    fig.update_yaxes(title=y_title, range=[low - pad, high + pad])
    return fig


def gradient_conflict_bars(cosines: Mapping[str, np.ndarray], task_names: Sequence[str], *,
                           title: str = "Cosine between the tasks' gradients on shared parameters"
                           ) -> go.Figure:
    """Bars of ``cos(g_s, g_t)`` for every pair of tasks, one colour per model; < 0 is conflict.

    Args:
        cosines: model -> ``(T, T)`` cosines (e.g. ``analysis.gradient_conflict(...).cosine``).
        task_names: the T tasks; the bars are the pairs ``s < t``, labelled ``"s · t"``.
        title: figure title.

    Returns:
        A plotly Figure: one Bar per model, y range [−1, 1], a dashed line at 0.

    Example:
        >>> fig = gradient_conflict_bars({"MMoE": [[1, -0.3], [-0.3, 1]]}, ["click", "buy"])
        >>> list(fig.data[0].x), list(fig.data[0].y)
        (['click · buy'], [-0.3])
    """
    T = len(task_names)
    pairs = [(s, t) for s in range(T) for t in range(s + 1, T)]
    series = {}
    for model, matrix in cosines.items():
        matrix = np.asarray(matrix, dtype=np.float64)
        if matrix.shape != (T, T):
            raise ValueError(f"{model!r}: cosines must be (T, T) = {(T, T)}, got {matrix.shape}")
        series[model] = [matrix[s, t] for s, t in pairs]
    labels = [f"{task_names[s]} · {task_names[t]}" for s, t in pairs]
    fig = _reference_bars(labels, series, 0.0, x_title="pair of tasks",
                          y_title="cos(g_s, g_t)", title=title)
    fig.update_yaxes(range=[-1.05, 1.05], rangemode="normal")
    return fig


def task_affinity_slider(steps: Mapping[str, tuple], *, task_names: Sequence[str] = ("task 1", "task 2"),
                         prefix: str = "θ = ",
                         title: str = "Planted user–item term of two tasks, one dot per pair"
                         ) -> go.Figure:
    """Scatter of two tasks' planted user–item terms, conflict users' pairs in colour; a slider.

    Args:
        steps: slider label -> ``(term_a (P,), term_b (P,), conflict (P,) bool)``, e.g. one step per
            angle θ of the multitask world.
        task_names: the two axes.
        prefix: text before the slider label.
        title: figure title; each step adds Pearson's r of the two terms per group.

    Returns:
        A plotly Figure: per step, the other users' pairs (grey) and the conflict users' pairs.

    Example:
        >>> a = np.array([1.0, -1.0, 2.0, 0.5])
        >>> fig = task_affinity_slider({"0°": (a, a * [1, 1, -1, -1], np.array([0, 0, 1, 1], bool))})
        >>> [t.name for t in fig.data], fig.layout.title.text.endswith("conflict r = -1.00")
        (['other users', 'conflict users'], True)
    """
    traces, titles = [], []
    for label, (a, b, conflict) in steps.items():
        a, b, conflict = np.asarray(a, float), np.asarray(b, float), np.asarray(conflict, bool)
        if not (a.shape == b.shape == conflict.shape) or a.ndim != 1:
            raise ValueError(f"step {label!r}: need three (P,) arrays, got {a.shape}, {b.shape}, "
                             f"{conflict.shape}")
        r = {name: float(np.corrcoef(a[m], b[m])[0, 1]) if m.sum() > 1 else float("nan")
             for name, m in (("other", ~conflict), ("conflict", conflict))}
        traces.append([go.Scatter(x=a[m], y=b[m], mode="markers", name=f"{name} users",
                                    marker=dict(size=3, color=color, opacity=0.5))
                       for name, m, color in (("other", ~conflict, OTHER_COLOR),
                                              ("conflict", conflict, PALETTE[1]))])
        titles.append(f"{title}: other r = {r['other']:.2f}, conflict r = {r['conflict']:.2f}")
    fig = slider_figure(traces, list(steps), prefix=prefix, title=titles[0], step_titles=titles)
    fig.update_xaxes(title=f"{task_names[0]}: c·⟨U₁[u], V₁[i]⟩")
    fig.update_yaxes(title=f"{task_names[1]}: c·⟨U₂[u], V₂[i]⟩")
    return fig
