"""minime.interaction: every module against a naive formula written with explicit loops."""

import itertools

import numpy as np
import pytest
import torch
from torch import nn

from minime.blocks import MLP
from minime.interaction import CrossNetV2, FMInteraction, FwFMInteraction, InnerProductInteraction

B, F, D = 5, 4, 3


@pytest.fixture
def embeddings():
    return torch.randn(B, F, D, dtype=torch.float64)


def pairwise(e, weight=lambda i, j: 1.0):
    """Σ_{i<j} w(i, j) e_i ⊙ e_j with a Python loop over pairs: (B, F, D) -> (B, D) numpy."""
    e = e.detach().numpy()
    return sum(weight(i, j) * e[:, i] * e[:, j] for i, j in itertools.combinations(range(F), 2))


def test_fm_sum_square_equals_pairwise_sum(embeddings):
    expected = pairwise(embeddings)
    np.testing.assert_allclose(FMInteraction(reduce_sum=False)(embeddings), expected)
    np.testing.assert_allclose(FMInteraction()(embeddings)[:, 0], expected.sum(1))


def test_fwfm_equals_weighted_pairwise_sum(embeddings):
    fwfm = FwFMInteraction(F, reduce_sum=False).double()
    np.testing.assert_allclose(fwfm(embeddings).detach(), pairwise(embeddings))  # r = 1 at init
    with torch.no_grad():
        fwfm.pair_weight.copy_(torch.randn(F * (F - 1) // 2))
    r = {pair: w for pair, w in zip(itertools.combinations(range(F), 2), fwfm.pair_weight.tolist())}
    expected = pairwise(embeddings, lambda i, j: r[i, j])
    np.testing.assert_allclose(fwfm(embeddings).detach(), expected)
    fwfm.reduce_sum = True
    np.testing.assert_allclose(fwfm(embeddings).detach()[:, 0], expected.sum(1))
    matrix = fwfm.field_weights().detach()
    assert matrix[1, 3] == r[1, 3] and matrix[3, 1] == 0 and matrix.diagonal().eq(0).all()


def test_fwfm_gradient_reaches_pair_weights(embeddings):
    fwfm = FwFMInteraction(F).double()
    fwfm(embeddings).sum().backward()
    e = embeddings.numpy()
    expected = [(e[:, i] * e[:, j]).sum() for i, j in itertools.combinations(range(F), 2)]
    np.testing.assert_allclose(fwfm.pair_weight.grad, expected)


def test_inner_products_in_pair_order(embeddings):
    out = InnerProductInteraction(F)(embeddings)
    e = embeddings.numpy()
    expected = np.stack([(e[:, i] * e[:, j]).sum(1)
                         for i, j in itertools.combinations(range(F), 2)], axis=1)
    assert out.shape == (B, F * (F - 1) // 2) == (B, InnerProductInteraction(F).output_dim)
    np.testing.assert_allclose(out, expected)


def test_pairwise_modules_need_two_fields():
    with pytest.raises(ValueError, match="at least 2 fields"):
        InnerProductInteraction(1)


def cross_by_loop(x0, weights, biases):
    """x_{l+1} = x_0 ⊙ (W_l x_l + b_l) + x_l, one sample and one layer at a time (numpy)."""
    out = []
    for sample in x0:
        x = sample
        for w, b in zip(weights, biases):
            x = sample * (w @ x + b) + x
        out.append(x)
    return np.stack(out)


def test_crossnet_full_rank_equals_per_layer_loop():
    net = CrossNetV2(6, num_layers=3).double()
    for layer in net.layers:
        nn.init.normal_(layer.bias)  # non-zero biases, so they are checked too
    x0 = torch.randn(B, 6, dtype=torch.float64)
    weights = [net.layer_weight(l).detach().numpy() for l in range(3)]
    biases = [layer.bias.detach().numpy() for layer in net.layers]
    np.testing.assert_allclose(net(x0).detach(), cross_by_loop(x0.numpy(), weights, biases))


def test_crossnet_low_rank_equals_full_rank_with_w_equal_u_vt():
    low = CrossNetV2(6, num_layers=2, low_rank=2).double()
    full = CrossNetV2(6, num_layers=2).double()
    with torch.no_grad():
        for l, (lo, fu) in enumerate(zip(low.layers, full.layers)):
            lo[1].bias.normal_()
            fu.weight.copy_(lo[1].weight @ lo[0].weight)  # W = U Vᵀ
            fu.bias.copy_(lo[1].bias)
            assert torch.linalg.matrix_rank(low.layer_weight(l)) == 2
    x0 = torch.randn(B, 6, dtype=torch.float64)
    assert torch.allclose(low(x0), full(x0))
    assert sum(p.numel() for p in low.parameters()) < sum(p.numel() for p in full.parameters())


def test_crossnet_init_and_zero_layers():
    net = CrossNetV2(10, num_layers=2)
    bound = (6 / 20) ** 0.5  # xavier_uniform_ on (10, 10)
    assert net.layer_weight(1).abs().max() <= bound and net.layers[0].bias.eq(0).all()
    x0 = torch.randn(B, 10)
    assert torch.equal(CrossNetV2(10, num_layers=0)(x0), x0)


def test_mlp_layers_and_values():
    mlp = MLP(4, (8, 6), dropout=0.1, batch_norm=True, activation=nn.Tanh, output_dim=2)
    kinds = [type(m).__name__ for m in mlp]
    assert kinds == ["Linear", "BatchNorm1d", "Tanh", "Dropout"] * 2 + ["Linear"]
    assert (mlp.input_dim, mlp.output_dim) == (4, 2)
    plain = MLP(4, (3,)).double()
    x = torch.randn(B, 4, dtype=torch.float64)
    linear = plain[0]
    expected = np.maximum(x.numpy() @ linear.weight.detach().numpy().T
                          + linear.bias.detach().numpy(), 0)
    np.testing.assert_allclose(plain(x).detach(), expected)
    assert MLP(4, (), output_dim=1)(x.float()).shape == (B, 1) and MLP(4, ()).output_dim == 4


def test_fwfm_restrict_pairs_switches_pairs_off_with_no_gradient():
    fwfm = FwFMInteraction(4)
    fwfm.restrict_pairs([(0, 1), (3, 2)])
    e = torch.randn(5, 4, 3)
    expected = (e[:, 0] * e[:, 1]).sum(1) + (e[:, 2] * e[:, 3]).sum(1)
    out = fwfm(e).squeeze(1)
    assert torch.allclose(out, expected, atol=1e-5)
    out.sum().backward()
    off = fwfm.pair_mask == 0
    assert off.sum() == 4 and (fwfm.pair_weight.grad[off] == 0).all()
    assert (fwfm.pair_weight.grad[~off] != 0).all()
    with pytest.raises(ValueError, match="not field pairs"):
        fwfm.restrict_pairs([(0, 4)])
