"""minime.models.restricted: the field-weighted cross network, its penalty, the restricted DCNv2."""

import dataclasses

import numpy as np
import pytest
import torch

from minime import data, models, train
from minime.interaction import CrossNetV2, FieldWeightedCrossNet
from minime.models import CTRConfig, RestrictedDCNv2

F, D, L = 4, 3, 2
SMALL = CTRConfig.preset("small")


def random_net(seed=0):
    """A net with random W, b and N (so no test passes by N = 1 or b = 0 by accident)."""
    torch.manual_seed(seed)
    net = FieldWeightedCrossNet(F, D, L)
    with torch.no_grad():
        net.bias.normal_()
        net.field_weight.uniform_(-2, 2)
    return net


def naive_penalty(weight):
    """Σ_l Σ_{i,j} ‖I − W^{(i,j)} W^{(i,j)ᵀ}‖_F² with a double loop over the blocks, in numpy."""
    total = 0.0
    for w in weight.detach().double().numpy():
        for i in range(F):
            for j in range(F):
                block = w[i * D:(i + 1) * D, j * D:(j + 1) * D]
                total += np.sum((np.eye(D) - block @ block.T) ** 2)
    return total


def naive_effective(net, layer):
    """The (FD, FD) matrix whose block (i, j) is N[i, j] · W^{(i,j)}, built block by block."""
    w = net.weight[layer].detach().numpy().copy()
    n = net.field_weight[layer].detach().numpy()
    for i in range(F):
        for j in range(F):
            w[i * D:(i + 1) * D, j * D:(j + 1) * D] *= n[i, j]
    return torch.from_numpy(w)


def orthogonal_blocks(seed=0):
    """(L, FD, FD) weights whose every (D, D) block is a random orthogonal matrix (QR)."""
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(L, F, F, D, D, generator=g, dtype=torch.float64))
    return q.permute(0, 1, 3, 2, 4).reshape(L, F * D, F * D)  # (L, F, F, D, D) -> (L, FD, FD)


def test_penalty_is_zero_for_orthogonal_blocks():
    net = FieldWeightedCrossNet(F, D, L).double()
    with torch.no_grad():
        net.weight.copy_(orthogonal_blocks())
    assert net.orthogonality_penalty().item() <= 1e-10
    blocks = net.block_weights(1)
    assert torch.allclose(blocks[2, 1] @ blocks[2, 1].T, torch.eye(D, dtype=torch.float64))


@pytest.mark.parametrize("seed", [0, 1])
def test_penalty_equals_a_double_loop(seed):
    net = random_net(seed)
    expected = naive_penalty(net.weight)
    assert expected > 1.0
    assert np.isclose(net.orthogonality_penalty().item(), expected, rtol=1e-5)


def test_block_weights_are_the_raw_blocks():
    net = random_net()
    w = net.weight[1]
    blocks = net.block_weights(1)
    assert blocks.shape == (F, F, D, D)
    assert torch.equal(blocks[2, 3], w[2 * D:3 * D, 3 * D:4 * D])
    assert torch.equal(blocks[0, 1], w[0:D, D:2 * D])


def test_layer_weight_is_the_field_weighted_matrix():
    net = random_net()
    for layer in range(L):
        assert torch.allclose(net.layer_weight(layer), naive_effective(net, layer))


def test_forward_equals_an_explicit_loop():
    net = random_net()
    x0 = torch.randn(5, F * D)
    x = x0
    for layer in range(L):
        w, b = naive_effective(net, layer), net.bias[layer].detach()
        x = x0 * (x @ w.T + b) + x
    assert torch.allclose(net(x0), x, atol=1e-5)


