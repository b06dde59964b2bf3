"""minime.experts and the multi-task models: equivalence (batched == loop experts, the two PLE
readings), exact gradient isolation of STEM (AFTB), gate properties, training, registry."""

import dataclasses
import itertools

import numpy as np
import pytest
import torch
from torch import nn

from minime import blocks, data, experts, models, train
from minime.embedding import FusedEmbedding, MultiEmbedding
from minime.optimizers import split_sparse_parameters
from minime.models import MTL_MODELS, MTLConfig

FIELD_DIMS = (6, 5, 4)
SMALL = MTLConfig.preset("small")  # D 4, experts (8,), MMoE 3 experts, 2 shared + 1 specific
NAMES = sorted(MTL_MODELS)
MULTI = [n for n in NAMES if n != "single_task"]


def ids(num_rows=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.stack([torch.randint(0, v, (num_rows,), generator=g) for v in FIELD_DIMS], 1)


def task_loss(model, x, task, seed=1):
    """BCE of task ``task`` alone on random labels."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.bernoulli(torch.full((len(x),), 0.5), generator=generator)
    return nn.functional.binary_cross_entropy_with_logits(model(x)[:, task], labels)


def expert_grads(module: blocks.MLPExperts, k: int) -> list[torch.Tensor]:
    """Gradients of expert (or gate / tower) ``k``'s weights and biases, every layer."""
    return [p.grad[k] for p in [*module.weights, *module.biases]]


def gate_grads(gate: experts.SoftmaxGate, g: int) -> list[torch.Tensor]:
    """Gradients of gate ``g``'s own parameters: its logits' weights and biases."""
    rows = gate.logit_index(g)
    hidden = expert_grads(gate.hidden, g) if gate.hidden is not None else []
    return [gate.weight.grad[rows], gate.bias.grad[rows], *hidden]


def logit(gate: experts.SoftmaxGate, g: int, e: int) -> int:
    """The row of ``gate.weight`` / ``gate.bias`` holding gate ``g``'s logit of expert ``e``."""
    return int(((gate.gate_of == g) & (gate.expert_of == e)).nonzero()[0, 0])


def all_zero(tensors) -> bool:
    return all(bool((t == 0).all()) for t in tensors)


def all_nonzero(tensors) -> bool:
    return all(bool(t.abs().sum() > 0) for t in tensors)


# ---------------------------------------------------------------- building blocks


@pytest.mark.parametrize("streams, index, output_dim", [
    (False, None, None), (True, None, 3), (True, [0, 1, 1, 0], None)])
def test_batched_experts_equal_the_reference_loop(streams, index, output_dim):
    batched = blocks.MLPExperts(4, 6, (5, 7), output_dim=output_dim, input_index=index)
    loop = blocks.LoopMLPExperts(batched)
    x = torch.randn(2 if index else 4, 9, 6) if streams else torch.randn(9, 6)
    x_loop = x.clone().requires_grad_()
    x.requires_grad_()
    out, ref = batched(x), loop(x_loop)
    assert out.shape == ref.shape == (4, 9, output_dim or 7)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)
    grad = torch.randn_like(out)
    out.backward(grad)
    ref.backward(grad)
    torch.testing.assert_close(x.grad, x_loop.grad, rtol=1e-5, atol=1e-6)
    first = loop.experts[1][0]  # expert 1's first nn.Linear: weight (out, in)
    torch.testing.assert_close(batched.weights[0].grad[1].T, first.weight.grad,
                               rtol=1e-5, atol=1e-5)


def test_softmax_gate_rows_sum_to_one_and_hidden_experts_get_zero():
    visible = torch.tensor([[True, False, True], [False, True, True]])
    gate = experts.SoftmaxGate(2, 5, 3, (4,), visible=visible)
    w = gate(torch.randn(2, 8, 5))
    assert w.shape == (8, 2, 3)
    torch.testing.assert_close(w.sum(-1), torch.ones(8, 2))
    assert bool((w[:, ~visible] == 0).all()) and bool((w[:, visible] > 0).all())
    assert gate.num_logits == int(visible.sum()) == 4  # no logit, no parameter, where blind
    w[:, 0, 0].sum().backward()
    assert all_zero(gate_grads(gate, 1)) and all_nonzero(gate_grads(gate, 0))


def test_softmax_gate_parameters_are_the_visible_logits_only():
    """PLE's task gates: no weight for the other task's experts (a hand count)."""
    model = build("ple", 2)  # small: 1 specific expert per task + 2 shared, gates read F·D inputs
    width = len(FIELD_DIMS) * SMALL.embedding_dim
    gate = model.levels[0].task_gates
    assert gate.num_logits == 2 * (1 + 2)  # each task: its own expert and the two shared ones
    assert models.num_parameters(gate) == 2 * (1 + 2) * (width + 1)
    mmoe = build("mmoe", 2)  # every gate sees all num_experts experts
    assert models.num_parameters(mmoe.levels[0].task_gates) == 2 * SMALL.num_experts * (width + 1)


