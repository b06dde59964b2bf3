"""AME, STEM-AL and the multi-scenario model; missing labels (label_mask) in data, training and AUC."""

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

from minime import analysis, data, models, train
from minime.data import TensorData

FIELDS = [12, 7, 5]
IDS = torch.tensor([[0, 1, 2], [11, 6, 4], [3, 3, 3], [5, 0, 1], [7, 2, 0], [9, 5, 2]])


def bce(logits, y, task):
    return nn.functional.binary_cross_entropy_with_logits(logits[:, task], y[:, task])


def block_grads(model, loss):
    """Max |grad| of every set's column block of the model's MultiEmbedding."""
    model.zero_grad()
    loss.backward()
    grad = model.embedding.table.weight.grad
    return [block.abs().max().item() for block in grad.split(model.embedding.dims, dim=1)]


def test_ame_with_equal_tables_is_a_multi_embedding_mmoe():
    config = models.MTLConfig(embedding_dim=4, expert_units=(8, 6), num_experts=3, tower_units=(5,))
    torch.manual_seed(0)
    memmoe = models.MEMMoE(FIELDS, config, num_tasks=2, num_embeddings=3)
    ame = models.AMENet(FIELDS, config, num_tasks=2, dims=(4, 4, 4), gate_input="all")
    with torch.no_grad():
        ame.embedding.table.weight.copy_(memmoe.embedding.table.weight)
        for k, expert in enumerate(ame.experts):  # expert k of ME-MMoE reads set k
            linears = [m for m in expert if isinstance(m, nn.Linear)]
            for linear, weight, bias in zip(linears, memmoe.experts.weights, memmoe.experts.biases):
                linear.weight.copy_(weight[k].T)
                linear.bias.copy_(bias[k, 0])
    ame.gates.load_state_dict(memmoe.gates.state_dict())
    ame.towers.load_state_dict(memmoe.towers.state_dict())
    assert memmoe.experts.input_index is None  # identity routing: expert k on set k
    logits_a, gates_a = ame(IDS, return_gates=True)
    logits_m, gates_m = memmoe(IDS, return_gates=True)
    torch.testing.assert_close(logits_a, logits_m, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(gates_a, gates_m, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("gate_input", ["all", "median", "const", 0])
def test_ame_gates_are_distributions(gate_input):
    model = models.AMENet(FIELDS, "small", num_tasks=3, dims=(2, 4, 8), gate_input=gate_input)
    logits, gates = model(IDS, return_gates=True)
    assert logits.shape == (6, 3) and gates.shape == (6, 3, 3)
    torch.testing.assert_close(gates.sum(-1), torch.ones(6, 3))
    assert (gates >= 0).all()


def test_ame_median_gate_reads_the_middle_table_and_const_ignores_the_row():
    assert models.AMENet(FIELDS, "small", dims=(64, 16, 32), gate_input="median").gate_table == 2
    model = models.AMENet(FIELDS, "small", num_tasks=2, dims=(2, 4), gate_input="const")
    gates = model(IDS, return_gates=True)[1]
    assert torch.equal(gates, gates[:1].expand_as(gates))  # every row: the task's own constant
    with pytest.raises(ValueError, match="gate_input"):
        models.AMENet(FIELDS, "small", dims=(2, 4), gate_input="sum")
    with pytest.raises(ValueError, match="out of range"):
        models.AMENet(FIELDS, "small", dims=(2, 4), gate_input=2)
    with pytest.raises(ValueError, match="owners"):
        models.AMENet(FIELDS, "small", num_tasks=2, dims=(2, 4), owners=(0, 2))


@pytest.mark.parametrize("gate_input", ["all", 1])
def test_ame_stop_gradient_isolates_owned_tables(gate_input):
    y = torch.tensor([[1.0, 0.0], [0.0, 1.0]] * 3)
    torch.manual_seed(0)
    model = models.AMENet(FIELDS, "small", num_tasks=2, dims=(2, 4, 3), owners=(0, 1, None),
                          aftb=True, gate_input=gate_input)
    grads = block_grads(model, bce(model(IDS), y, 0))  # task 1's loss
    assert grads[1] == 0.0 and grads[0] > 0 and grads[2] > 0  # task 2's table: exactly zero
    assert all((p.grad is None or (p.grad == 0).all()) for p in model.experts[1].parameters())
    free = models.AMENet(FIELDS, "small", num_tasks=2, dims=(2, 4, 3), owners=(0, 1, None),
                         aftb=False, gate_input=gate_input)
    assert block_grads(free, bce(free(IDS), y, 0))[1] > 0


def test_stem_al_auxiliary_losses_never_reach_the_main_table():
    y = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]] * 3)
    torch.manual_seed(0)
    model = models.STEMALNet(FIELDS, "small", num_tasks=3, main_tasks=(0,))
    logits, gates = model(IDS, return_gates=True)
    torch.testing.assert_close(gates.sum(-1), torch.ones(6, 3))
    assert (gates[:, 0] > 0).all() and torch.equal(gates[:, 1], torch.tensor([0.0, 1.0, 0.0]).expand(6, 3))
    main_experts = [k for k, o in enumerate(model.expert_owners()) if o == 0]
    for aux in (1, 2):
        grads = block_grads(model, bce(model(IDS), y, aux))
        assert grads[0] == 0.0 and grads[aux] > 0  # the main table: exactly zero
        assert all((w.grad[main_experts] == 0).all() for w in model.experts.weights)
    grads = block_grads(model, bce(model(IDS), y, 0))  # the main loss: its own table only,
    assert grads[0] > 0 and grads[1] == grads[2] == 0.0  # though it reads the aux experts
    with pytest.raises(ValueError, match="auxiliary"):
        models.STEMALNet(FIELDS, "small", num_tasks=2, main_tasks=(0, 1))


