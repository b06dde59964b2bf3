"""The entanglement study (records, transfer, cache, geometry) and per-row gradient cosines."""

import numpy as np
import pytest
from torch import nn

from minime import analysis, data, models, plots, studies, train

TRAIN = train.TrainConfig(epochs=1, batch_size=256, progress=False)


@pytest.fixture(scope="module")
def split():
    return data.make_world("tiny", num_rows=1_500, seed=0).split()


@pytest.fixture(scope="module")
def runs(split, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cache")
    specs = {"MMoE": studies.SPECS["MMoE"], "STEM": studies.SPECS["STEM"]}
    first = studies.entanglement_study(split, specs, config="small", train_config=TRAIN,
                                         cache=folder, progress=False,
                                         measure=studies.user_gradient_cosines)
    again = studies.entanglement_study(split, specs, config="small", train_config=TRAIN,
                                         cache=folder, progress=False,
                                         measure=studies.user_gradient_cosines)
    return first, again


def test_records_single_task_first_and_transfer_is_the_difference(runs, split):
    first, _ = runs
    assert [r["label"] for r in first] == ["single task 1", "single task 2", "MMoE", "STEM"]
    singles = {r["tasks"][0]: r["auc"] for r in first[:2]}
    for r in first[2:]:
        assert set(r["transfer"]) == set(r["auc"]) == {
            "all", "conflict", "other", *analysis.feedback_buckets(split.test, history=split.train)}
        for bucket in r["auc"]:
            for t in range(2):
                expected = r["auc"][bucket][t] - singles[t][bucket][0]
                assert r["transfer"][bucket][t] == pytest.approx(expected, abs=1e-12)
        assert np.allclose(np.sum(r["gates"]["all"], axis=1), 1.0)


def test_without_feedback_thresholds_only_the_planted_buckets(split):
    runs = studies.entanglement_study(split, {}, config="small", train_config=TRAIN,
                                        feedback=None, cache=False, progress=False)
    assert [sorted(r["auc"]) for r in runs] == [["all", "conflict", "other"]] * 2


def test_second_run_loads_everything_from_the_cache(runs):
    first, again = runs
    assert first.cached == 0 and again.cached == len(first)
    assert [r["auc"] for r in again] == [r["auc"] for r in first]
    assert [r["distances"] for r in again] == [r["distances"] for r in first]


def test_stem_has_one_distance_array_per_table_and_no_shared_table_gradient(runs):
    stem = runs[0][3]
    assert sorted(stem["distances"]) == ["shared", "task 1", "task 2"]
    assert "grad_cos_conflict" not in stem  # STEM has no single shared table
    mmoe = runs[0][2]
    assert -1 <= mmoe["grad_cos_conflict"] <= 1 and -1 <= mmoe["grad_cos_other"] <= 1


def test_geometry_of_the_references(runs):
    geo = studies.set_geometry(runs[0])
    assert geo["single task 1"]["rho_a"] == pytest.approx(1.0)
    assert geo["single task 2"]["rho_b"] == pytest.approx(1.0)
    near, far = geo["single task 1"]["near"], geo["single task 2"]["far"]
    assert (near == 1.0 and far == 1.0) or (np.isnan(near) and np.isnan(far))  # empty mode 0
    assert {"STEM, task 1", "STEM, task 2", "STEM, shared", "MMoE"} <= set(geo)
    with pytest.raises(ValueError, match="seed 7 lacks"):
        studies.set_geometry(runs[0], seed=7)


def test_stat_and_table(runs):
    stat = runs[0].stat(("auc", "conflict", 1), label="MMoE")
    assert stat.mean == runs[0][2]["auc"]["conflict"][1] and stat.std == 0.0 and stat.n == 1
    table = studies.bucket_table(runs[0], ("click", "convert"))
    rows = {row[0]: row[1:] for row in table.rows}
    assert set(rows) == {"single task 1", "single task 2", "MMoE", "STEM"}
    assert rows["single task 2"][:3] == ["", "", ""] and rows["single task 2"][3]  # task 2 only
    assert rows["MMoE"][4].startswith(f"{runs[0][2]['auc']['conflict'][1]:.4f} ± ")
    with pytest.raises(ValueError, match="no record matches"):
        runs[0].stat("auc", label="PLE")


def test_study_needs_two_tasks_and_names_missing_columns(split):
    one_task = data.make_world("ctr", num_rows=500, seed=0).split()
    with pytest.raises(ValueError, match="needs ≥ 2 tasks; the test rows have 1"):
        studies.entanglement_study(one_task, {}, cache=False, progress=False)
    with pytest.raises(ValueError, match="user_field='owner' is not a field of the data"):
        studies.entanglement_study(split, {}, user_field="owner", cache=False, progress=False)
    with pytest.raises(ValueError, match="conflict='flag' is not a meta column"):
        studies.entanglement_study(split, {}, conflict="flag", cache=False, progress=False)


def test_row_gradient_cosines_match_separate_backward_passes(split):
    train.set_seed(0)
    net = models.build("mmoe", split.train.field_dims, "small", num_tasks=2)
    x, y = split.train.x[:300], split.train.y[:300]
    cos = analysis.row_gradient_cosines(net, x, y, field=1)
    grads = []
    for t in range(2):  # an independent reference: .grad from one backward pass per task
        net.zero_grad()
        nn.functional.binary_cross_entropy_with_logits(net(x)[:, t], y[:, t]).backward()
        grads.append(net.embedding.table.weight.grad.clone().double().numpy())
    start, size = sum(net.embedding.field_dims[:1]), net.embedding.field_dims[1]
    a, b = (g[start:start + size] for g in grads)
    present = np.isin(np.arange(size), x[:, 1].numpy())
    ref = (a * b).sum(1)[present] / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))[present]
    assert np.allclose(cos[present], ref, atol=1e-9)
    assert np.isnan(cos[~present]).all()