def test_mix_detach_changes_the_backward_only():
    f = torch.randn(3, 4, 2, requires_grad=True)
    w = torch.softmax(torch.randn(4, 2, 3), -1).requires_grad_()
    detach = torch.tensor([[False, True, False], [False, False, False]])
    h, h_plain = experts.mix(f, w, detach), experts.mix(f, w)
    torch.testing.assert_close(h, h_plain)
    torch.testing.assert_close(h_plain[1], torch.einsum("be,ebh->bh", w[:, 1], f))
    h[0].sum().backward()
    assert bool((f.grad[1] == 0).all()) and bool((f.grad[0] != 0).all())
    assert bool((w.grad[:, 0, 1] != 0).all())  # the gate still learns the detached weight


def test_level_config_and_mixture_layer_shapes():
    level = experts.LevelConfig(num_specific=2, num_shared=1, expert_units=(6,),
                                shared_gate="all", task_view="all", aftb=True)
    assert level.owners(2).tolist() == [0, 0, 1, 1, 2]
    layer = experts.MixtureLayer(4, 2, level)
    h, g = layer(torch.randn(3, 7, 4))
    assert h.shape == (3, 7, 6) and g.shape == (7, 2, 5)
    assert layer.detach.tolist() == [[False, False, True, True, False],
                                     [True, True, False, False, False],
                                     [False] * 5]  # the shared gate detaches nothing
    for bad in [dict(gate_input="mean"), dict(task_view="none"), dict(shared_gate="some"),
                dict(num_specific=0, num_shared=0), dict(expert_units=()),
                dict(num_shared=0, shared_gate="shared")]:
        with pytest.raises(ValueError):
            experts.LevelConfig(**bad)


# ---------------------------------------------------------------- every model


def build(name, num_tasks, config=SMALL, **options):
    return models.build(name, FIELD_DIMS, config, num_tasks=num_tasks, **options)


def expected_visibility(model) -> torch.Tensor:
    """``(T, E)``: where each task gate of the first level may put weight."""
    owners = torch.tensor(model.expert_owners())
    tasks = torch.arange(model.num_tasks).unsqueeze(1)
    if isinstance(model, models.PLE):
        return (owners == tasks) | (owners == model.num_tasks)
    if isinstance(model, models.STEMALNet):  # main tasks see every expert, auxiliary their own
        main = torch.zeros(model.num_tasks, 1, dtype=torch.bool)
        main[model.main_tasks] = True
        return (owners == tasks) | main
    return torch.ones(model.num_tasks, len(owners), dtype=torch.bool)


@pytest.mark.parametrize("name, num_tasks", [(n, t) for n, t in itertools.product(NAMES, [1, 2, 3])
                                             if (n != "single_task" or t == 1)
                                             and (n != "stem_al" or t > 1)])
