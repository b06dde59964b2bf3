"""Every figure of the book: one function per figure, each returning a plotly Figure."""

from minime.plots.flow import flow_diagram
from minime.plots.slider import slider_figure
from minime.plots.theme import PALETTE, TEMPLATE, styled

__all__ = ["PALETTE", "TEMPLATE", "flow_diagram", "slider_figure", "styled"]
