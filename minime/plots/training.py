"""Figures of training runs: validation curves, AUC against the oracle's, reliability curves."""

from __future__ import annotations

from typing import Mapping, Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from minime.plots.theme import PALETTE, styled

__all__ = ["auc_vs_oracle", "reliability", "training_curves"]


def training_curves(histories: Mapping[str, object], *,
                    title: str = "Training: loss and validation AUC per epoch") -> go.Figure:
    """Train loss and mean validation AUC per epoch, one colour per run; the best epoch marked.

    Args:
        histories: run name -> :class:`minime.train.History` (or anything with ``epochs`` records
            holding ``epoch``, ``train_loss``, ``valid_auc_mean``, and ``best_epoch``).
        title: figure title.

    Returns:
        A plotly Figure with two panels.
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=("train loss", "validation AUC"))
    for i, (name, h) in enumerate(histories.items()):
        color = PALETTE[i % len(PALETTE)]
        epochs = [r["epoch"] for r in h.epochs]
        fig.add_trace(go.Scatter(x=epochs, y=[r["train_loss"] for r in h.epochs], name=name,
                                 legendgroup=name, line=dict(color=color)), row=1, col=1)
        fig.add_trace(go.Scatter(x=epochs, y=[r["valid_auc_mean"] for r in h.epochs], name=name,
                                 legendgroup=name, showlegend=False, line=dict(color=color)),
                      row=1, col=2)
        best = h.epochs[h.best_epoch - 1]
        fig.add_trace(go.Scatter(x=[best["epoch"]], y=[best["valid_auc_mean"]], mode="markers",
                                 marker=dict(color=color, size=11, symbol="star"),
                                 name=f"{name}: best epoch", legendgroup=name, showlegend=False),
                      row=1, col=2)
    fig.update_xaxes(title="epoch", dtick=1)
    return styled(fig, title)


def auc_vs_oracle(model_auc: Mapping[str, float], oracle_auc: float, *,
                  other: Mapping[str, Sequence[float]] | None = None,
                  title: str = "Test AUC of each model against the oracle's") -> go.Figure:
    """Horizontal bars of each model's AUC, with the oracle's AUC (the ceiling) and 0.5 marked.

    Args:
        model_auc: model name -> AUC.
        oracle_auc: AUC of the true logits on the same rows.
        other: optional extra series per model drawn as markers, e.g. ``{"GAUC": [...]}``
            in the same order as ``model_auc``.
        title: figure title.

    Returns:
        A plotly Figure.

    Example:
        >>> fig = auc_vs_oracle({"FM": 0.8, "DNN": 0.78}, 0.86)
        >>> list(fig.data[0].x)
        [0.8, 0.78]
    """
    names = list(model_auc)
    fig = go.Figure(go.Bar(y=names, x=[model_auc[n] for n in names], orientation="h",
                           name="AUC", marker_color=PALETTE[0],
                           text=[f"{model_auc[n]:.3f}" for n in names], textposition="inside",
                           insidetextanchor="start",
                           hovertemplate="%{y}: %{x:.4f}<extra></extra>"))
    for i, (label, values) in enumerate((other or {}).items(), start=1):
        fig.add_trace(go.Scatter(y=names, x=list(values), mode="markers", name=label,
                                 marker=dict(color=PALETTE[i], size=12, symbol="diamond")))
    fig.add_vline(x=oracle_auc, line=dict(color="black", dash="dash"),
                  annotation_text=f"oracle {oracle_auc:.3f}", annotation_position="top")
    fig.add_vline(x=0.5, line=dict(color="#999", dash="dot"), annotation_text="chance",
                  annotation_position="top")
    low = min([0.5, *model_auc.values(), *(v for vs in (other or {}).values() for v in vs)])
    fig.update_xaxes(range=[low - 0.02, max(oracle_auc, *model_auc.values()) + 0.03], title="AUC")
    return styled(fig, title, height=120 + 60 * len(names))


def reliability(curves: Mapping[str, object], *,
                title: str = "Reliability: predicted against observed rate") -> go.Figure:
    """Predicted against observed positive rate per bin, one line per model, and the diagonal.

    Args:
        curves: model name -> :class:`minime.metrics.Calibration` (or anything with
            ``predicted``, ``observed``, ``count`` and ``ece``).
        title: figure title.

    Returns:
        A plotly Figure, log-log axes (CTRs span orders of magnitude), ECE in the legend.

    Example:
        >>> from minime import metrics
        >>> c = metrics.calibration([0, 0, 1, 1], [0.1, 0.3, 0.6, 0.8], bins=2)
        >>> len(reliability({"model": c}).data)
        2
    """
    fig = go.Figure()
    ends = [v for c in curves.values() for v in (*c.predicted, *c.observed) if v > 0]
    low, high = (min(ends), max(ends)) if ends else (1e-3, 1.0)
    fig.add_trace(go.Scatter(x=[low, high], y=[low, high], mode="lines", name="calibrated",
                             line=dict(color="black", dash="dash")))
    for i, (name, c) in enumerate(curves.items()):
        fig.add_trace(go.Scatter(x=c.predicted, y=c.observed, mode="lines+markers",
                                 name=f"{name} (ECE {c.ece:.4f})", line=dict(color=PALETTE[i % len(PALETTE)]),
                                 customdata=c.count,
                                 hovertemplate="predicted %{x:.4f}<br>observed %{y:.4f}<br>"
                                               "%{customdata} rows<extra></extra>"))
    fig.update_xaxes(title="mean predicted probability (bin)", type="log")
    fig.update_yaxes(title="observed positive rate (bin)", type="log")
    return styled(fig, title)