def test_shapes_gates_and_two_training_steps(name, num_tasks):
    model = build(name, num_tasks)
    x = ids()
    logits, gates = model(x, return_gates=True)
    assert logits.shape == (32, num_tasks) and torch.equal(model(x), logits)
    assert gates.shape == (32, num_tasks, model.num_experts)
    torch.testing.assert_close(gates.sum(-1), torch.ones(32, num_tasks))
    visible = expected_visibility(model)
    assert bool((gates[:, ~visible] == 0).all()) and bool((gates[:, visible] > 0).all())
    y = torch.bernoulli(torch.full((32, num_tasks), 0.3))
    before = model.embedding.table.weight.detach().clone()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(2):
        loss = nn.functional.binary_cross_entropy_with_logits(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert np.isfinite(loss.item()) and not torch.equal(before, model.embedding.table.weight)


@pytest.mark.parametrize("name", NAMES)
def test_loss_decreases_on_the_tiny_world(name):
    world = data.make_world("tiny", seed=0)
    num_tasks = 1 if name == "single_task" else 2
    x, y = world.data.x, world.data.y[:, :num_tasks]
    model = models.build(name, world.field_dims, SMALL, num_tasks=num_tasks)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(50):
        loss = nn.functional.binary_cross_entropy_with_logits(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.1, (losses[0], losses[-1])


@pytest.mark.parametrize("name", MULTI)
def test_fit_trains_one_epoch(name):
    world = data.make_world("tiny", seed=0)
    split = world.split()
    model = models.build(name, world.field_dims, SMALL, num_tasks=world.num_tasks)
    history = train.fit(model, split.train, split.valid,
                        train.TrainConfig(epochs=1, batch_size=512, progress=False))
    assert len(history.epochs) == 1 and 0.0 < history.best_valid_auc <= 1.0


def test_stem_with_sparse_embedding_and_sparse_adam():
    model = build("stem", 2, dataclasses.replace(SMALL, sparse_embedding=True))
    sparse, dense = split_sparse_parameters(model)
    assert len(sparse) == 1 and sparse[0] is model.embedding.table.weight and dense
    task_loss(model, ids(), 0).backward()
    assert model.embedding.table.weight.grad.is_sparse


# ---------------------------------------------------------------- STEM: AFTB isolation


def table_block(model, k):
    """Gradient of set ``k``'s column block of the one MultiEmbedding table."""
    d = model.config.embedding_dim
    return model.embedding.table.weight.grad[:, k * d:(k + 1) * d]


def experts_of(model, level, owner):
    layer = model.levels[level]
    return [g for k, o in enumerate(model.expert_owners()) if o == owner
            for g in expert_grads(layer.experts, k)]


@pytest.mark.parametrize("task", [0, 1, 2])
def test_stem_task_loss_never_reaches_other_tasks(task):
    model = build("stem", 3)
    assert model.embedding.dims == (4, 4, 4, 4)  # [task 1, task 2, task 3, shared]
    task_loss(model, ids(), task).backward()
    others = [j for j in range(3) if j != task]
    assert all_zero(table_block(model, j) for j in others)  # == 0, bitwise
    assert all_zero(g for j in others for g in experts_of(model, 0, j))
    assert all_zero(g for j in others for g in gate_grads(model.levels[0].task_gates, j))
    assert all_zero(g for j in others for g in expert_grads(model.towers, j))
    shared = 3
    assert all_nonzero([table_block(model, task), table_block(model, shared)])
    assert all_nonzero(experts_of(model, 0, task) + experts_of(model, 0, shared))
    assert all_nonzero(gate_grads(model.levels[0].task_gates, task))


def test_stem_without_aftb_lets_every_task_reach_every_table():
    model = build("stem", 3, aftb=False)
    task_loss(model, ids(), 0).backward()
    assert all_nonzero([table_block(model, j) for j in range(4)])
    assert all_nonzero(experts_of(model, 0, 1) + experts_of(model, 0, 2))


def test_stem_two_levels_isolated_when_the_shared_gate_mixes_shared_experts():
    model = build("stem", 2, MTLConfig.preset("small", num_levels=2), shared_gate="shared")
    task_loss(model, ids(), 0).backward()
    assert all_zero([table_block(model, 1)])
    assert all_zero(experts_of(model, 0, 1) + experts_of(model, 1, 1))
    assert all_nonzero([table_block(model, 0), table_block(model, 2)])


def test_stem_two_levels_official_leaks_only_through_the_shared_gate():
    """Official STEM: h^S mixes all experts without stop-gradient, so with two levels task 0's
    loss reaches task 1's table through it -- and not at all once h^S ignores task 1's experts."""
    model = build("stem", 2, MTLConfig.preset("small", num_levels=2))  # shared_gate="all"
    x = ids()
    task_loss(model, x, 0).backward()
    assert all_zero(experts_of(model, 1, 1))  # the last level's AFTB holds
    assert all_nonzero([table_block(model, 1)] + experts_of(model, 0, 1))  # via h^S
    model.zero_grad()
    with torch.no_grad():  # level 0's shared gate: logit -inf on task 1's specific expert
        gate = model.levels[0].shared_gate
        gate.bias[logit(gate, 0, 1)] = float("-inf")
    task_loss(model, x, 0).backward()
    assert all_zero([table_block(model, 1)] + experts_of(model, 0, 1) + experts_of(model, 1, 1))


def test_stem_gate_inputs():
    concat = build("stem", 2, gate_input="concat")
    own = build("stem", 2, gate_input="own")
    width = len(FIELD_DIMS) * SMALL.embedding_dim
    assert concat.levels[0].task_gates.weight.shape == (2 * 4, 2 * width)
    assert own.levels[0].task_gates.weight.shape == (2 * 4, width)
    task_loss(own, ids(), 0).backward()  # gate 0 reads e^(0) only; isolation still holds
    assert all_zero([table_block(own, 1)]) and all_nonzero([table_block(own, 2)])


# ---------------------------------------------------------------- PLE: two readings


def ple_pair(num_levels):
    """The two readings with the same parameters wherever both have them."""
    config = MTLConfig.preset("small", num_levels=num_levels)
    torch.manual_seed(0)
    shared = build("ple", 2, config, shared_gate="shared")
    everything = build("ple", 2, config, shared_gate="all")
    state = everything.state_dict()
    for name, value in shared.state_dict().items():
        if state[name].shape == value.shape:
            state[name] = value
        else:  # the shared gate: "all" has a logit per expert, "shared" per shared expert
            assert name.endswith(("shared_gate.weight", "shared_gate.bias")), name
            gate = everything.get_submodule(name.rsplit(".", 1)[0])
            state[name][gate.expert_of >= 2] = value  # experts 2, 3 are the shared ones
    everything.load_state_dict(state)
    return shared, everything


def test_ple_readings_are_the_same_model_with_one_level():
    shared, everything = ple_pair(1)
    x = ids()
    assert torch.equal(shared(x), everything(x))


def test_ple_readings_differ_only_through_the_shared_gate():
    shared, everything = ple_pair(2)
    x = ids()
    assert not torch.allclose(shared(x), everything(x))
    gate = everything.levels[0].shared_gate
    assert gate.num_logits == 4 and shared.levels[0].shared_gate.num_logits == 2
    assert gate(torch.randn(5, 12))[:, 0, :2].min() > 0  # "all" weighs the specific experts
    with torch.no_grad():  # forbid "all"'s shared gate the specific experts (-inf logits)
        gate.bias[[logit(gate, 0, 0), logit(gate, 0, 1)]] = float("-inf")
    torch.testing.assert_close(shared(x), everything(x), rtol=0, atol=1e-7)
    assert everything.levels[-1].shared_gate is None  # the last level has no shared gate


# ---------------------------------------------------------------- registry, options, configs


def test_registry_and_build():
    assert set(MTL_MODELS) == {"single_task", "shared_bottom", "mmoe", "ple", "me_mmoe", "stem",
                               "ame", "stem_al", "multi_scenario"}
    assert not set(MTL_MODELS) & set(models.MODELS)
    model = build("me_mmoe", 2, num_embeddings=2)
    assert isinstance(model, models.MEMMoE) and model.embedding.dims == (4, 4)
    assert model.experts.input_index.tolist() == [0, 1, 0]  # expert k reads set k mod M
    assert isinstance(build("stem", 2).embedding, MultiEmbedding)
    assert all(isinstance(build(n, 1).embedding, FusedEmbedding)
               for n in ("single_task", "shared_bottom", "mmoe", "ple"))
    assert build("ple", 2, shared_gate="all").shared_gate == "all"
    assert build("stem", 1).num_experts == 3  # T = 1 is allowed: 1 specific + 2 shared
    paper = MTLConfig.preset("paper")
    stem = models.build("stem", FIELD_DIMS, paper, num_tasks=2)
    assert stem.num_experts == 10 and stem.levels[0].experts.weights[-1].shape == (10, 512, 512)


@pytest.mark.parametrize("name, options, match", [
    ("ple", dict(shared_gate="both"), "shared_gate"),
    ("stem", dict(shared_gate="both"), "shared_gate"),
    ("stem", dict(gate_input="mean"), "gate_input"),
    ("stem", dict(num_tasks=0), "num_tasks"),
    ("mmoe", dict(num_tasks=-1), "num_tasks"),
    ("single_task", dict(num_tasks=2), "single-task"),
    ("me_mmoe", dict(num_embeddings=4), "num_embeddings"),
    ("me_mmoe", dict(num_embeddings=0), "num_embeddings"),
    ("mmoe", dict(config=MTLConfig.preset("small", num_levels=2)), "num_levels"),
    ("nope", {}, "unknown model"),
])
def test_bad_options_raise_value_errors(name, options, match):
    options = {"num_tasks": 2, "config": SMALL, **options}
    with pytest.raises(ValueError, match=match):
        models.build(name, FIELD_DIMS, **options)


@pytest.mark.parametrize("bad", [dict(expert_units=()), dict(num_experts=0), dict(dropout=1.0),
                                 dict(num_levels=0), dict(tower_units=(0,)),
                                 dict(num_shared_experts=0, num_specific_experts=0),
                                 dict(num_shared_experts=-1), dict(embedding_dim=0)])
def test_bad_sizes_raise_value_errors(bad):
    with pytest.raises(ValueError):
        MTLConfig(**bad)


def test_config_resolution():
    assert models.resolve_mtl_config(None) == MTLConfig()
    assert models.resolve_mtl_config("small") == SMALL
    with pytest.raises(TypeError, match="MTLConfig"):
        build("stem", 2, models.CTRConfig())
    with pytest.raises(ValueError, match="unknown preset"):
        MTLConfig.preset("huge")
