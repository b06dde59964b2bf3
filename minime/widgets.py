"""ipywidgets panels that recompute a figure live (Jupyter and Colab; frozen in the static book).

A panel is a row of controls, a button and an output area. Pressing the button calls ``draw``
with the controls' values and shows what it returns, so slow work (retraining a model) runs only
when asked. In the published book there is no Python kernel: the panel shows the controls and
the output of its first run, and the text around it says so.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import ipywidgets as w
from IPython.display import display

__all__ = ["panel"]


def panel(
    draw: Callable[..., Any],
    controls: Mapping[str, w.ValueWidget],
    *,
    button: str = "Run",
    run_now: bool = True,
) -> w.VBox:
    """Controls + a button + an output area showing ``draw(**values)``.

    Args:
        draw: called with one keyword argument per control (its current value); whatever it
            returns (a plotly Figure, a string, a DataFrame ...) is displayed.
        controls: keyword name -> ipywidgets control (IntSlider, Dropdown, ...).
        button: the button's label.
        run_now: draw once immediately, so the panel starts with an output; an error in this
            first run is raised (a static page must not show a traceback).

    Returns:
        The panel (an ``ipywidgets.VBox``); make it the last expression of a cell to show it.

    Example:
        >>> p = panel(lambda n: n * n, {"n": w.IntSlider(value=3)}, run_now=False)
        >>> type(p).__name__
        'VBox'
    """
    if not controls:
        raise ValueError("a panel needs at least one control")
    out = w.Output()
    run = w.Button(description=button, button_style="primary", icon="play")

    def redraw(*_):  # a click: errors show in the output area, as Jupyter shows a cell's
        values = {name: c.value for name, c in controls.items()}
        with out:
            out.clear_output(wait=True)
            display(draw(**values))

    run.on_click(redraw)
    for name, control in controls.items():
        if not getattr(control, "description", ""):
            control.description = name
        control.style.description_width = "initial"  # show the whole name
    if run_now:  # outside the output area, so a failing first run fails the cell (and CI)
        first = draw(**{name: c.value for name, c in controls.items()})
        with out:
            display(first)
    return w.VBox([w.HBox([*controls.values(), run]), out])
