"""minime.plots: the shared theme, slider figures and flow diagrams."""

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
