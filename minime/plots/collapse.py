"""Figures of dimensional collapse: per-field singular spectra, IA bars and curves, sub-embeddings.

Every function takes plain arrays (field names, cardinalities, matrices), so it draws the output
of :mod:`minime.analysis` or numbers computed by hand alike.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from minime.plots.slider import slider_figure
from minime.plots.bars import grouped_bars
from minime.plots.theme import PALETTE, styled

__all__ = ["ia_bars", "ia_curves", "spectrum_heatmap", "spectrum_slider", "sub_embedding_heatmap"]

_SPECTRUM_HOVER = "%{y}<br>k = %{x}<br>σ_k / σ_max = %{z:.3f}<extra></extra>"


def _spectrum_trace(normalized, names: Sequence[str], cardinalities: Sequence[int],
                    **heatmap) -> go.Heatmap:
    """One "Reds" heat-map of ``(F, D)`` σ/σ_max, rows sorted by cardinality ascending."""
    z = np.asarray(normalized, dtype=float)
    if z.ndim != 2 or not len(names) == len(cardinalities) == z.shape[0]:
        raise ValueError(f"normalized must be (F, D) with F = len(names) = len(cardinalities): "
                         f"got {z.shape}, {len(names)} names, {len(cardinalities)} cardinalities")
    finite = z[np.isfinite(z)]
    if finite.size and (finite.min() < -1e-6 or finite.max() > 1 + 1e-6):
        raise ValueError("normalized must hold σ_k / σ_max in [0, 1]; divide each row by its max")
    order = np.argsort(np.asarray(cardinalities), kind="stable")  # ascending, ties keep order
    labels = [f"{names[i]} ({int(cardinalities[i]):,})" for i in order]
    return go.Heatmap(z=z[order], x=np.arange(1, z.shape[1] + 1), y=labels, zmin=0.0, zmax=1.0,
                      colorscale="Reds", colorbar=dict(title="σ_k / σ_max"),
                      hovertemplate=_SPECTRUM_HOVER, **heatmap)


def _spectrum_axes(fig: go.Figure, num_fields: int, title: str | None, *,
                   extra_height: int = 0) -> go.Figure:
    """Axis titles, first row on top, a height that fits ``num_fields`` rows; then styled."""
    fig.update_xaxes(title="singular value index k", showgrid=False)
    fig.update_yaxes(title="field (ids)", autorange="reversed", showgrid=False, automargin=True)
    return styled(fig, title, height=max(320, 160 + 34 * num_fields) + extra_height)


def spectrum_heatmap(normalized, names: Sequence[str], cardinalities: Sequence[int], *,
                     title: str = "Singular spectrum of each field: σ_k / σ_max") -> go.Figure:
    """The collapse heat-map of Guo et al. / RecScope: one row per field, one column per σ_k.

    Rows are the fields sorted by cardinality ``|V_f|`` ascending (smallest on top), labelled
    ``"name (|V_f|)"``; column ``k`` is the ``k``-th largest singular value over the largest,
    ``σ_k / σ_max`` (1 in the first column), coloured "Reds" on the fixed range [0, 1].
    A collapsed field is a row that turns white after a few columns; its IA is the row sum.

    Args:
        normalized: ``(F, D)`` σ/σ_max per field, in the order of ``names`` (pad short spectra
            with 0 or NaN).
        names: the ``F`` field names.
        cardinalities: the ``F`` numbers of ids ``|V_f|``; only their order matters.
        title: figure title.

    Returns:
        A plotly Figure with one Heatmap; its rows are in ascending cardinality.

    Example:
        >>> fig = spectrum_heatmap([[1.0, 0.5], [1.0, 0.0]], ["item", "gender"], [3000, 2])
        >>> fig.data[0].y, fig.data[0].z.tolist()
        (('gender (2)', 'item (3,000)'), [[1.0, 0.0], [1.0, 0.5]])
    """
    fig = go.Figure(_spectrum_trace(normalized, names, cardinalities))
    return _spectrum_axes(fig, len(names), title)


def spectrum_slider(steps: Mapping[str, tuple], *, prefix: str = "",
                    title: str = "Singular spectrum of each field: σ_k / σ_max") -> go.Figure:
    """A slider over precomputed spectrum heat-maps (e.g. embedding sizes or epochs).

    Each step is a :func:`spectrum_heatmap` trace; the slider only toggles which one is visible,
    so it works in the static book without a kernel. Steps may have different widths ``D``:
    each step sets the x range to its own ``1..D``. Keep the same fields in every step (the rows
    are categories shared by all steps).

    Args:
        steps: slider label -> ``(normalized (F, D), names (F,), cardinalities (F,))``.
        prefix: text before the current label, e.g. ``"embedding size D = "``.
        title: figure title.

    Returns:
        A plotly Figure with one Heatmap per step and ``layout.sliders`` set.

    Example:
        >>> fig = spectrum_slider({"2": ([[1, .5]], ["a"], [9]), "3": ([[1, .5, .2]], ["a"], [9])})
        >>> len(fig.layout.sliders[0].steps), [len(t.x) for t in fig.data]
        (2, [2, 3])
    """
    if not steps:
        raise ValueError("spectrum_slider needs at least one step")
    traces = [_spectrum_trace(*spec) for spec in steps.values()]
    fig = slider_figure([[t] for t in traces], list(steps), prefix=prefix, title=title)
    ranges = [[0.5, len(t.x) + 0.5] for t in traces]
    for step, x_range in zip(fig.layout.sliders[0].steps, ranges):
        step.args = [step.args[0], {**step.args[1], "xaxis.range": x_range}]
    fig.update_xaxes(range=ranges[0])
    num_fields = max(len(spec[1]) for spec in steps.values())
    return _spectrum_axes(fig, num_fields, title, extra_height=90)  # room for the slider


def ia_bars(names: Sequence[str], learned: Sequence[float], init: Sequence[float] | None = None,
            *, bound: float | Sequence[float] | None = None, bound_label: str = "bound",
            labels: tuple[str, str] = ("learned", "initialisation"),
            title: str = "Information abundance of each field") -> go.Figure:
    """Grouped bars of each field's IA, learned vs at initialisation, with an optional bound.

    ``IA(E) = ‖σ‖₁ / ‖σ‖∞`` lies in ``[1, D]``; the bound (e.g. the embedding size ``D``, or
    the rank planted in each field) is drawn as a dash marker over each field's bars.

    Args:
        names: the ``F`` field names, in the order drawn.
        learned: ``F`` IAs after training.
        init: optional ``F`` IAs at initialisation (or of a second model, see ``labels``).
        bound: optional upper reference, one number for all fields or ``F`` numbers.
        bound_label: legend name of the bound.
        labels: legend names of the two series, e.g. ``("ME", "SE")``.
        title: figure title.

    Returns:
        A plotly Figure: Bar "learned", Bar "initialisation" (if given), Scatter bound (if given).

    Example:
        >>> fig = ia_bars(["a", "b"], [3.5, 1.2], init=[7.9, 7.8], bound=8)
        >>> [t.name for t in fig.data], list(fig.data[2].y)
        (['learned', 'initialisation', 'bound'], [8.0, 8.0])
    """
    return grouped_bars(names, {labels[0]: learned, labels[1]: init}, bound=bound,
                        bound_label=bound_label, y_title="information abundance IA", title=title)


def ia_curves(epochs: Sequence[int], ia_by_field: Mapping[str, Sequence[float]], *,
              title: str = "Information abundance of each field during training") -> go.Figure:
    """IA per epoch, one line per field (epoch 0 may be the initialisation).

    Args:
        epochs: the ``E`` epochs measured, e.g. ``[0, 1, 2]``.
        ia_by_field: field name -> ``E`` IAs, one per epoch.
        title: figure title.

    Returns:
        A plotly Figure with one Scatter (lines and markers) per field.

    Example:
        >>> fig = ia_curves([0, 1, 2], {"item": [7.9, 5.0, 4.2], "gender": [7.8, 2.1, 1.5]})
        >>> [t.name for t in fig.data], list(fig.data[1].y)
        (['item', 'gender'], [7.8, 2.1, 1.5])
    """
    epochs = list(epochs)
    bad = {name: len(v) for name, v in ia_by_field.items() if len(v) != len(epochs)}
    if bad:
        raise ValueError(f"need one IA per epoch ({len(epochs)} epochs), got lengths {bad}")
    fig = go.Figure()
    for i, (name, values) in enumerate(ia_by_field.items()):
        hover = f"{name}: epoch %{{x}}, IA %{{y:.2f}}<extra></extra>"
        fig.add_trace(go.Scatter(x=epochs, y=list(values), name=name, mode="lines+markers",
                                 line=dict(color=PALETTE[i % len(PALETTE)]), hovertemplate=hover))
    fig.update_xaxes(title="epoch (0 = initialisation)" if 0 in epochs else "epoch", dtick=1)
    fig.update_yaxes(title="information abundance IA")
    return styled(fig, title)


def sub_embedding_heatmap(matrix, names: Sequence[str], *, order: Sequence[int] | None = None,
                          title: str = "IA of each field projected into each field's slot"
                          ) -> go.Figure:
    """The sub-embedding IA map of Guo et al.: entry ``[i, j] = IA(E_j W^{(i,j)ᵀ})``.

    Row ``i`` is the target slot of the first cross layer, column ``j`` the source field whose
    table is projected through block ``W^{(i,j)}``. Both axes use the same order; RecScope sorts
    them by each field's own IA (``order = np.argsort(ia)``), which shows that projections into a
    low-IA field's slot are low-IA too.

    Args:
        matrix: ``(F, F)`` IAs, ``[i, j]`` = field ``j`` projected into slot ``i``.
        names: the ``F`` field names, in the order of the matrix.
        order: optional permutation of ``0..F-1``: the fields in display order (both axes).
        title: figure title.

    Returns:
        A plotly Figure with one Heatmap (x: source field j, y: target slot i, first row on top).

    Example:
        >>> fig = sub_embedding_heatmap([[1.0, 2.0], [3.0, 4.0]], ["a", "b"], order=[1, 0])
        >>> fig.data[0].x, fig.data[0].z.tolist()
        (('b', 'a'), [[4.0, 3.0], [2.0, 1.0]])
    """
    z = np.asarray(matrix, dtype=float)
    if z.shape != (len(names), len(names)):
        raise ValueError(f"matrix must be (F, F) with F = {len(names)} names, got {z.shape}")
    order = np.arange(len(names)) if order is None else np.asarray(order, dtype=int)
    if sorted(order.tolist()) != list(range(len(names))):
        raise ValueError(f"order must be a permutation of 0..{len(names) - 1}: {order.tolist()}")
    labels = [names[i] for i in order]
    fig = go.Figure(go.Heatmap(
        z=z[np.ix_(order, order)], x=labels, y=labels, colorscale="Reds",  # (F, F) reordered
        colorbar=dict(title="IA"),
        hovertemplate="field j = %{x} into slot i = %{y}<br>IA = %{z:.2f}<extra></extra>"))
    fig.update_xaxes(title="source field j", showgrid=False)
    fig.update_yaxes(title="target slot i", autorange="reversed", showgrid=False)
    return styled(fig, title, height=max(360, 160 + 24 * len(names)))