def test_multi_scenario_rows_train_their_scenario_table_and_the_shared_one():
    y = torch.ones(6, 1)
    torch.manual_seed(0)
    model = models.MultiScenarioNet(FIELDS, "small", num_tasks=1, scenario_field=2, combine="sum")
    rows = IDS[IDS[:, 2] == 2]  # scenario 2 only
    grads = block_grads(model, bce(model(rows), y[:len(rows)], 0))
    assert grads[2] > 0 and grads[5] > 0 and grads[0] == grads[1] == grads[3] == grads[4] == 0.0
    sets = model.embedding(IDS)  # the sum reading, by hand
    manual = torch.stack([sets[int(s)][n] + sets[-1][n] for n, s in enumerate(IDS[:, 2])]).flatten(1)
    expected = model.towers(model.bottom(manual)).squeeze(-1).T
    torch.testing.assert_close(model(IDS), expected)
    specific = models.MultiScenarioNet(FIELDS, "small", scenario_field=-1, combine="specific")
    assert block_grads(specific, bce(specific(IDS), y, 0))[-1] == 0.0  # no shared table in use
    with pytest.raises(ValueError, match="combine"):
        models.MultiScenarioNet(FIELDS, "small", combine="mean")


def test_label_mask_travels_with_rows_and_is_checked():
    mask = [[True, False], [False, True], [True, True]]
    d = TensorData([[0], [1], [2]], [[1, 0], [0, 1], [1, 1]], (3,), meta={"label_mask": mask})
    assert d.subset([2, 0]).label_mask.tolist() == [[True, True], [True, False]]
    assert d.with_tasks([1]).label_mask.tolist() == [[False], [True], [True]]
    assert [b.mask.tolist() for b in d.batches(2)] == [mask[:2], mask[2:]]
    with pytest.raises(ValueError, match="label_mask"):
        TensorData([[0], [1]], [[1, 0], [0, 1]], (3,), meta={"label_mask": [[1, 0], [0, 1]]})


@pytest.fixture(scope="module")
def cvr_world():
    return data.make_world("multicvr", num_rows=20_000, seed=3)


