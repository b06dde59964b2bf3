"""Tests for minime.data.synthetic: the planted truth is what the config asks, and labels follow it."""

import dataclasses

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from minime import analysis
from minime.data import TensorData, synthetic
from minime.data.synthetic import FieldSpec, WorldConfig, make_world

RANK_CFG = WorldConfig(  # three fields, pairs of rank 1, 2 and 3
    fields=(FieldSpec("a", 40, 0.0), FieldSpec("b", 30, 0.5), FieldSpec("c", 20, 1.0)),
    num_rows=500, pairs=(("a", "b", 1), ("a", "c", 2), ("b", "c", 3)))


@pytest.fixture(scope="module")
def tiny():
    return make_world("tiny", seed=0)


def oracle_by_hand(truth, row):
    """The oracle logits of one row, term by term from the truth's arrays: (T,)."""
    z = truth.task_bias.copy()
    z += sum(truth.first_order[f][row[f]] for f in range(len(row)))
    for (i, j), a in truth.pair_matrices.items():
        z += truth.field_factors[i][row[i]] @ a @ truth.field_factors[j][row[j]]
    for t in range(len(z)):
        v = truth.item_factors[t][row[truth.item_field]] @ truth.scenario_rotations[row[truth.scenario_field]]
        z[t] += truth.task_weight * truth.user_factors[t][row[truth.user_field]] @ v
    return z


def test_same_seed_same_world_other_seed_other(tiny):
    again, other = make_world("tiny", seed=0), make_world("tiny", seed=1)
    assert torch.equal(tiny.data.x, again.data.x) and torch.equal(tiny.data.y, again.data.y)
    assert np.array_equal(tiny.truth.user_factors, again.truth.user_factors)
    assert np.array_equal(tiny.truth.task_bias, again.truth.task_bias)
    assert not torch.equal(tiny.data.x, other.data.x)
    assert not np.array_equal(tiny.truth.user_factors, other.truth.user_factors)


def test_truth_does_not_depend_on_num_rows(tiny):
    small = make_world("tiny", seed=0, num_rows=300)
    assert np.array_equal(small.truth.field_factors[0], tiny.truth.field_factors[0])
    assert np.array_equal(small.truth.scenario_rotations, tiny.truth.scenario_rotations)


def test_shapes_dtypes_meta_and_ranges(tiny):
    data = tiny.data
    assert data.x.dtype == torch.int64 and data.y.dtype == torch.float32
    assert tuple(data.x.shape) == (2000, 5) and tuple(data.y.shape) == (2000, 2)
    assert tiny.field_names == ("user_id", "item_id", "age", "category", "scenario")
    assert tiny.field_dims == (40, 30, 5, 8, 2) and tiny.task_names == ("click", "convert")
    assert (data.x.min(0).values >= 0).all()
    assert (data.x.max(0).values < torch.tensor(tiny.field_dims)).all()
    assert set(data.y.unique().tolist()) == {0.0, 1.0}
    assert data.meta["oracle_logit"].dtype == torch.float32
    assert data.meta["oracle_logit"].shape == (2000, 2)
    assert torch.equal(data.meta["scenario"], data.column("scenario"))
    assert torch.equal(data.meta["conflict"], torch.from_numpy(tiny.truth.conflict_users)[data.column("user_id")])


