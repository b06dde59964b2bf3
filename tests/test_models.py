"""minime.models: shapes, training on a planted signal, sparse tables, registry, configs."""

import dataclasses
import itertools

import numpy as np
import pytest
import torch
from torch import nn

from minime import models
from minime.optimizers import split_sparse_parameters
from minime.models import MODELS, PRESETS, CTRConfig

FIELD_DIMS = (3, 7, 20, 50)
SMALL = CTRConfig.preset("small")
NAMES = sorted(MODELS)


def planted_world(num_rows=1024, num_tasks=1, seed=0):
    """Ids (N, 4) and labels (N, T) from a known rule: per-id biases + a rank-2 pair term."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.stack([torch.randint(0, v, (num_rows,), generator=g) for v in FIELD_DIMS], 1)
    logits = []
    for _ in range(num_tasks):
        bias0, bias1 = torch.randn(3, generator=g), torch.randn(7, generator=g)
        u, v = torch.randn(20, 2, generator=g), torch.randn(50, 2, generator=g)
        pair = (u[ids[:, 2]] * v[ids[:, 3]]).sum(1)
        logits.append(bias0[ids[:, 0]] + bias1[ids[:, 1]] + 1.5 * pair)
    labels = torch.bernoulli(torch.sigmoid(torch.stack(logits, 1)), generator=g)
    return ids, labels


def train(model, ids, labels, steps, lr=0.01):
    """Full-batch Adam on BCE-with-logits; returns the losses before every step."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = nn.functional.binary_cross_entropy_with_logits(model(ids), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("name, num_tasks", list(itertools.product(NAMES, [1, 3])))
def test_shape_and_two_training_steps(name, num_tasks):
    model = models.build(name, FIELD_DIMS, SMALL, num_tasks=num_tasks)
    ids, labels = planted_world(64, num_tasks)
    assert model(ids).shape == (64, num_tasks)
    before = model.embedding.table.weight.detach().clone()
    losses = train(model, ids, labels, steps=2)
    assert all(np.isfinite(losses)) and not torch.equal(before, model.embedding.table.weight)


@pytest.mark.parametrize("name", NAMES)
def test_loss_decreases_on_planted_signal(name):
    ids, labels = planted_world()
    losses = train(models.build(name, FIELD_DIMS, SMALL), ids, labels, steps=50)
    assert losses[-1] < losses[0] - 0.1, (losses[0], losses[-1])


@pytest.mark.parametrize("name", NAMES)
def test_sparse_embedding_with_sparse_adam(name):
    model = models.build(name, FIELD_DIMS, dataclasses.replace(SMALL, sparse_embedding=True))
    sparse, dense = split_sparse_parameters(model)
    assert any(p is model.embedding.table.weight for p in sparse) and dense
    optimizers = [torch.optim.SparseAdam(sparse, lr=0.01), torch.optim.Adam(dense, lr=0.01)]
    ids, labels = planted_world(64)
    before = model.embedding.table.weight.detach().clone()
    for _ in range(2):
        loss = nn.functional.binary_cross_entropy_with_logits(model(ids), labels)
        for opt in optimizers:
            opt.zero_grad()
        loss.backward()
        assert model.embedding.table.weight.grad.is_sparse
        for opt in optimizers:
            opt.step()
    changed = (model.embedding.table.weight != before).any(1)
    seen = torch.zeros_like(changed)
    seen[(ids + model.embedding.offsets).unique()] = True
    assert torch.equal(changed, seen)  # lazy updates: exactly the rows in the batch moved


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_model(name):
    ids = planted_world(16)[0]
    runs = []
    for _ in range(2):
        torch.manual_seed(7)
        model = models.build(name, FIELD_DIMS, SMALL, num_tasks=2).eval()
        runs.append((model.state_dict(), model(ids)))
    (first, out1), (second, out2) = runs
    assert all(torch.equal(first[k], second[k]) for k in first) and torch.equal(out1, out2)


@pytest.mark.parametrize("name", NAMES)
def test_bad_ids_raise_before_any_lookup_and_int32_matches(name):
    model = models.build(name, FIELD_DIMS, SMALL).eval()
    ids = planted_world(8)[0]
    assert torch.equal(model(ids.int()), model(ids))
    ids[2, 3] = 50
    with pytest.raises(ValueError, match="field 3: id 50 in row 2"):
        model(ids)
    with pytest.raises(ValueError, match="integers"):
        model(ids.float())


@pytest.mark.parametrize("name", NAMES)
def test_interaction_block_contract_for_multi_embedding(name):
    """Per-set block (B, F, d) -> (B, h) for any d, as a multi-embedding model will use it."""
    block, width = MODELS[name].interaction_block(len(FIELD_DIMS), 3, SMALL)
    assert block(torch.randn(5, len(FIELD_DIMS), 3)).shape == (5, width)


