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
