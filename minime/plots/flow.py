"""A left-to-right flow diagram (Sankey) for maps such as the library's modules."""

from __future__ import annotations

from typing import Sequence

import plotly.graph_objects as go

from minime.plots.theme import PALETTE, styled

__all__ = ["flow_diagram"]


def flow_diagram(
    nodes: Sequence[str],
    edges: Sequence[tuple[str, str]],
    *,
    notes: dict[str, str] | None = None,
    title: str | None = None,
) -> go.Figure:
    """Draw ``edges`` between named ``nodes`` as a Sankey diagram with hover notes.

    Args:
        nodes: node labels, in the order they are coloured.
        edges: (source, target) pairs of node labels; each gets unit width.
        notes: optional hover text per node label.
        title: figure title.

    Returns:
        A plotly Figure.

    Example:
        >>> len(flow_diagram(["a", "b"], [("a", "b")]).data)
        1
    """
    index = {name: i for i, name in enumerate(nodes)}
    unknown = {n for e in edges for n in e} - set(index)
    if unknown:
        raise ValueError(f"edges name unknown nodes: {sorted(unknown)}")
    notes = notes or {}
    fig = go.Figure(
        go.Sankey(
            arrangement="snap",
            node=dict(
                label=list(nodes), pad=18, thickness=16,
                color=[PALETTE[i % len(PALETTE)] for i in range(len(nodes))],
                customdata=[notes.get(n, n) for n in nodes],
                hovertemplate="%{customdata}<extra></extra>",
            ),
            link=dict(
                source=[index[s] for s, _ in edges], target=[index[t] for _, t in edges],
                value=[1] * len(edges), color="rgba(0,0,0,0.12)",
            ),
        )
    )
    return styled(fig, title, height=380)
