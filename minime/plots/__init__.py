"""Every figure of the book: one function per figure, each returning a plotly Figure."""

from minime.plots.bars import bars_slider, grouped_bars
from minime.plots.collapse import (
    ia_bars, ia_curves, spectrum_heatmap, spectrum_slider, sub_embedding_heatmap,
)
from minime.plots.entanglement import (
    bucket_bars, bucket_bars_slider, distance_histograms, gate_heatmap, gradient_conflict_bars,
    task_affinity_slider,
)
from minime.plots.correlation import (
    correlation_maps, correlation_slider, min_max, value_neighbourhood,
)
from minime.plots.flow import flow_diagram
from minime.plots.routing import gate_mass_vs_volume, gate_slider
from minime.plots.scaling import metric_panels
from minime.plots.slider import matrix_slider, slider_figure
from minime.plots.theme import PALETTE, TEMPLATE, styled
from minime.plots.training import auc_vs_oracle, reliability, training_curves
from minime.plots.world import field_cardinalities, id_frequency, zipf_slider

__all__ = [
    "PALETTE", "TEMPLATE", "auc_vs_oracle", "bars_slider", "grouped_bars", "field_cardinalities", "flow_diagram",
    "id_frequency", "matrix_slider", "metric_panels", "slider_figure", "styled", "training_curves", "zipf_slider",
    "ia_bars", "ia_curves", "spectrum_heatmap", "spectrum_slider", "sub_embedding_heatmap",
    "bucket_bars", "bucket_bars_slider", "distance_histograms", "gate_heatmap", "gradient_conflict_bars",
    "task_affinity_slider", "gate_mass_vs_volume", "gate_slider", "reliability",
    "correlation_maps", "correlation_slider", "min_max", "value_neighbourhood",
]
