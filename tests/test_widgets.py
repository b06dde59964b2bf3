"""minime.widgets: a panel draws once, then again with the controls' values on each click."""

import ipywidgets as w
import pytest

from minime import widgets


def test_panel_redraws_with_current_values():
    calls = []
    n = w.IntSlider(value=2)
    panel = widgets.panel(lambda n: calls.append(n) or n, {"n": n})
    assert calls == [2]
    n.value = 5
    button = panel.children[0].children[-1]
    button.click()
    assert calls == [2, 5]
    assert n.description == "n"


def test_panel_needs_controls():
    with pytest.raises(ValueError, match="at least one control"):
        widgets.panel(lambda: None, {})


def test_a_failing_first_run_raises_instead_of_hiding_in_the_output():
    def draw(n):
        raise ValueError(f"cannot draw {n}")

    with pytest.raises(ValueError, match="cannot draw 3"):
        widgets.panel(draw, {"n": w.IntSlider(value=3)})
    panel = widgets.panel(draw, {"n": w.IntSlider(value=3)}, run_now=False)  # clicks: no raise
    assert len(panel.children) == 2
