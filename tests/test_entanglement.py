"""minime.analysis.entanglement: buckets and transfer, RecScope distances, gradients and gates."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import spearmanr  # reference only
from torch import nn
from torch.nn import functional as nnf

from minime import analysis, metrics
from minime.data import TensorData
from minime.embedding import FusedEmbedding, MultiEmbedding

FAST = settings(max_examples=40, deadline=None)
rng = np.random.default_rng(0)


def make_data(n=200, users=10, items=6):
    x = np.stack([rng.integers(0, users, n), rng.integers(0, items, n)], axis=1)
    y = rng.integers(0, 2, (n, 2))
    meta = {"conflict": torch.from_numpy(x[:, 0] < 3)}
    return TensorData(x, y, (users, items), field_names=("user_id", "item_id"),
                      task_names=("click", "convert"), meta=meta)


class TwoTower(nn.Module):
    """A shared embedding read by one linear tower per task: (B, 2) ids -> (B, 2) logits."""

    def __init__(self, dims=(10, 6), sparse=False):
        super().__init__()
        self.embedding = FusedEmbedding(dims, 4, sparse=sparse)
        self.towers = nn.ModuleList(nn.Linear(8, 1) for _ in range(2))

    def forward(self, x):
        h = self.embedding(x).flatten(1)  # (B, 2, 4) -> (B, 8)
        return torch.cat([tower(h) for tower in self.towers], dim=1)  # (B, 2)


# --- buckets and transfer -------------------------------------------------------------------------

def test_bucket_auc_equals_auc_on_the_masked_rows():
    data = make_data()
    logits = rng.normal(size=(200, 2))
    mask = rng.random(200) < 0.5
    got = analysis.bucket_auc(logits, data, {"half": mask, "planted": "conflict"})
    planted = data.meta["conflict"].numpy()
    y = data.y.numpy()
    for t in range(2):
        assert got["half"][t] == metrics.auc(y[mask, t], logits[mask, t])
        assert got["planted"][t] == metrics.auc(y[planted, t], logits[planted, t])


def test_bucket_logloss_equals_logloss_on_the_masked_observed_rows():
    data = make_data()
    observed = rng.random((200, 2)) < 0.7
    data.meta["label_mask"] = torch.as_tensor(observed)
    logits = rng.normal(size=(200, 2))
    mask = rng.random(200) < 0.5
    got = analysis.bucket_logloss(logits, data, {"half": mask, "none": np.zeros(200, bool)})
    y = data.y.numpy()
    for t in range(2):
        rows = mask & observed[:, t]
        p = 1 / (1 + np.exp(-logits[rows, t]))
        want = -np.mean(y[rows, t] * np.log(p) + (1 - y[rows, t]) * np.log(1 - p))
        assert got["half"][t] == pytest.approx(want, rel=1e-12)
    assert np.isnan(got["none"]).all()


def test_bucket_auc_scores_a_model_and_gives_nan_for_one_class():
    data = make_data()
    model = TwoTower()
    logits = model(data.x).detach().numpy()
    got = analysis.bucket_auc(model, data, analysis.conflict_buckets(data))
    other = ~data.meta["conflict"].numpy()
    want = [metrics.auc(data.y[other, t], logits[other, t]) for t in range(2)]
    assert np.allclose(got["other"], want)
    one_class = data.y[:, 0].numpy() == 1
    assert np.isnan(analysis.bucket_auc(logits, data, {"pos": one_class})["pos"][0])
    with pytest.raises(ValueError, match=r"\(N, T\)"):
        analysis.bucket_auc(logits[:, :1], data, {"all": np.ones(200, bool)})
    with pytest.raises(ValueError, match="no meta column 'nope'"):
        analysis.bucket_auc(logits, data, {"x": "nope"})
    with pytest.raises(ValueError, match=r"shape \(200,\)"):
        analysis.bucket_auc(logits, data, {"x": np.ones(3, bool)})


def test_conflict_buckets_split_the_rows():
    data = make_data()
    buckets = analysis.conflict_buckets(data)
    assert list(buckets) == ["conflict", "other"]
    assert np.array_equal(buckets["conflict"], data.meta["conflict"].numpy())
    assert np.array_equal(buckets["other"], ~buckets["conflict"])


def test_transfer_is_mtl_minus_single():
    mtl = {"conflict": [0.75, 0.5], "other": [0.875, 0.625]}
    single = {"conflict": [0.5, 0.625], "other": [0.75, 0.5]}
    assert analysis.transfer(mtl, single) == {"conflict": [0.25, -0.125], "other": [0.125, 0.125]}
    per_task = [{"conflict": [0.5], "other": [0.75]}, {"conflict": [0.625], "other": [0.5]}]
    assert analysis.transfer(mtl, per_task) == analysis.transfer(mtl, single)
    with pytest.raises(ValueError, match="bucket 'other'"):
        analysis.transfer(mtl, {"conflict": [0.5, 0.5]})
    with pytest.raises(ValueError, match="bucket 'conflict'"):
        analysis.transfer(mtl, {"conflict": [0.5], "other": [0.5, 0.5]})


def test_feedback_buckets_by_relative_positive_rates():
    # user: rows (click, convert)                         raw rates      ratio / overall 0.5, 0.25
    x = [[0]] * 4 + [[1]] * 4 + [[2]] * 4 + [[3]] * 4
    y = ([[1, 0], [1, 0], [1, 0], [0, 0]]  # u0: 3/4, 0      -> inf: click-dominated
         + [[1, 1], [1, 0], [0, 0], [0, 0]]  # u1: 2/4, 1/4  -> (0.5/0.5)/(0.25/0.25) = 1: comparable
         + [[1, 0], [0, 1], [0, 1], [0, 1]]  # u2: 1/4, 3/4  -> (0.5)/(3) = 1/6: convert-dominated
         + [[0, 0]] * 4)  # u3: no positives -> no bucket
    data = TensorData(x, y, (4,), field_names=("user_id",), task_names=("click", "convert"))
    got = analysis.feedback_buckets(data)
    rows = {k: v.nonzero()[0].tolist() for k, v in got.items()}
    assert rows == {"click-dominated": [0, 1, 2, 3], "comparable": [4, 5, 6, 7],
                    "convert-dominated": [8, 9, 10, 11]}
    raw = analysis.feedback_buckets(data, normalize=False, low=0.5, high=1.5)  # u1: 2 > 1.5
    assert raw["click-dominated"].nonzero()[0].tolist() == list(range(8))
    flipped = analysis.feedback_buckets(data, tasks=("convert", "click"))
    assert list(flipped) == ["convert-dominated", "comparable", "click-dominated"]
    assert np.array_equal(flipped["click-dominated"], got["click-dominated"])
    wide = analysis.feedback_buckets(data, low=0.1, high=10)
    assert wide["comparable"].nonzero()[0].tolist() == list(range(4, 12))
    history = data.subset([0, 1, 2, 4, 5, 6, 7])  # overall 5/7, 1/7; u2, u3 unseen
    test = analysis.feedback_buckets(data, history=history)  # u1: (2/4)/(5/7) / (1/4)/(1/7) = 0.4
    assert {k: v.nonzero()[0].tolist() for k, v in test.items()} == {
        "click-dominated": [0, 1, 2, 3], "comparable": [], "convert-dominated": [4, 5, 6, 7]}
    with pytest.raises(ValueError, match="low <= high"):
        analysis.feedback_buckets(data, low=2, high=1)
    with pytest.raises(ValueError, match="no task named 'like'"):
        analysis.feedback_buckets(data, tasks=("click", "like"))


# --- distances ------------------------------------------------------------------------------------

def test_distinct_pairs_deduplicate_and_respect_the_mask():
    data = TensorData([[0, 1, 9], [0, 1, 3], [2, 0, 1], [1, 1, 0], [2, 0, 2]], [1, 0, 1, 0, 1],
                      (3, 2, 10), field_names=("user_id", "item_id", "age"),
                      meta={"conflict": [False, False, True, False, True]})
    assert analysis.distinct_pairs(data).tolist() == [[0, 1], [1, 1], [2, 0]]
    assert analysis.distinct_pairs(data, mask="conflict").tolist() == [[2, 0]]
    assert analysis.distinct_pairs(data, 1, 0, mask=[1, 0, 0, 1, 0]).tolist() == [[1, 0], [1, 1]]
    empty = analysis.distinct_pairs(data, mask=np.zeros(5, bool))
    assert empty.shape == (0, 2) and empty.dtype == np.int64


def _numpy_distances(U, I, pairs):
    return np.sqrt(((U[pairs[:, 0]] - I[pairs[:, 1]]) ** 2).sum(axis=1))


def test_user_item_distances_of_a_fused_embedding_and_a_model():
    model = TwoTower(dims=(10, 6))
    pairs = np.array([[0, 0], [3, 5], [9, 2], [3, 5]])
    U, I = (w.detach().double().numpy() for w in model.embedding.field_tables())
    want = _numpy_distances(U, I, pairs)
    got = analysis.user_item_distances(model.embedding, pairs, user_field=0, item_field=1)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    by_name = analysis.user_item_distances(model, pairs, user_field="user_id", item_field="item_id",
                                           field_names=("user_id", "item_id"))
    np.testing.assert_allclose(by_name, want, rtol=1e-12)
    with pytest.raises(ValueError, match="field_names="):
        analysis.user_item_distances(model, pairs, user_field="user_id", item_field="item_id")
    with pytest.raises(ValueError, match=r"item ids must lie in \[0, 6\)"):
        analysis.user_item_distances(model, [[0, 6]], user_field=0, item_field=1)


@pytest.mark.parametrize("embedding_set", [0, 1, 2, -1])
def test_user_item_distances_of_one_set_of_a_multi_embedding(embedding_set):
    emb = MultiEmbedding([3, 7, 5], [4, 4, 4])  # STEM with T = 2: [task 1, task 2, shared]
    pairs = rng.integers(0, [5, 3], size=(20, 2))  # user field 2, item field 0
    sets = emb.tables()
    U, I = (sets[embedding_set][f].detach().double().numpy() for f in (2, 0))
    got = analysis.user_item_distances(emb, pairs, user_field=2, item_field=0,
                                       embedding_set=embedding_set)
    np.testing.assert_allclose(got, _numpy_distances(U, I, pairs), rtol=1e-12)


def test_user_item_distances_of_all_sets_side_by_side():
    emb = MultiEmbedding([3, 4], [2, 3])
    pairs = np.array([[0, 1], [2, 3]])
    U, I = (emb.table.weight.detach().double().numpy()[rows] for rows in ([0, 1, 2], [3, 4, 5, 6]))
    got = analysis.user_item_distances(emb, pairs, user_field=0, item_field=1)
    np.testing.assert_allclose(got, _numpy_distances(U, I, pairs), rtol=1e-12)


# --- spearman -------------------------------------------------------------------------------------

@FAST
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(-3, 3)), min_size=3, max_size=40))
def test_spearman_matches_scipy_with_ties(rows):
    a, b = np.array(rows, dtype=float).T
    want = spearmanr(a, b).statistic if a.std() > 0 and b.std() > 0 else np.nan
    got = analysis.spearman(a, b)
    assert (np.isnan(got) and np.isnan(want)) or np.isclose(got, want, atol=1e-12)


def test_spearman_on_continuous_data_and_errors():
    a = rng.normal(size=500)
    b = a + rng.normal(size=500)
    assert np.isclose(analysis.spearman(a, b), spearmanr(a, b).statistic, atol=1e-12)
    assert analysis.spearman(a, -a) == -1.0 and analysis.spearman(a, np.exp(a)) == 1.0
    assert np.isnan(analysis.spearman([1, 1, 1], [1, 2, 3]))
    with pytest.raises(ValueError, match="one length"):
        analysis.spearman([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="NaN-free"):
        analysis.spearman([1, np.nan, 2], [1, 2, 3])


# --- RecScope's conflict subset and bands ---------------------------------------------------------

def test_distance_bands_use_numpy_percentiles():
    d = np.array([5.0, 1.0, 3.0, 2.0, 4.0])  # P40 = 2.6, P60 = 3.4 (linear interpolation)
    assert analysis.distance_bands(d).tolist() == [2, 0, 1, 0, 2]
    assert analysis.distance_bands(d, low=20, high=20).tolist() == [2, 0, 2, 2, 2]  # P20 = 1.8
    ties = np.array([1.0, 1.0, 1.0, 1.0, 2.0])  # P40 = P60 = 1: ties at the threshold are near
    assert analysis.distance_bands(ties).tolist() == [0, 0, 0, 0, 2]
    with pytest.raises(ValueError, match="low <= high"):
        analysis.distance_bands(d, low=70, high=60)


def test_conflict_subset_modes():
    d_a = np.array([0.0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    d_b = np.array([9.0, 8, 7, 6, 5, 4, 3, 2, 1, 0])
    d_b[3] = 0.5  # pair 3: near for a, no longer far for b
    mode0 = analysis.conflict_subset(d_a, d_b)  # a near: d_a <= 3.6; b far: d_b > P60(d_b) = 4.4
    assert mode0.nonzero()[0].tolist() == [0, 1, 2]
    mode1 = analysis.conflict_subset(d_a, d_b, mode=1)  # a far: > 5.4; b near: <= P40(d_b) = 2.6
    assert mode1.nonzero()[0].tolist() == [7, 8, 9]  # pair 6 has d_b = 3: middle for b
    assert not (mode0 & mode1).any()
    with pytest.raises(ValueError, match="mode 0 or 1"):
        analysis.conflict_subset(d_a, d_b, mode=2)
    with pytest.raises(ValueError, match="same pairs"):
        analysis.conflict_subset(d_a, d_b[:5])


def test_band_shares_count_the_masked_pairs_in_the_tables_own_bands():
    d = np.arange(10.0)  # near 0-3, middle 4-5, far 6-9
    mask = np.zeros(10, bool)
    mask[[0, 1, 4, 9]] = True
    assert analysis.band_shares(d, mask) == {"near": 0.5, "middle": 0.25, "far": 0.25}
    assert analysis.band_shares(d, np.ones(10, bool)) == {"near": 0.4, "middle": 0.2, "far": 0.4}
    assert all(np.isnan(v) for v in analysis.band_shares(d, np.zeros(10, bool)).values())
    with pytest.raises(ValueError, match="mask must have shape"):
        analysis.band_shares(d, mask[:5])


# --- gradients and gates --------------------------------------------------------------------------

def _manual_cosine(model, x, y, params):
    grads = []
    for t in range(y.shape[1]):
        loss = nnf.binary_cross_entropy_with_logits(model(x)[:, t], y[:, t])
        grads.append(torch.cat([g.flatten() for g in torch.autograd.grad(loss, params)]).double())
    G = torch.stack(grads)
    norm = G.norm(dim=1)
    return (G @ G.T / torch.outer(norm, norm)).numpy(), norm.numpy()


def test_gradient_conflict_equals_a_manual_computation_and_leaves_grad_alone():
    model = TwoTower()
    data = make_data(64)
    x, y = data.x, data.y
    sentinel = torch.full_like(model.towers[0].weight, 7.0)
    model.towers[0].weight.grad = sentinel.clone()
    want_cos, want_norm = _manual_cosine(model, x, y, list(model.embedding.parameters()))
    got = analysis.gradient_conflict(model, x, y, params=model.embedding.parameters())
    np.testing.assert_allclose(got.cosine, want_cos, rtol=1e-6)
    np.testing.assert_allclose(got.norm, want_norm, rtol=1e-6)
    default = analysis.gradient_conflict(model, x, y)  # shared = the embedding (towers: one task)
    np.testing.assert_allclose(default.cosine, want_cos, rtol=1e-6)
    assert torch.equal(model.towers[0].weight.grad, sentinel)
    assert model.embedding.table.weight.grad is None and model.training
    everything = analysis.gradient_conflict(model, x, y, params=model.parameters())
    assert abs(everything.cosine[0, 1]) < abs(got.cosine[0, 1])  # tower parts are orthogonal


class StackedTowers(nn.Module):
    """A shared embedding and both tasks' towers in one (T, 8) weight, as batched MTL towers."""

    def __init__(self):
        super().__init__()
        self.embedding = FusedEmbedding((10, 6), 4)
        self.towers = nn.Parameter(torch.randn(2, 8))

    def forward(self, x):
        return self.embedding(x).flatten(1) @ self.towers.T  # (B, 8) @ (8, T) -> (B, T)