def test_fm_equals_formula():
    model = models.FM(FIELD_DIMS, SMALL, num_tasks=2)
    with torch.no_grad():
        model.head.first_order.table.weight.normal_()
        model.head.bias.normal_()
    ids = planted_world(6)[0]
    e = [m.detach()[ids[:, f]] for f, m in enumerate(model.embedding.field_tables())]
    w = [m.detach()[ids[:, f]] for f, m in enumerate(model.head.first_order.field_tables())]
    pairs = sum((e[i] * e[j]).sum(1) for i, j in itertools.combinations(range(4), 2))
    expected = model.head.bias.detach() + sum(w) + pairs[:, None]
    assert torch.allclose(model(ids), expected, atol=1e-6)


def test_fwfm_equals_fm_at_init():
    torch.manual_seed(1)
    fm = models.FM(FIELD_DIMS, SMALL)
    torch.manual_seed(1)
    fwfm = models.FwFM(FIELD_DIMS, SMALL)
    ids = planted_world(16)[0]
    assert torch.allclose(fm(ids), fwfm(ids), atol=1e-6)


def test_ipnn_head_sees_embeddings_and_products():
    model = models.IPNN(FIELD_DIMS, SMALL)
    assert model.head[0].in_features == 4 * SMALL.embedding_dim + 6


def test_dcnv2_is_stacked_cross_then_mlp():
    model = models.DCNv2(FIELD_DIMS, dataclasses.replace(SMALL, low_rank=2))
    ids = planted_world(4)[0]
    crossed = model.cross_net(model.embedding(ids).flatten(1))
    assert torch.equal(model(ids), model.head(crossed))
    assert model.cross_net.num_layers == SMALL.num_cross_layers
    assert model.cross_net.layer_weight(0).shape == (16, 16)


def test_build_registry_and_errors():
    assert set(MODELS) == {"dnn", "fm", "fwfm", "ipnn", "dcnv2", "restricted_dcnv2"}
    with pytest.raises(ValueError, match="dcnv2"):
        models.build("dcn", FIELD_DIMS)
    model = models.build("dnn", FIELD_DIMS, "paper")
    assert model.config == PRESETS["paper"] and isinstance(model.head[1], nn.BatchNorm1d)
    assert models.build("dnn", FIELD_DIMS).config == CTRConfig()
    with pytest.raises(ValueError, match="num_tasks"):
        models.DNN(FIELD_DIMS, num_tasks=0)


def test_config_presets_are_frozen_and_checked():
    paper = CTRConfig.preset("paper")
    assert (paper.embedding_dim, paper.hidden_units, paper.num_cross_layers) == (10, (400, 400), 4)
    assert paper.batch_norm and paper.dropout == 0.2
    assert CTRConfig(hidden_units=[8, 4]).hidden_units == (8, 4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        paper.dropout = 0.0
    with pytest.raises(ValueError, match="unknown preset"):
        CTRConfig.preset("huge")
    for bad in (dict(embedding_dim=0), dict(dropout=1.0), dict(low_rank=0)):
        with pytest.raises(ValueError):
            CTRConfig(**bad)


def test_embedding_init_from_config():
    model = models.DNN(FIELD_DIMS, dataclasses.replace(SMALL, embedding_init=nn.init.zeros_))
    assert model.embedding.table.weight.eq(0).all()


@pytest.mark.parametrize("name", NAMES)
def test_two_steps_then_loss_decreases_on_the_tiny_world(name):
    from minime import data

    world = data.make_world("tiny", seed=0)
    ids, labels = world.data.x, world.data.y
    model = models.build(name, world.field_dims, SMALL, num_tasks=world.num_tasks)
    assert model(ids[:8]).shape == (8, world.num_tasks)
    losses = train(model, ids, labels, steps=50)
    assert losses[-1] < losses[0] - 0.1, (losses[0], losses[-1])


@pytest.mark.parametrize("field_dims", [(50, 20), (20_000, 300)])
def test_the_paper_preset_draws_tables_at_criteo_scale_whatever_the_vocabulary(field_dims):
    torch.manual_seed(0)
    table = models.build("dcnv2", field_dims, "paper").embedding.table.weight
    expected = (6.0 / (1_086_810 + 10)) ** 0.5 / 3 ** 0.5  # xavier-uniform's std on Criteo's table
    assert table.std().item() == pytest.approx(expected, rel=0.05)
    small = models.build("dcnv2", field_dims, "default").embedding.table.weight  # xavier here
    assert small.std().item() > 3 * expected
