"""One look for every figure in the book: a plotly template and a colour palette."""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio

__all__ = ["PALETTE", "TEMPLATE", "styled"]

#: Colour-blind-safe palette (Okabe-Ito), in the order series are coloured.
PALETTE = (
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000",
)

TEMPLATE = go.layout.Template(
    layout=dict(
        font=dict(family="Inter, Helvetica, Arial, sans-serif", size=13),
        colorway=list(PALETTE),
        paper_bgcolor="white",
        plot_bgcolor="white",
        margin=dict(l=60, r=20, t=60, b=50),
        xaxis=dict(showgrid=True, gridcolor="#eee", zeroline=False, linecolor="#999"),
        yaxis=dict(showgrid=True, gridcolor="#eee", zeroline=False, linecolor="#999"),
        legend=dict(bgcolor="rgba(255,255,255,0.6)"),
        hoverlabel=dict(namelength=-1),
    )
)
pio.templates["minime"] = TEMPLATE


def styled(fig: go.Figure, title: str | None = None, *, height: int = 420) -> go.Figure:
    """Apply the minime template, a title and a height to ``fig`` (in place) and return it.

    Args:
        fig: any plotly figure.
        title: figure title; None keeps the current one.
        height: figure height in pixels.

    Returns:
        The same figure, styled.

    Example:
        >>> styled(go.Figure(), "empty").layout.title.text
        'empty'
    """
    fig.update_layout(template=TEMPLATE, height=height)
    if title is not None:
        fig.update_layout(title=dict(text=title, x=0.02, xanchor="left"))
    return fig
