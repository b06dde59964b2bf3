"""minime.plots: the shared theme, slider figures, flow diagrams and collapse figures."""

import numpy as np
import plotly.graph_objects as go
import pytest

from minime import plots


def test_slider_toggles_exactly_one_group_of_traces():
    steps = [[go.Scatter(y=[1])], [go.Scatter(y=[2]), go.Scatter(y=[3])], [go.Bar(y=[4])]]
    fig = plots.slider_figure(steps, ["a", "b", "c"], prefix="k = ", active=1)
    assert [t.visible for t in fig.data] == [False, True, True, False]
    slider = fig.layout.sliders[0]
    assert slider.active == 1 and slider.currentvalue.prefix == "k = "
    visible = [s.args[0]["visible"] for s in slider.steps]
    assert visible == [[True, False, False, False], [False, True, True, False],
                       [False, False, False, True]]
    assert [s.label for s in slider.steps] == ["a", "b", "c"]


def test_slider_step_titles_and_errors():
    fig = plots.slider_figure([[go.Scatter()], [go.Scatter()]], ["1", "2"],
                              step_titles=["one", "two"])
    assert fig.layout.title.text == "one"
    assert fig.layout.sliders[0].steps[1].args[1] == {"title.text": "two"}
    with pytest.raises(ValueError, match="one label per step"):
        plots.slider_figure([[go.Scatter()]], ["a", "b"])
    with pytest.raises(ValueError, match="active=5"):
        plots.slider_figure([[go.Scatter()]], ["a"], active=5)


def test_flow_diagram_links_named_nodes():
    fig = plots.flow_diagram(["a", "b", "c"], [("a", "b"), ("b", "c")], notes={"a": "first"})
    sankey = fig.data[0]
    assert list(sankey.link.source) == [0, 1] and list(sankey.link.target) == [1, 2]
    assert sankey.node.customdata[0] == "first"
    with pytest.raises(ValueError, match="unknown nodes"):
        plots.flow_diagram(["a"], [("a", "z")])


def test_styled_applies_the_template():
    fig = plots.styled(go.Figure(), "t", height=300)
    assert fig.layout.height == 300 and fig.layout.template.layout.colorway[0] == plots.PALETTE[0]


# --- collapse figures -------------------------------------------------------------------------

def test_spectrum_heatmap_sorts_rows_by_cardinality_with_their_values():
    normalized = np.array([[1.0, 0.9, 0.8], [1.0, 0.0, 0.0], [1.0, 0.5, 0.1]])
    fig = plots.spectrum_heatmap(normalized, ["item", "gender", "city"], [3000, 2, 40])
    heat = fig.data[0]
    assert list(heat.y) == ["gender (2)", "city (40)", "item (3,000)"]
    assert np.array_equal(heat.z, normalized[[1, 2, 0]]) and list(heat.x) == [1, 2, 3]
    assert (heat.zmin, heat.zmax) == (0.0, 1.0) and heat.colorscale[-1][1] == "rgb(103,0,13)"
    assert fig.layout.yaxis.autorange == "reversed"  # smallest cardinality on top
    assert "σ_k / σ_max" in heat.hovertemplate and "%{y}" in heat.hovertemplate


def test_spectrum_heatmap_rejects_mismatches_and_unnormalised_values():
    with pytest.raises(ValueError, match="F = len"):
        plots.spectrum_heatmap([[1.0, 0.5]], ["a", "b"], [3, 4])
    with pytest.raises(ValueError, match="F = len"):
        plots.spectrum_heatmap([[1.0, 0.5], [1.0, 0.2]], ["a", "b"], [3])
    with pytest.raises(ValueError, match="F = len"):
        plots.spectrum_heatmap([1.0, 0.5], ["a"], [3])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        plots.spectrum_heatmap([[7.0, 2.0]], ["a"], [3])