def test_gradient_conflict_default_keeps_only_the_shared_entries():
    model, data = StackedTowers(), make_data(64)
    got = analysis.gradient_conflict(model, data.x, data.y)
    want, _ = _manual_cosine(model, data.x, data.y, [model.embedding.table.weight])
    np.testing.assert_allclose(got.cosine, want, rtol=1e-6)  # the tower rows are per task
    whole = analysis.gradient_conflict(model, data.x, data.y, params=model.parameters())
    assert abs(whole.cosine[0, 1]) < abs(got.cosine[0, 1])  # tower rows are orthogonal: dilute


def test_gradient_conflict_sees_opposite_and_equal_tasks():
    model = TwoTower()
    with torch.no_grad():  # both towers read the embedding alike and predict about 1/2
        model.towers[0].weight.mul_(0.1), model.towers[0].bias.zero_()
        model.towers[1].load_state_dict(model.towers[0].state_dict())
    x = make_data(128).x
    y = torch.randint(0, 2, (128, 1)).float()
    opposite = analysis.gradient_conflict(model, x, torch.cat([y, 1 - y], dim=1)).cosine[0, 1]
    same = analysis.gradient_conflict(model, x, torch.cat([y, y], dim=1)).cosine[0, 1]
    assert opposite < -0.9 and np.isclose(same, 1.0)


