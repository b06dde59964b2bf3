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


# --- entanglement figures -------------------------------------------------------------------------

def test_distance_histograms_stack_the_bands_on_the_other_pairs():
    rng = np.random.default_rng(0)
    tables = {"ST click": rng.random(300), "MMoE": rng.random(300) * 2}
    conflict = rng.random(300) < 0.2
    fig = plots.distance_histograms(tables, conflict, bins=10)
    assert len(fig.data) == 10 and len(fig.layout.sliders[0].steps) == 2
    assert [t.visible for t in fig.data] == [True] * 5 + [False] * 5
    assert fig.layout.barmode == "stack"
    for k, d in enumerate(tables.values()):
        other, near, middle, far, lines = fig.data[5 * k: 5 * k + 5]
        total, edges = np.histogram(d, bins=10)
        assert np.array_equal(np.sum([t.y for t in (other, near, middle, far)], axis=0), total)
        assert np.array_equal(other.y, np.histogram(d[~conflict], bins=edges)[0])
        lo, hi = np.percentile(d, [40, 60])
        assert np.array_equal(near.y, np.histogram(d[conflict & (d <= lo)], bins=edges)[0])
        assert np.array_equal(far.y, np.histogram(d[conflict & (d > hi)], bins=edges)[0])
        assert lines.x[0] == lo and lines.x[3] == hi
        share = (conflict & (d <= lo)).sum() / conflict.sum()
        assert near.name == f"conflict, near ({share:.0%})"
        assert near.marker.color == plots.PALETTE[2] and far.marker.color == plots.PALETTE[1]
    assert fig.layout.sliders[0].steps[1].args[1]["title.text"].endswith(": MMoE")


def test_distance_histograms_reject_mismatches():
    with pytest.raises(ValueError, match="distances for"):
        plots.distance_histograms({"a": np.arange(5.0)}, np.ones(4, bool))
    with pytest.raises(ValueError, match="bool conflict mask"):
        plots.distance_histograms({"a": np.arange(5.0)}, np.ones(5))
    with pytest.raises(ValueError, match="at least one table"):
        plots.distance_histograms({}, np.ones(5, bool))


def test_gate_heatmap_has_a_fixed_range_and_values_in_cells():
    weights = np.array([[0.7, 0.2, 0.1], [0.0, 0.5, 0.5]])
    fig = plots.gate_heatmap(weights, ["click", "convert"], ["click", "convert", "shared"])
    heat = fig.data[0]
    assert np.array_equal(heat.z, weights) and (heat.zmin, heat.zmax) == (0.0, 1.0)
    assert list(heat.y) == ["click", "convert"] and list(heat.x) == ["click", "convert", "shared"]
    assert heat.texttemplate == "%{z:.2f}" and fig.layout.yaxis.autorange == "reversed"
    with pytest.raises(ValueError, match=r"\(T, E\)"):
        plots.gate_heatmap(weights, ["click"], ["a", "b", "c"])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        plots.gate_heatmap(weights * 2, ["click", "convert"], ["a", "b", "c"])


def test_bucket_bars_one_colour_per_model_and_a_reference_line():
    values = {"MMoE": {"conflict": -0.02, "other": 0.03}, "STEM": {"other": 0.02, "conflict": 0.01}}
    fig = plots.bucket_bars(values, reference=0.5, y_title="transfer")
    mmoe, stem = fig.data
    assert list(mmoe.x) == ["conflict", "other"] and list(stem.y) == [0.01, 0.02]
    assert mmoe.marker.color != stem.marker.color and fig.layout.barmode == "group"
    assert fig.layout.shapes[0].y0 == fig.layout.shapes[0].y1 == 0.5
    assert fig.layout.yaxis.title.text == "transfer"
    with pytest.raises(ValueError, match="every model needs the buckets"):
        plots.bucket_bars({"a": {"x": 1.0}, "b": {"y": 1.0}})
    with pytest.raises(ValueError, match="at least one model"):
        plots.bucket_bars({})