def test_row_gradient_cosines_refuse_multi_embedding_models(split):
    stem = models.build("stem", split.train.field_dims, "small", num_tasks=2)
    with pytest.raises(ValueError, match="one embedding set"):
        analysis.row_gradient_cosines(stem, split.train.x[:10], split.train.y[:10], field=0)


def test_task_affinity_slider_checks_shapes():
    with pytest.raises(ValueError, match="three"):
        plots.task_affinity_slider({"0°": (np.zeros(3), np.zeros(2), np.zeros(3, bool))})


def test_a_world_without_conflict_users_has_an_empty_bucket_and_no_error():
    split = data.make_world("tiny", num_rows=1_500, seed=0, conflict_fraction=0.0).split()
    runs = studies.entanglement_study(split, {"MMoE": studies.SPECS["MMoE"]}, config="small",
                                      train_config=TRAIN, feedback=None, cache=False,
                                      progress=False)
    mmoe = runs.select(label="MMoE")[0]
    assert np.isnan(mmoe["auc"]["conflict"]).all() and "conflict" not in mmoe["gates"]
    assert set(mmoe["gates"]) == {"all", "other"}


def test_bucket_means_are_the_mean_transfer_of_each_multi_task_model(runs):
    means = studies.bucket_means(runs[0], ("click", "convert"))
    assert list(means) == ["MMoE", "STEM"]  # single-task models have no transfer
    stem = runs[0].select(label="STEM")[0]
    assert means["STEM"]["convert: conflict"] == stem["transfer"]["conflict"][1]
    assert set(means["MMoE"]) == {"click: conflict", "click: other", "convert: conflict",
                                  "convert: other"}


def test_each_label_can_train_its_own_way(split, tmp_path):
    specs = {"MMoE": studies.SPECS["MMoE"]}
    labels = ["single task 1", "single task 2", "MMoE"]
    study = dict(config="small", cache=tmp_path, progress=False, feedback=None)
    base = studies.entanglement_study(split, specs, train_config=TRAIN, **study)
    faster = {**{label: TRAIN for label in labels}, "MMoE": train.TrainConfig(
        epochs=1, batch_size=256, lr=1e-2, progress=False)}
    mixed = studies.entanglement_study(split, specs, train_config=faster, **study)
    assert mixed.cached == 2  # the single-task models keep TRAIN: loaded, not trained
    assert mixed[2]["auc"] != base[2]["auc"] and mixed[:2] == base[:2]
    with pytest.raises(ValueError, match="needs a TrainConfig for every label"):
        studies.entanglement_study(split, specs, train_config={"MMoE": TRAIN}, **study)
