"""Multi-embedding models: one set == SE, one gather, linear ME == SE, ablations, training."""

import dataclasses
import itertools

import numpy as np
import pytest
import torch
from torch import nn

from minime import data, models
from minime.blocks import Dropout
from minime.optimizers import split_sparse_parameters
from minime.interaction import CrossNetV2
from minime.models import MEConfig, MultiEmbeddingModel, as_single_embedding
from test_models import train  # full-batch Adam, losses before every step

FIELD_DIMS = (3, 7, 20, 50)
SMALL = models.CTRConfig.preset("small")  # d = 4, hidden (16, 8), 2 cross layers
BN = dataclasses.replace(SMALL, batch_norm=True, dropout=0.2)
ME_NAMES = sorted(models.MULTI_MODELS)


def ids_batch(n=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.stack([torch.randint(0, v, (n,), generator=g) for v in FIELD_DIMS], 1)


def randomize_(model, scale=0.3, seed=0):
    """Every parameter and BN running statistic drawn at random (a trained-like model)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in itertools.chain(model.named_parameters(), model.named_buffers()):
            if t.is_floating_point() and "mask" not in name:
                shift = 1.0 if "running_var" in name else 0.0  # keep variances positive
                t.copy_(scale * torch.randn(t.shape, generator=g) + shift)
    return model


def me_model(interaction, config=SMALL, num_tasks=1, **me):
    return MultiEmbeddingModel(FIELD_DIMS, config, num_tasks=num_tasks, interaction=interaction,
                               me=MEConfig(**me))


@pytest.mark.parametrize("name", ["dnn", "dcnv2", "restricted_dcnv2", "ipnn"])
def test_one_set_is_the_se_model_with_the_same_weights(name):
    """ME with M = 1: block -> [Linear BN ReLU Dropout] -> head is SE's block -> MLP -> T."""
    me = randomize_(me_model(name, BN, num_tasks=2, num_embeddings=1)).eval()
    se = models.build(name, FIELD_DIMS, BN, num_tasks=2).eval()
    mlp = nn.Sequential(*me.first_layers[0], *me.head).state_dict()  # same layers, re-indexed
    if name == "ipnn":  # SE IPNN also sees flatten(e): give those inputs zero weight
        flat = len(FIELD_DIMS) * BN.embedding_dim
        mlp["0.weight"] = torch.cat([torch.zeros(16, flat), mlp["0.weight"]], dim=1)
    se.head.load_state_dict(mlp)
    se.embedding.load_state_dict(me.embedding.state_dict())
    se.block.load_state_dict(me.blocks[0].state_dict())
    ids = ids_batch()
    assert torch.allclose(me(ids), se(ids), atol=1e-6)


@pytest.mark.parametrize("name", ["fm", "fwfm"])
def test_one_set_fm_is_a_neural_fm(name):
    """ME-FM with M = 1: head(ReLU(BN(W p + b))), p = Σ_{i<j} r_ij e_i ⊙ e_j, written by hand."""
    me = randomize_(me_model(name, BN, num_embeddings=1)).eval()
    ids = ids_batch()
    tables = me.embedding.tables()[0]
    e = [tables[f].detach()[ids[:, f]] for f in range(len(FIELD_DIMS))]  # F × (B, d)
    r = me.blocks[0].field_weights().detach() if name == "fwfm" else torch.ones(4, 4)
    pairs = sum(r[i, j] * e[i] * e[j] for i, j in itertools.combinations(range(4), 2))
    linear, norm = me.first_layers[0][0], me.first_layers[0][1]
    expected = me.head(torch.relu(norm(linear(pairs))))
    assert torch.allclose(me(ids), expected, atol=1e-6)


@pytest.mark.parametrize("name, shared", list(itertools.product(ME_NAMES, [False, True])))
def test_forward_does_exactly_one_gather(name, shared):
    model = models.build(name, FIELD_DIMS, SMALL, me=MEConfig(3, shared_interaction=shared))
    calls = []
    model.embedding.table.register_forward_hook(lambda *args: calls.append(1))
    model(ids_batch())
    assert len(calls) == 1


@pytest.mark.parametrize("name, m, aggregate", list(
    itertools.product(["dnn", "fm", "fwfm"], [2, 3], ["mean", "sum", "concat"])))
def test_linear_me_is_a_single_embedding_model(name, m, aggregate):
    me = randomize_(me_model(name, BN, num_tasks=2, num_embeddings=m, aggregate=aggregate,
                             nonlinear=False))
    if name == "fwfm":  # one FwFM has one r: give every set the same (random) pair weights
        for block in me.blocks[1:]:
            block.load_state_dict(me.blocks[0].state_dict())
    me.eval()
    se = as_single_embedding(me)
    assert not se.training and se.config.embedding_dim == 4 * m
    if name == "dnn":  # a plain DNN, one MLP layer fewer
        assert isinstance(se, models.DNN) and se.config.hidden_units == BN.hidden_units[1:]
    else:  # a one-set neural FM whose first layer has the aggregate's width
        width = 16 * m if aggregate == "concat" else 16
        assert se.num_embeddings == 1 and se.first_layers[0].out_features == width
    ids = ids_batch(64)
    assert torch.allclose(me(ids), se(ids), atol=1e-5, rtol=1e-5)


def test_linear_shared_fwfm_folds_and_distinct_pair_weights_do_not():
    shared = randomize_(me_model("fwfm", num_embeddings=3, nonlinear=False,
                                 shared_interaction=True))
    ids = ids_batch()
    assert torch.allclose(shared(ids), as_single_embedding(shared)(ids), atol=1e-5)
    distinct = randomize_(me_model("fwfm", num_embeddings=3, nonlinear=False))
    with pytest.raises(ValueError, match="different pair weights"):
        as_single_embedding(distinct)


@pytest.mark.parametrize("name, match", [("dcnv2", "block-diagonal"), ("ipnn", "SUM"),
                                         ("restricted_dcnv2", "block-diagonal")])
def test_interactions_that_do_not_fold_raise(name, match):
    with pytest.raises(ValueError, match=match):
        as_single_embedding(me_model(name, num_embeddings=2, nonlinear=False))


def test_nonlinear_me_does_not_fold():
    with pytest.raises(ValueError, match="nonlinear=False"):
        as_single_embedding(me_model("dnn", num_embeddings=2))
    with pytest.raises(ValueError, match="MultiEmbeddingModel"):
        as_single_embedding(models.DNN(FIELD_DIMS, SMALL))


def test_shared_interaction_has_one_block_and_applies_it_to_every_set():
    sizes = {}
    for m in (2, 4):
        model = randomize_(me_model("dcnv2", BN, num_embeddings=m, shared_interaction=True))
        assert len(model.blocks) == len(model.first_layers) == len(model.cross_nets) == 1
        sizes[m] = sum(p.numel() for p in model.parameters())
    table_rows = sum(FIELD_DIMS) * SMALL.embedding_dim
    assert sizes[4] - sizes[2] == 2 * table_rows  # only the two extra tables differ
    model.eval()
    ids = ids_batch()
    block, layer = model.blocks[0], model.first_layers[0]
    by_hand = torch.stack([layer(block(e)) for e in model.embedding(ids)]).mean(0)
    assert torch.allclose(model.features(ids), by_hand, atol=1e-6)
    assert torch.allclose(model(ids), model.head(by_hand), atol=1e-6)


def test_set_specific_blocks_are_separate_modules():
    model = me_model("dcnv2", num_embeddings=3)
    assert len(model.blocks) == 3 and len({id(c) for c in model.cross_nets}) == 3
    assert all(isinstance(c, CrossNetV2) for c in model.cross_nets)
    assert not torch.equal(model.cross_nets[0].layer_weight(0), model.cross_nets[1].layer_weight(0))
    assert not hasattr(me_model("dnn", num_embeddings=2), "cross_nets")


def test_aggregates_mean_sum_concat():
    ids, feats, heads = ids_batch(), {}, {}
    for aggregate in ("mean", "sum", "concat"):
        torch.manual_seed(3)  # same tables, blocks and first layers; heads differ in width
        model = me_model("dnn", num_embeddings=3, aggregate=aggregate).eval()
        feats[aggregate], heads[aggregate] = model.features(ids), model.head[0].in_features
        assert model(ids).shape == (32, 1)
    assert heads == {"mean": 16, "sum": 16, "concat": 48}
    assert torch.allclose(feats["sum"], 3 * feats["mean"], atol=1e-6)
    per_set = feats["concat"].view(32, 3, 16)  # (B, M*h0) -> (B, M, h0)
    assert torch.allclose(per_set.mean(1), feats["mean"], atol=1e-6)


def test_nonlinear_false_is_plain_linear_first_layers():
    model = me_model("dnn", BN, num_embeddings=2, nonlinear=False)
    assert all(type(layer) is nn.Linear for layer in model.first_layers)
    nonlinear = me_model("dnn", BN, num_embeddings=2)
    kinds = [type(m) for m in nonlinear.first_layers[0]]
    assert kinds == [nn.Linear, nn.BatchNorm1d, nn.ReLU, Dropout]


def test_embedding_init_is_applied_per_set():
    calls = []
    init = lambda w: calls.append(tuple(w.shape)) or nn.init.ones_(w)  # noqa: E731
    model = me_model("dnn", dataclasses.replace(SMALL, embedding_init=init), num_embeddings=3)
    assert calls == [(sum(FIELD_DIMS), 4)] * 3 and model.embedding.table.weight.eq(1).all()


def test_registry_build_and_regularization():
    assert set(models.MULTI_MODELS) == {f"me_{n}" for n in models.MODELS}
    model = models.build("me_fwfm", FIELD_DIMS, "small", num_tasks=3,
                         me=MEConfig(num_embeddings=2, aggregate="sum"))
    assert model.interaction is models.FwFM and model.me.aggregate == "sum"
    assert model.embedding.dims == (4, 4) and model(ids_batch(5)).shape == (5, 3)
    assert models.build("me_dnn", FIELD_DIMS).me == MEConfig()
    assert not any(hasattr(models.build(n, FIELD_DIMS, SMALL), "regularization")
                   for n in ME_NAMES if n != "me_restricted_dcnv2")
    restricted = models.build("me_restricted_dcnv2", FIELD_DIMS, SMALL,
                              me=MEConfig(num_embeddings=2, reg_weight=0.5))
    penalties = sum(c.orthogonality_penalty() for c in restricted.cross_nets)
    assert torch.allclose(restricted.regularization(), 0.5 * penalties)
    assert models.build("restricted_dcnv2", FIELD_DIMS, SMALL, reg_weight=0.1).reg_weight == 0.1


def test_bad_options_raise_clear_errors():
    with pytest.raises(ValueError, match="unknown aggregate 'max'"):
        MEConfig(aggregate="max")
    with pytest.raises(ValueError, match="num_embeddings"):
        MEConfig(num_embeddings=0)
    with pytest.raises(ValueError, match="unknown interaction 'cin'"):
        me_model("cin")
    with pytest.raises(TypeError, match="MEConfig"):
        MultiEmbeddingModel(FIELD_DIMS, me=4)
    with pytest.raises(ValueError, match="hidden_units"):
        me_model("dnn", dataclasses.replace(SMALL, hidden_units=()))
    with pytest.raises(ValueError, match="num_tasks"):
        me_model("dnn", num_tasks=0)
    with pytest.raises(ValueError, match="me_dcnv2"):
        models.build("me_dcn", FIELD_DIMS)


def test_sparse_tables_train_with_sparse_adam():
    model = models.build("me_dcnv2", FIELD_DIMS, dataclasses.replace(SMALL, sparse_embedding=True),
                         me=MEConfig(num_embeddings=2))
    sparse, dense = split_sparse_parameters(model)
    assert len(sparse) == 1 and sparse[0] is model.embedding.table.weight
    model(ids_batch()).sum().backward()
    assert model.embedding.table.weight.grad.is_sparse


@pytest.fixture(scope="module")
def tiny_world():
    world = data.make_world("tiny", seed=0)
    return world.field_dims, world.num_tasks, world.data.x, world.data.y


@pytest.mark.parametrize("name", ME_NAMES)
def test_two_steps_then_loss_decreases_on_the_tiny_world(name, tiny_world):
    field_dims, num_tasks, ids, labels = tiny_world
    torch.manual_seed(0)
    model = models.build(name, field_dims, SMALL, num_tasks=num_tasks,
                         me=MEConfig(num_embeddings=2))
    assert model(ids[:8]).shape == (8, num_tasks)
    before = model.embedding.table.weight.detach().clone()
    losses = train(model, ids, labels, steps=50)
    assert np.isfinite(losses).all() and not torch.equal(before, model.embedding.table.weight)
    assert losses[-1] < losses[0] - 0.1, (losses[0], losses[-1])