def test_bucket_bars_slider_one_step_per_run_and_a_range_over_negative_bars():
    steps = {"0°": {"MMoE": {"conflict": 0.01, "other": 0.02}, "STEM": {"conflict": 0.03, "other": 0.0}},
             "90°": {"MMoE": {"other": 0.05, "conflict": -0.04}, "STEM": {"conflict": 0.0, "other": 0.01}}}
    fig = plots.bucket_bars_slider(steps, prefix="θ = ", y_title="transfer")
    assert [t.name for t in fig.data] == ["MMoE", "STEM"] * 2
    assert [t.visible for t in fig.data] == [True, True, False, False]
    assert fig.layout.sliders[0].steps[1].args[0]["visible"] == [False, False, True, True]
    assert list(fig.data[2].x) == ["conflict", "other"] and list(fig.data[2].y) == [-0.04, 0.05]
    low, high = fig.layout.yaxis.range
    assert low < -0.04 and high > 0.05 and fig.layout.shapes[0].y0 == 0.0
    with pytest.raises(ValueError, match="the first step"):
        plots.bucket_bars_slider({"a": {"M": {"x": 1.0}}, "b": {"M": {"y": 1.0}}})
    with pytest.raises(ValueError, match="at least one step"):
        plots.bucket_bars_slider({})


def test_gradient_conflict_bars_one_bar_per_pair_of_tasks():
    cos = np.array([[1.0, -0.4, 0.2], [-0.4, 1.0, 0.1], [0.2, 0.1, 1.0]])
    fig = plots.gradient_conflict_bars({"MMoE": cos, "STEM": np.eye(3)}, ["a", "b", "c"])
    assert list(fig.data[0].x) == ["a · b", "a · c", "b · c"]
    assert list(fig.data[0].y) == [-0.4, 0.2, 0.1] and list(fig.data[1].y) == [0.0, 0.0, 0.0]
    assert tuple(fig.layout.yaxis.range) == (-1.05, 1.05) and fig.layout.shapes[0].y0 == 0.0
    with pytest.raises(ValueError, match=r"\(T, T\)"):
        plots.gradient_conflict_bars({"MMoE": np.eye(2)}, ["a", "b", "c"])


def test_correlation_maps_normalise_each_panel_and_check_shapes():
    rng = np.random.default_rng(0)
    truth, learned = rng.random((4, 3)) * 0.01, rng.random((4, 3)) * 50 + 7
    fig = plots.correlation_maps({"CTC": truth, "TIM": learned}, list("abcd"), [1, 2, 3])
    for trace, a in zip(fig.data, (truth, learned)):
        z = np.array(trace.z)
        assert z.min() == 0 and z.max() == 1
        np.testing.assert_allclose(z, (a - a.min()) / (a.max() - a.min()))
    assert [t.showscale for t in fig.data] == [False, True]
    with pytest.raises(ValueError, match=r"\(categories, positions\) = \(4, 3\); got \{'TIM': \(3, 4\)\}"):
        plots.correlation_maps({"CTC": truth, "TIM": learned.T}, list("abcd"), [1, 2, 3])
    assert plots.min_max(np.full((2, 2), 3.0)).tolist() == [[0.0, 0.0], [0.0, 0.0]]


def test_correlation_slider_keeps_the_panels_and_shows_one_step():
    rng = np.random.default_rng(1)
    steps = {str(t): {"CTC": rng.random((3, 4)), "TIM": rng.random((3, 4))} for t in range(3)}
    fig = plots.correlation_slider(steps, list("abc"), [1, 2, 3, 4])
    assert len(fig.data) == 6 and [t.visible for t in fig.data] == [True, True] + [False] * 4
    assert fig.data[3].xaxis == "x2" and fig.layout.xaxis2.domain[0] > 0.5  # the subplot grid kept
    np.testing.assert_allclose(np.array(fig.data[4].z), plots.min_max(steps["2"]["CTC"]))
    assert [s.args[0]["visible"] for s in fig.layout.sliders[0].steps][1] == [False, False, True, True,
                                                                             False, False]
    with pytest.raises(ValueError, match="same panels"):
        plots.correlation_slider({"0": {"CTC": np.eye(2)}, "1": {"DIN": np.eye(2)}}, "ab", [1, 2])
