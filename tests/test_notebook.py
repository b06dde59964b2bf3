"""minime.notebook: the book renderer emits html without plotly.js; setup seeds and reports."""

import sys

import plotly.graph_objects as go
import pytest
import plotly.io as pio
import torch

from minime import notebook


def test_book_renderer_emits_small_html_without_plotlyjs():
    notebook.register_book_renderer()
    bundle = pio.renderers["book"].to_mimebundle(go.Figure(go.Scatter(y=[1, 2, 3])).to_dict())
    html = bundle["text/html"]
    assert set(bundle) == {"text/html"}
    assert "Plotly.newPlot" in html and "plotly-graph-div" in html
    assert len(html) < 20_000, "plotly.js must not be embedded in every figure"
    assert "cdn.plot.ly" not in html and "mathjax" not in html.lower()


def test_setup_chooses_renderer_seed_and_device(monkeypatch, capsys):
    monkeypatch.delenv("MINIME_PLOTLY", raising=False)
    ctx = notebook.setup(seed=3)
    assert "scale=ci" in capsys.readouterr().out
    assert pio.renderers.default == ctx.renderer == "plotly_mimetype+book"
    assert ctx.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    first = torch.rand(3)
    notebook.setup(seed=3, verbose=False)
    assert torch.equal(first, torch.rand(3))


def test_renderer_override_and_colab(monkeypatch):
    monkeypatch.setenv("MINIME_PLOTLY", "notebook")
    assert notebook.choose_renderer() == "notebook"
    monkeypatch.delenv("MINIME_PLOTLY")
    monkeypatch.setattr(notebook, "IN_COLAB", True)
    assert notebook.choose_renderer() == "colab"


def test_glue_falls_back_when_myst_nb_is_missing(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setitem(sys.modules, "myst_nb", None)  # import fails, as on Colab
    monkeypatch.setattr(IPython.display, "display", shown.append)
    notebook.glue("x", 1.5)  # nothing stored, nothing shown, no error
    assert shown == []
    notebook.glue("y", torch.tensor(2.5), display=True)  # shown as a plain number
    assert shown == [2.5] and type(shown[0]) is float


def test_glue_turns_numpy_and_torch_scalars_into_python_numbers(monkeypatch):
    import types

    import numpy as np

    stored = {}
    fake = types.SimpleNamespace(glue=lambda name, value, display: stored.update({name: value}))
    monkeypatch.setitem(sys.modules, "myst_nb", fake)
    notebook.glue("a", np.float64(2.5))
    notebook.glue("b", torch.tensor(3))
    assert stored == {"a": 2.5, "b": 3} and type(stored["a"]) is float and type(stored["b"]) is int


def test_setup_takes_its_seed_from_minime_seed(monkeypatch):
    monkeypatch.setenv("MINIME_SEED", "2")
    ctx = notebook.setup(verbose=False)
    assert ctx.seed == 2 and ctx.seeds((0, 1, 2)) == (2, 3, 4)
    first = torch.rand(2)
    torch.manual_seed(2)
    assert torch.equal(first, torch.rand(2))  # setup seeded torch with it
    assert notebook.setup(5, verbose=False).seed == 5  # an explicit seed wins
    monkeypatch.delenv("MINIME_SEED")
    assert notebook.setup(verbose=False).seed == 0
    monkeypatch.setenv("MINIME_SEED", "one")
    with pytest.raises(ValueError, match="MINIME_SEED='one' is not a seed"):
        notebook.setup(verbose=False)