def test_spectrum_slider_one_heatmap_per_step_with_its_own_width():
    steps = {f"{d}": (np.linspace(1, 0, d)[None].repeat(2, 0), ["u", "g"], [100, 2])
             for d in (2, 4, 8)}
    fig = plots.spectrum_slider(steps, prefix="D = ")
    assert [type(t).__name__ for t in fig.data] == ["Heatmap"] * 3
    assert [len(t.x) for t in fig.data] == [2, 4, 8] and [t.visible for t in fig.data] == [
        True, False, False]
    slider = fig.layout.sliders[0]
    assert [s.label for s in slider.steps] == ["2", "4", "8"]
    for i, step in enumerate(slider.steps):
        assert step.args[0]["visible"] == [j == i for j in range(3)]
    assert slider.steps[2].args[1]["xaxis.range"] == [0.5, 8.5]
    assert all(list(t.y) == ["g (2)", "u (100)"] and t.zmax == 1.0 for t in fig.data)
    with pytest.raises(ValueError, match="at least one"):
        plots.spectrum_slider({})


def test_ia_bars_carry_learned_init_and_bound():
    fig = plots.ia_bars(["a", "b", "c"], [3.5, 1.2, 6.0], init=[7.9, 7.8, 7.7],
                        bound=[2, 1, 8], bound_label="planted rank")
    learned, init, bound = fig.data
    assert list(learned.x) == ["a", "b", "c"] and list(learned.y) == [3.5, 1.2, 6.0]
    assert list(init.y) == [7.9, 7.8, 7.7] and init.name == "initialisation"
    assert list(bound.y) == [2.0, 1.0, 8.0] and bound.name == "planted rank"
    assert fig.layout.barmode == "group"
    assert len(plots.ia_bars(["a"], [2.0]).data) == 1
    with pytest.raises(ValueError, match="one value per category"):
        plots.ia_bars(["a", "b"], [1.0])
    with pytest.raises(ValueError, match="initialisation"):
        plots.ia_bars(["a", "b"], [1.0, 2.0], init=[1.0])


def test_ia_curves_one_line_per_field():
    fig = plots.ia_curves([0, 1, 2], {"item": [7.9, 5.0, 4.2], "gender": [7.8, 2.1, 1.5]})
    assert [t.name for t in fig.data] == ["item", "gender"]
    assert list(fig.data[0].x) == [0, 1, 2] and list(fig.data[0].y) == [7.9, 5.0, 4.2]
    assert fig.data[0].line.color != fig.data[1].line.color
    assert fig.layout.xaxis.title.text.startswith("epoch (0")
    with pytest.raises(ValueError, match="one IA per epoch"):
        plots.ia_curves([1, 2], {"item": [1.0]})


def test_sub_embedding_heatmap_orders_both_axes():
    matrix = np.arange(9.0).reshape(3, 3)  # [i, j]: field j into slot i
    fig = plots.sub_embedding_heatmap(matrix, ["a", "b", "c"], order=[2, 0, 1])
    heat = fig.data[0]
    assert list(heat.x) == ["c", "a", "b"] and list(heat.y) == ["c", "a", "b"]
    assert heat.z[0][1] == matrix[2, 0] and heat.z[1][2] == matrix[0, 1]  # slot c <- a, a <- b
    assert fig.layout.xaxis.title.text == "source field j"
    assert fig.layout.yaxis.title.text == "target slot i"
    plain = plots.sub_embedding_heatmap(matrix, ["a", "b", "c"]).data[0]
    assert np.array_equal(plain.z, matrix)
    with pytest.raises(ValueError, match=r"\(F, F\)"):
        plots.sub_embedding_heatmap(matrix[:2], ["a", "b", "c"])
    with pytest.raises(ValueError, match="permutation"):
        plots.sub_embedding_heatmap(matrix, ["a", "b", "c"], order=[0, 0, 1])


def test_grouped_bars_and_their_slider():
    fig = plots.grouped_bars(["a", "b"], {"SE": [1, 2], "ME": None, "other": [3, 4]}, bound=5,
                             y_title="IA")
    assert [t.name for t in fig.data] == ["SE", "other", "bound"]
    assert list(fig.data[1].y) == [3.0, 4.0] and list(fig.data[2].y) == [5.0, 5.0]
    slider = plots.bars_slider({"1x8": {"SE": [1, 2], "ME": [2, 3]}, "2x8": {"SE": [4, 2], "ME": [1, 9]}},
                               ["a", "b"], prefix="M x d = ")
    assert [t.visible for t in slider.data] == [True, True, False, False]
    assert slider.layout.sliders[0].steps[1].args[0]["visible"] == [False, False, True, True]
    assert slider.layout.yaxis.range[1] >= 9
    with pytest.raises(ValueError, match="one value per category"):
        plots.grouped_bars(["a"], {"SE": [1, 2]})
