"""The routing study and the gate statistics it rests on, on a tiny world and on an outside table."""

import numpy as np
import pytest
import torch

from minime import analysis, data, models, studies, train
from minime.data import TensorData

QUICK = train.TrainConfig(epochs=1, batch_size=512, progress=False)


@pytest.fixture(scope="module")
def split():
    return data.make_world("multicvr", num_rows=60_000, seed=0).split((0.4, 0.3, 0.3))


def test_task_gate_mass_is_each_tasks_gate_averaged_over_its_own_rows(split):
    train.set_seed(0)
    net = models.build("ame", split.test.field_dims, "small", num_tasks=split.test.num_tasks,
                       dims=(2, 4, 8)).eval()
    mass = analysis.task_gate_mass(net, split.test, batch_size=999)  # batches split rows oddly
    with torch.no_grad():
        gates = net(split.test.x, return_gates=True)[1].double().numpy()  # (N, T, E)
    observed = split.test.label_mask.numpy()
    expected = np.stack([gates[observed[:, t], t].mean(0) for t in range(split.test.num_tasks)])
    np.testing.assert_allclose(mass, expected, rtol=1e-10)
    np.testing.assert_allclose(mass.sum(1), 1.0, rtol=1e-6)  # float32 gates
    everything = analysis.gate_weights(net, split.test)  # every row counts for every task
    assert not np.allclose(everything, mass)


@pytest.mark.slow  # more than a second
def test_routing_study_records_and_cache(split, tmp_path):
    specs = {"AME": ("ame", {"dims": (2, 4, 8)}), "MMoE": ("mmoe", {})}
    runs = studies.routing_study(split, specs, config="small", train_config=QUICK, seeds=(0, 1),
                                 cache=tmp_path, progress=False)
    assert [(r["label"], r["seed"]) for r in runs] == [("AME", 0), ("MMoE", 0), ("AME", 1),
                                                       ("MMoE", 1)]
    observed = split.train.label_mask
    rows = observed.sum(0).tolist()
    positives = [int(split.train.y[observed[:, t], t].sum()) for t in range(observed.shape[1])]
    for r in runs:
        assert r["rows"] == rows and r["positives"] == positives
        assert len(r["auc"]) == len(r["gates"]) == split.train.num_tasks
        assert all(0 <= a <= 1 for a in r["auc"]) and np.allclose(np.sum(r["gates"], 1), 1.0)
        assert r["parameters"]["embedding"] == sum(split.train.field_dims) * (
            14 if r["label"] == "AME" else models.MTLConfig.preset("small").embedding_dim)
    ame = runs.select(label="AME", seed=0)[0]
    train.set_seed(0)  # the record is what training and scoring the same model gives
    net = models.build("ame", split.train.field_dims, "small", num_tasks=5, dims=(2, 4, 8))
    train.fit(net, split.train, split.valid, QUICK)
    assert ame["auc"] == pytest.approx(train.evaluate(net, split.test)["auc"], abs=1e-6)
    again = studies.routing_study(split, specs, config="small", train_config=QUICK,
                                  seeds=(0, 1), cache=tmp_path, progress=False)
    assert again.cached == 4 and again == runs


def outside_table(num_rows=6_000, seed=0):
    """A plain two-task table: customers, products and an hour, clicks and purchases."""
    rng = np.random.default_rng(seed)
    customer, product, hour = rng.integers(0, 300, num_rows), rng.integers(0, 120, num_rows), \
        rng.integers(0, 24, num_rows)
    taste = rng.normal(size=(300, 4)) @ rng.normal(size=(4, 120))  # customer × product affinity
    click = rng.random(num_rows) < 1 / (1 + np.exp(2.0 - taste[customer, product]))
    purchase = click & (rng.random(num_rows) < 1 / (1 + np.exp(1.0 + taste[customer, product])))
    x = np.stack([customer, product, hour], 1)
    return TensorData(x, np.stack([click, purchase], 1), (300, 120, 24),
                      field_names=("customer", "product", "hour"),
                      task_names=("click", "purchase"), name="outside")


def test_entanglement_and_routing_studies_run_on_a_plain_two_task_table(tmp_path):
    split = outside_table().split((0.6, 0.2, 0.2))
    specs = {"MMoE": studies.SPECS["MMoE"], "STEM": studies.SPECS["STEM"]}
    runs = studies.entanglement_study(split, specs, config="small", train_config=QUICK,
                                      user_field="customer", item_field="product", conflict=None,
                                      cache=tmp_path, progress=False)
    assert runs.unique("label") == ["single task 1", "single task 2", "MMoE", "STEM"]
    assert list(runs[2]["auc"]) == ["all", "click-dominated", "comparable", "purchase-dominated"]
    pairs = analysis.distinct_pairs(split.test, "customer", "product")
    assert all(len(d) == len(pairs) for r in runs for d in r["distances"].values())
    assert set(studies.set_geometry(runs)) >= {"MMoE", "STEM, task 1", "STEM, shared"}
    assert runs.paired(("auc", "all", 1), "STEM", "MMoE").n == 1
    routed = studies.routing_study(split, specs, config="small", train_config=QUICK,
                                   cache=False, progress=False)
    assert [len(r["auc"]) for r in routed] == [2, 2] and routed[0]["rows"] == [split.train.num_rows] * 2
    with pytest.raises(ValueError, match="user_field='user_id' is not a field of the data; its "
                                         "fields are customer, product, hour"):
        studies.entanglement_study(split, specs, cache=False, progress=False)
