"""minime.blocks.Dropout: the fast CPU dropout keeps 1 − p of the elements, unbiased, repeatably."""

import pytest
import torch
from torch import nn

from minime.blocks import MLP, Dropout


@pytest.mark.parametrize("p", [0.1, 0.2, 0.5, 0.9])
def test_keep_rate_scale_and_mean_match_the_rate(p):
    torch.manual_seed(0)
    y = Dropout(p)(torch.ones(400_001))
    kept = y > 0
    rounded = round(p * 2**15) / 2**15
    # a binomial proportion over 400k draws: 5 standard errors
    assert abs(kept.float().mean().item() - (1 - p)) < 5 * (p * (1 - p) / 400_001) ** 0.5 + 1e-4
    assert torch.allclose(y[kept], torch.tensor(1 / (1 - rounded)))
    assert abs(y.mean().item() - 1.0) < 5 * (p / (1 - p) / 400_001) ** 0.5 + 1e-4


def test_the_two_halves_of_each_draw_are_independent():
    torch.manual_seed(1)
    kept = (Dropout(0.5)(torch.ones(200_000)) > 0).float().view(-1, 2)  # (low, high) of one int32
    both = (kept[:, 0] * kept[:, 1]).mean().item()
    assert abs(both - 0.25) < 0.01, f"P(both halves kept) {both:.4f}, expected 0.25"


def test_gradient_is_the_mask_and_seeding_repeats_it():
    x = torch.randn(64, 32, requires_grad=True)
    torch.manual_seed(3)
    y = Dropout(0.3)(x)
    y.sum().backward()
    mask = y.detach() / x.detach()
    assert torch.allclose(x.grad, mask, atol=1e-6)
    torch.manual_seed(3)
    assert torch.equal(Dropout(0.3)(x), y)


def test_eval_mode_and_edge_rates_are_nn_dropout():
    x = torch.randn(5, 7)
    assert torch.equal(Dropout(0.4).eval()(x), x)
    assert torch.equal(Dropout(0.0)(x), x)
    assert torch.equal(Dropout(1.0)(x), torch.zeros_like(x))
    assert isinstance(Dropout(0.2), nn.Dropout)


def test_mlp_uses_it():
    assert any(isinstance(m, Dropout) for m in MLP(4, (8,), dropout=0.2))