def test_with_unit_field_weights_it_is_crossnetv2():
    net = random_net()
    with torch.no_grad():
        net.field_weight.fill_(1.0)
    reference = CrossNetV2(F * D, L)
    with torch.no_grad():
        for layer, linear in enumerate(reference.layers):
            linear.weight.copy_(net.weight[layer])
            linear.bias.copy_(net.bias[layer])
    x0 = torch.randn(6, F * D)
    assert torch.allclose(net(x0), reference(x0), atol=1e-6)
    assert torch.equal(net.layer_weight(0), reference.layer_weight(0))


def test_init_is_xavier_per_layer_unit_n_zero_b():
    net = FieldWeightedCrossNet(10, 8, 3)
    bound = (6 / (2 * 80)) ** 0.5
    assert net.weight.abs().max() <= bound and net.weight.abs().max() > 0.9 * bound
    assert net.field_weight.eq(1).all() and net.bias.eq(0).all()


def test_zero_layers_is_the_identity_with_no_penalty():
    net = FieldWeightedCrossNet(F, D, 0)
    x0 = torch.randn(2, F * D)
    assert torch.equal(net(x0), x0) and net.orthogonality_penalty().item() == 0.0


def test_gradient_reaches_field_weights_and_the_penalty_only_w():
    net = random_net()
    net(torch.randn(8, F * D)).sum().backward()
    assert net.field_weight.grad is not None and net.field_weight.grad.abs().sum() > 0
    net.zero_grad()
    net.orthogonality_penalty().backward()
    assert net.weight.grad.abs().sum() > 0 and net.field_weight.grad is None


def test_model_regularization_is_weight_times_penalty():
    model = RestrictedDCNv2([3, 7, 20, 5], SMALL, reg_weight=0.5)
    penalty = model.cross_net.orthogonality_penalty()
    assert model.regularization().shape == ()
    assert torch.isclose(model.regularization(), 0.5 * penalty)
    assert RestrictedDCNv2([3, 7], SMALL).reg_weight == 1e-5
    assert RestrictedDCNv2([3, 7], SMALL, reg_weight=0).regularization().item() == 0.0


def test_model_is_cross_then_mlp_and_registered():
    model = models.build("restricted_dcnv2", [3, 7, 20, 5], SMALL, num_tasks=2)
    assert isinstance(model, RestrictedDCNv2)
    assert models.MODELS["restricted_dcnv2"] is RestrictedDCNv2
    ids = torch.tensor([[0, 6, 19, 4], [2, 1, 0, 0]])
    crossed = model.cross_net(model.embedding(ids).flatten(1))
    assert torch.equal(model(ids), model.head(crossed)) and model(ids).shape == (2, 2)
    assert model.cross_net.num_layers == SMALL.num_cross_layers
    assert model.cross_net.layer_weight(0).shape == (16, 16)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="low_rank"):
        RestrictedDCNv2([3, 7], dataclasses.replace(SMALL, low_rank=2))
    with pytest.raises(ValueError, match="reg_weight"):
        RestrictedDCNv2([3, 7], SMALL, reg_weight=-1.0)


def test_fit_adds_the_regularizer_to_the_loss():
    """A huge λ drives the blocks towards orthogonal within one epoch; λ = 0 barely moves them."""
    world = data.make_world("tiny", seed=0)
    split = world.split(seed=0)
    config = train.TrainConfig(epochs=1, batch_size=128, lr=0.05, progress=False)
    penalties, losses = {}, {}
    for reg_weight in (0.0, 1.0):
        torch.manual_seed(0)
        model = RestrictedDCNv2(world.field_dims, SMALL, num_tasks=world.num_tasks,
                                reg_weight=reg_weight)
        start = model.cross_net.orthogonality_penalty().item()
        history = train.fit(model, split.train, split.valid, config)
        penalties[reg_weight] = model.cross_net.orthogonality_penalty().item()
        losses[reg_weight] = history.epochs[0]["train_loss"]
    assert penalties[1.0] < 0.3 * start and penalties[1.0] < 0.3 * penalties[0.0]
    assert penalties[0.0] > 0.5 * start
    assert losses[1.0] > losses[0.0] + 1.0  # the reported loss includes λ · penalty