def test_gradient_conflict_with_sparse_gradients_matches_dense():
    dense, sparse = TwoTower(), TwoTower(sparse=True)
    sparse.load_state_dict(dense.state_dict())
    data = make_data(32)
    a = analysis.gradient_conflict(dense, data.x, data.y)
    b = analysis.gradient_conflict(sparse, data.x, data.y)
    np.testing.assert_allclose(a.cosine, b.cosine, rtol=1e-6)
    with pytest.raises(ValueError, match="pass params="):
        analysis.gradient_conflict(dense, data.x, data.y, params=[])


class Gated(nn.Module):
    """A stand-in MMoE: gates (B, T=2, E=3) from the user id, softmax over experts."""

    def __init__(self):
        super().__init__()
        self.gate = nn.Embedding(10, 6)

    def forward(self, x, return_gates=False):
        gates = self.gate(x[:, 0]).view(-1, 2, 3).softmax(dim=-1)  # (B, 6) -> (B, T, E)
        logits = gates[:, :, 0]  # (B, T)
        return (logits, gates) if return_gates else logits


def test_gate_weights_average_the_gates_over_rows_and_buckets():
    model, data = Gated(), make_data(100)
    gates = model(data.x, return_gates=True)[1].detach().double()
    weights = analysis.gate_weights(model, data, batch_size=7)
    assert weights.shape == (2, 3)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-6)  # float32 softmax
    np.testing.assert_allclose(weights, gates.mean(dim=0).numpy(), rtol=1e-12)
    conflict = data.meta["conflict"]
    np.testing.assert_allclose(analysis.gate_weights(model, data, mask="conflict"),
                               gates[conflict].mean(dim=0).numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="empty mask"):
        analysis.gate_weights(model, data, mask=np.zeros(100, bool))