def test_oracle_logit_recomputed_by_hand(tiny):
    x, z = tiny.data.x.numpy(), tiny.data.meta["oracle_logit"].numpy()
    for n in (0, 1, 17, 999, 1999):
        np.testing.assert_allclose(oracle_by_hand(tiny.truth, x[n]), z[n], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(tiny.truth.logits(x), z, rtol=1e-5, atol=1e-5)


def test_zipf_slope_and_popularity_is_not_id_order():
    cfg = WorldConfig(fields=(FieldSpec("a", 2000, 1.0), FieldSpec("b", 20, 0.0)), pairs=(), num_rows=200_000)
    world = make_world(cfg, seed=3)
    counts = np.bincount(world.data.column("a").numpy(), minlength=2000)
    by_rank = counts[np.argsort(-world.truth.id_probs[0])][:100]  # counts of true ranks 1 .. 100
    slope = np.polyfit(np.log(np.arange(1, 101)), np.log(by_rank), 1)[0]
    assert slope == pytest.approx(-1.0, abs=0.1)
    np.testing.assert_allclose(counts / counts.sum(), world.truth.id_probs[0], atol=3e-3)
    assert abs(np.corrcoef(np.arange(2000), world.truth.id_probs[0])[0, 1]) < 0.15
    assert np.ptp(world.truth.id_probs[1]) == pytest.approx(0.0)  # zipf 0 = uniform


def test_planted_ranks_are_exact():
    truth = make_world(RANK_CFG).truth
    assert truth.planted_rank == {(0, 1): 1, (0, 2): 2, (1, 2): 3}
    for key, r in truth.planted_rank.items():
        assert np.linalg.matrix_rank(truth.pair_matrices[key]) == r
    assert [t.shape[1] for t in truth.field_factors] == [2, 3, 3]  # d_f = max rank of f's pairs


def test_pair_specific_truth_needs_sum_of_ranks():
    truth = make_world(dataclasses.replace(RANK_CFG, pair_specific=True)).truth
    assert [t.shape[1] for t in truth.field_factors] == [3, 4, 5]  # d_f = Σ ranks of f's pairs
    used = {f: [] for f in range(3)}
    for (i, j), a in truth.pair_matrices.items():
        assert np.linalg.matrix_rank(a) == truth.planted_rank[i, j]
        used[i].append(set(np.flatnonzero(a.any(axis=1))))
        used[j].append(set(np.flatnonzero(a.any(axis=0))))
    for f, blocks in used.items():  # each partner reads its own columns of the field's factor
        assert sum(len(b) for b in blocks) == len(set().union(*blocks)) == truth.field_factors[f].shape[1]


def test_ctr_preset_is_the_collapse_world():
    world = make_world("ctr", num_rows=1000)
    assert world.field_dims == (2, 10, 50, 300, 1000, 3000) and world.num_tasks == 1
    assert make_world("ctr_large", num_rows=100).field_dims[-2:] == (5000, 20000)
    assert len(world.truth.planted_rank) == 15 and set(world.truth.planted_rank.values()) == {4}
    assert all(np.linalg.matrix_rank(a) == 4 for a in world.truth.pair_matrices.values())
    assert set(world.data.meta) == {"oracle_logit"}


def test_base_rates_are_met():
    world = make_world("multitask", num_rows=100_000, seed=2)
    rates = world.data.y.mean(0).numpy()
    np.testing.assert_allclose(rates, world.config.base_rates, atol=0.005)
    probs = synthetic.sigmoid(world.data.meta["oracle_logit"].double().numpy()).mean(0)
    np.testing.assert_allclose(probs, world.config.base_rates, atol=1e-4)  # the bisection itself


def test_conflict_users_fraction_and_flip_at_theta_zero():
    world = make_world("multitask", num_rows=20_000, theta_deg=0.0, conflict_fraction=0.25)
    truth = world.truth
    assert truth.conflict_users.sum() == 250
    u = truth.user_factors
    assert np.array_equal(u[1][truth.conflict_users], -u[0][truth.conflict_users])
    assert np.array_equal(u[1][~truth.conflict_users], u[0][~truth.conflict_users])
    x, z = world.data.x.numpy(), world.data.meta["oracle_logit"].double().numpy()
    term = truth.user_item_term(x)[:, 0]
    diff = (z[:, 1] - truth.task_bias[1]) - (z[:, 0] - truth.task_bias[0])
    conflict = world.data.meta["conflict"].numpy()
    np.testing.assert_allclose(diff[~conflict], 0.0, atol=1e-4)
    np.testing.assert_allclose(diff[conflict], -2 * term[conflict], atol=1e-4)


def test_theta_sets_task_correlation():
    truth = make_world("multitask", num_rows=1000, theta_deg=60.0, seed=4).truth
    keep = ~truth.conflict_users
    for factors in (truth.user_factors[:, keep], truth.item_factors):
        corr = np.corrcoef(factors[0].ravel(), factors[1].ravel())[0, 1]
        assert corr == pytest.approx(np.cos(np.pi / 3) ** 2, abs=0.06)


def test_scenarios_rotate_item_factors_by_the_angle():
    world = make_world("scenarios", num_rows=1000, scenario_angle_deg=40.0)
    rotations = world.truth.scenario_rotations
    assert rotations.shape == (3, 4, 4) and world.field_dims[-1] == 3
    v = world.truth.item_factors[0]  # (V_i, r)
    for r in rotations:
        np.testing.assert_allclose(r.T @ r, np.eye(4), atol=1e-12)
        assert np.linalg.det(r) == pytest.approx(1.0)
        angles = np.degrees(np.abs(np.angle(np.linalg.eigvals(r))))
        np.testing.assert_allclose(angles, 40.0, atol=1e-6)
        cosines = np.sum(v * (v @ r), axis=1) / np.sum(v * v, axis=1)  # every item turned by 40°
        np.testing.assert_allclose(cosines, np.cos(np.radians(40.0)), atol=1e-9)
    assert not np.allclose(rotations[0], rotations[1])


def test_every_preset_builds():
    for name in synthetic.PRESETS:
        world = make_world(name, num_rows=3000)
        assert world.data.num_rows == 3000 and world.num_tasks == len(world.config.base_rates)


def test_split_is_random_and_sized(tiny):
    train, valid, test = tiny.split(seed=1)
    assert (len(train), len(valid), len(test)) == (1600, 200, 200)
    assert set(test.meta) == set(tiny.data.meta)
    assert torch.equal(tiny.split(seed=1).test.x, test.x)


def test_config_errors_list_the_valid_choices():
    with pytest.raises(ValueError, match="unknown WorldConfig field\\(s\\) \\['thetha'\\].*theta_deg"):
        make_world("tiny", thetha=3)
    with pytest.raises(ValueError, match="no world preset 'ctx'; presets are ctr, "):
        make_world("ctx")
    with pytest.raises(ValueError, match="num_tasks=3 needs that many base_rates"):
        make_world("tiny", num_tasks=3)
    with pytest.raises(ValueError, match="unknown field 'zip'"):
        make_world("tiny", pairs=(("age", "zip", 2),))
    with pytest.raises(ValueError, match="set task_rank >= 1"):
        make_world("ctr", conflict_fraction=0.2)


def test_oracle_auc_matches_sklearn(tiny):
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    test = tiny.split(seed=0).test
    z = test.meta["oracle_logit"]
    expected = [sklearn_metrics.roc_auc_score(test.y[:, t], z[:, t]) for t in range(2)]
    assert analysis.oracle_auc(test) == pytest.approx(expected, abs=1e-12)
    assert min(analysis.oracle_auc(tiny.data)) > 0.7
    with pytest.raises(ValueError, match="no meta column 'oracle_logit'"):
        analysis.oracle_auc(TensorData([[0], [1]], [1, 0], (2,)))


@settings(max_examples=15, deadline=None)
@given(ranks=st.lists(st.integers(1, 5), min_size=3, max_size=3), pair_specific=st.booleans(),
       seed=st.integers(0, 2**16))
def test_any_planted_rank_is_exact_and_oracle_consistent(ranks, pair_specific, seed):
    pairs = tuple((a, b, r) for (a, b, _), r in zip(RANK_CFG.pairs, ranks))
    world = make_world(RANK_CFG, num_rows=200, seed=seed, pairs=pairs, pair_specific=pair_specific)
    truth = world.truth
    for key, r in truth.planted_rank.items():
        assert np.linalg.matrix_rank(truth.pair_matrices[key]) == r
    x = world.data.x.numpy()
    by_hand = [truth.task_bias[0] + sum(truth.first_order[f][x[n, f]] for f in range(3))
               + sum(truth.field_factors[i][x[n, i]] @ a @ truth.field_factors[j][x[n, j]]
                     for (i, j), a in truth.pair_matrices.items()) for n in range(5)]
    np.testing.assert_allclose(world.data.meta["oracle_logit"][:5, 0], by_hand, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("preset", ["ctr", "ctr_pair_specific"])
def test_the_planted_rank_per_field_is_the_configured_one(preset):
    world = make_world(preset, num_rows=1_000, seed=0)
    configured = world.config.field_ranks()
    for f, V in enumerate(world.field_dims):
        assert world.truth.field_rank(f) == min(V, configured[f]), world.field_names[f]
    if preset == "ctr_pair_specific":  # the roomy world: some field needs more than a 16-wide table
        assert max(min(V, r) for V, r in zip(world.field_dims, configured)) > 16