def test_multicvr_world_gives_each_row_one_task(cvr_world):
    d, cfg = cvr_world.data, cvr_world.config
    mask = d.label_mask.numpy()
    assert (mask.sum(1) == 1).all() and (mask.argmax(1) == d.meta["task"].numpy()).all()
    shares = np.asarray(cfg.task_shares) / sum(cfg.task_shares)
    assert np.allclose(mask.mean(0), shares, atol=0.01)
    y = d.y.numpy()
    assert (y[~mask] == 0).all()
    rates = [y[mask[:, t], t].mean() for t in range(d.num_tasks)]
    assert np.allclose(rates[:3], cfg.base_rates[:3], atol=0.01)  # the rate on the task's rows
    users = cvr_world.truth.user_factors
    assert all((users[t][:, r:] == 0).all() for t, r in enumerate(cfg.task_ranks))
    with pytest.raises(ValueError, match="task_shares"):
        data.make_world("multicvr", num_rows=100, task_shares=(1.0, 2.0))
    with pytest.raises(ValueError, match="task_ranks"):
        data.make_world("multicvr", num_rows=100, task_ranks=(4, 5, 1, 1, 1))


def test_unobserved_labels_change_neither_training_nor_auc(cvr_world):
    part = cvr_world.data
    flipped = TensorData(part.x, torch.where(part.label_mask, part.y, 1.0 - part.y),
                         part.field_dims, task_names=part.task_names, meta=part.meta)
    fit = train.TrainConfig(epochs=1, batch_size=512, progress=False)
    states = []
    for rows in (part, flipped):
        train.set_seed(0)
        model = models.build("mmoe", rows.field_dims, "small", num_tasks=rows.num_tasks)
        history = train.fit(model, rows, rows, fit)
        states.append((model.state_dict(), history.epochs[0]["valid_auc"]))
    for key, value in states[0][0].items():
        torch.testing.assert_close(value, states[1][0][key], rtol=0, atol=0)
    assert states[0][1] == states[1][1]
    logits = models.predict(model, part).numpy()
    observed = part.label_mask.numpy()
    expected = [roc_auc_score(part.y.numpy()[observed[:, t], t], logits[observed[:, t], t])
                for t in range(part.num_tasks)]
    assert train.evaluate(model, part)["auc"] == pytest.approx(expected, abs=1e-12)
    by_bucket = analysis.bucket_auc(model, part, {"all": np.ones(part.num_rows, bool)})
    assert by_bucket["all"] == pytest.approx(expected, abs=1e-12)
    with pytest.raises(ValueError, match="task 'tail 1' has 0 positive"):
        train.evaluate(model, part.subset(~(part.label_mask[:, 3] & (part.y[:, 3] == 1))))


def test_gate_temperature_divides_the_logits():
    model = models.AMENet(FIELDS, "small", num_tasks=2, dims=(2, 4, 8), gate_input="const",
                          gate_temperature=4.0)
    with torch.no_grad():
        model.gate_logits.copy_(torch.tensor([[0.0, 4.0, 8.0], [8.0, 0.0, 0.0]]))
    gates = model(IDS, return_gates=True)[1][0]
    torch.testing.assert_close(gates, torch.softmax(torch.tensor([[0.0, 1.0, 2.0], [2.0, 0.0, 0.0]]), -1))
    sharp = models.AMENet(FIELDS, "small", num_tasks=2, dims=(2, 4), gate_temperature=0.5)
    plain = models.AMENet(FIELDS, "small", num_tasks=2, dims=(2, 4))
    plain.load_state_dict(sharp.state_dict())
    x = torch.cat([e.flatten(1) for e in sharp.embedding(IDS)], dim=1)
    logits = plain.gates.logits(x)  # (B, T, K) before the softmax
    torch.testing.assert_close(sharp(IDS, return_gates=True)[1], torch.softmax(logits / 0.5, -1))
    with pytest.raises(ValueError, match="temperature"):
        models.AMENet(FIELDS, "small", dims=(2, 4), gate_temperature=0.0)
