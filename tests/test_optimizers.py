"""minime.optimizers: the fused Adam steps the weights exactly as torch's unfused Adam does (up
to float32 rounding), and the optimisers fit builds are described truthfully."""

import torch
from torch import nn

from minime import optimizers
from minime.train import TrainConfig


def _steps(params, opt, grads):
    for grad in grads:
        for p, g in zip(params, grad):
            p.grad = g.clone()
        opt.step()
    return [p.detach().clone() for p in params]


def test_fused_adam_matches_the_unfused_reference():
    torch.manual_seed(0)
    start = [torch.randn(300, 10), torch.randn(7)]
    grads = [[torch.randn_like(t) for t in start] for _ in range(20)]
    ours = [nn.Parameter(t.clone()) for t in start]
    reference = [nn.Parameter(t.clone()) for t in start]
    opt, description = optimizers.adam_optimizer(ours, lr=1e-2, weight_decay=1e-3)
    expected = _steps(reference, torch.optim.Adam(reference, lr=1e-2, weight_decay=1e-3,
                                                  foreach=False), grads)
    got = _steps(ours, opt, grads)
    assert "fused" in description and opt.defaults["fused"]  # torch 2.13 has it on CPU
    for a, b, s in zip(got, expected, start):
        assert (b - s).abs().max() > 0.05  # the weights really moved (20 steps of 1e-2)
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_fit_builds_fused_adam_and_sparse_adam_beside_it():
    dense = nn.Sequential(nn.Embedding(5, 3), nn.Linear(3, 1))
    opts, text = optimizers.make_optimizers(dense, TrainConfig())
    assert len(opts) == 1 and opts[0].defaults["fused"] and text.startswith("Adam(") and \
        "fused" in text
    sparse = nn.Sequential(nn.Embedding(5, 3, sparse=True), nn.Linear(3, 1))
    opts, text = optimizers.make_optimizers(sparse, TrainConfig(optimizer="sparse_adam"))
    assert [type(o).__name__ for o in opts] == ["SparseAdam", "Adam"] and opts[1].defaults["fused"]
    assert text.endswith("fused) on 2 tensors"), text
