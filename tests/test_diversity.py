"""minime.analysis.diversity: principal angles against scipy; set similarity, block norms by hand."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import subspace_angles  # reference only (scipy comes with scikit-learn)

from minime import analysis
from minime.data import TensorData
from minime.embedding import FusedEmbedding, MultiEmbedding
from minime.interaction import CrossNetV2

FAST = settings(max_examples=30, deadline=None)
rng = np.random.default_rng(0)


def _reference(A, B):
    """scipy's principal angles, ascending (scipy returns them descending)."""
    return np.sort(subspace_angles(np.asarray(A, float), np.asarray(B, float)))


# --- principal angles -----------------------------------------------------------------------------

@pytest.mark.parametrize("rows, da, db", [(20, 3, 5), (50, 4, 4), (8, 6, 2), (5, 5, 5)])
def test_principal_angles_match_scipy_on_random_matrices(rows, da, db):
    A, B = rng.normal(size=(rows, da)), rng.normal(size=(rows, db))
    got = analysis.principal_angles(A, B)
    assert got.shape == (min(da, db),) and np.all(np.diff(got) >= 0)
    np.testing.assert_allclose(got, _reference(A, B), atol=1e-10)


def test_nested_subspaces_have_zero_angles():
    A = rng.normal(size=(30, 5))
    B = A[:, :2] @ rng.normal(size=(2, 3))  # 3 columns inside a 2-D part of span(A): rank 2
    got = analysis.principal_angles(A, B)
    np.testing.assert_allclose(got, np.zeros(2), atol=1e-12)  # one angle per direction of B
    np.testing.assert_allclose(got, _reference(A, B)[:2], atol=1e-12)


def test_orthogonal_subspaces_have_right_angles():
    Q = np.linalg.qr(rng.normal(size=(12, 6)))[0]
    A, B = Q[:, :2] * 3.0, Q[:, 2:]
    np.testing.assert_allclose(analysis.principal_angles(A, B), np.full(2, np.pi / 2), atol=1e-12)
    np.testing.assert_allclose(analysis.principal_angles(A, B), _reference(A, B), atol=1e-12)


@FAST
@given(seed=st.integers(0, 2**31 - 1), scale=st.floats(1e-3, 1e3))
def test_angles_are_invariant_to_column_scaling_and_rotation(seed, scale):
    g = np.random.default_rng(seed)
    A, B = g.normal(size=(25, 4)), g.normal(size=(25, 3))
    R = np.linalg.qr(g.normal(size=(4, 4)))[0] * g.uniform(0.5, 2.0, size=4)  # rotate, then scale
    np.testing.assert_allclose(analysis.principal_angles(scale * A @ R, B),
                               analysis.principal_angles(A, B), atol=1e-9)


def test_rank_keeps_the_top_singular_directions():
    Q = np.linalg.qr(rng.normal(size=(20, 4)))[0]
    A = Q[:, :2] * [10.0, 5.0]  # top direction Q0
    B = np.column_stack([Q[:, 0] * 7.0, Q[:, 3] * 0.1])  # top direction Q0 too
    np.testing.assert_allclose(analysis.principal_angles(A, B, rank=1), [0.0], atol=1e-12)
    np.testing.assert_allclose(analysis.principal_angles(A, B), [0.0, np.pi / 2], atol=1e-12)


def test_principal_angles_accept_torch_and_reject_bad_input():
    A, B = torch.randn(10, 3), torch.randn(10, 2, dtype=torch.float64)
    np.testing.assert_allclose(analysis.principal_angles(A, B), _reference(A, B), atol=1e-6)
    assert analysis.principal_angles(np.zeros((10, 3)), B).shape == (0,)
    with pytest.raises(ValueError, match="same rows"):
        analysis.principal_angles(np.ones((4, 2)), np.ones((5, 2)))
    with pytest.raises(ValueError, match="rank"):
        analysis.principal_angles(A, B, rank=0)


# --- set similarity -------------------------------------------------------------------------------

def _similarity_by_hand(A, B):
    """mean cos² of the principal angles = ||Q_Aᵀ Q_B||_F² / min(d_a, d_b), from numpy QR."""
    QA, QB = np.linalg.qr(A)[0], np.linalg.qr(B)[0]
    return np.sum((QA.T @ QB) ** 2) / min(A.shape[1], B.shape[1])


def _copies(field_dims, dims):
    """A MultiEmbedding whose sets are copies of set 0 (up to a rotation and a scale)."""
    emb = MultiEmbedding(field_dims, dims)
    w, d = emb.table.weight, dims[0]
    with torch.no_grad():
        for k in range(1, len(dims)):
            R = torch.linalg.qr(torch.randn(d, d))[0] * (k + 1)
            w[:, k * d:(k + 1) * d] = w[:, :d] @ R
    return emb


def test_copied_sets_have_similarity_one():
    sim = analysis.set_similarity(_copies([40, 60], [3, 3, 3]))
    assert sim.shape == (2, 3, 3)
    np.testing.assert_allclose(sim, 1.0, atol=1e-10)
    assert analysis.similarity_summary(sim) == pytest.approx(1.0)


def test_independent_sets_are_less_similar_and_match_a_direct_computation():
    emb = MultiEmbedding([200, 80], [4, 4, 4])
    sim = analysis.set_similarity(emb)
    sets = [[w.detach().double().numpy() for w in s] for s in emb.tables()]
    for f in range(2):
        for k in range(3):
            for l in range(3):
                expected = _similarity_by_hand(sets[k][f], sets[l][f])
                np.testing.assert_allclose(sim[f, k, l], expected, atol=1e-10)
    summary = analysis.similarity_summary(sim)
    assert summary < 0.2 and summary < analysis.similarity_summary(
        analysis.set_similarity(_copies([200, 80], [4, 4, 4])))


def test_set_similarity_filters_rows_like_field_spectra():
    field_dims = (30, 25)
    emb = MultiEmbedding(field_dims, [2, 2])
    x = np.stack([np.arange(60) % 10, np.arange(60) % 25], 1)  # field 0: ids 0..9 only
    data = TensorData(x, np.arange(60) % 2, field_dims)
    got = analysis.set_similarity(emb, data=data)
    A, B = (s[0].detach().double().numpy()[:10] for s in emb.tables())
    np.testing.assert_allclose(got[0, 0, 1], _similarity_by_hand(A, B), atol=1e-10)
    report = analysis.field_spectra(emb, data=data)
    assert report.rows == (10, 25)  # the same rows as the spectra


def test_fused_embedding_is_cut_into_equal_splits():
    emb = FusedEmbedding([50, 40], 6)
    sim = analysis.set_similarity(emb, splits=3)
    assert sim.shape == (2, 3, 3)
    E = emb.field_tables()[1].detach().double().numpy()
    np.testing.assert_allclose(sim[1, 0, 2], _similarity_by_hand(E[:, :2], E[:, 4:]), atol=1e-10)
    with pytest.raises(ValueError, match="splits"):
        analysis.set_similarity(emb)
    with pytest.raises(ValueError, match="splits"):
        analysis.set_similarity(MultiEmbedding([5], [2, 2]), splits=2)


def test_similarity_summary_ignores_the_diagonal_and_nan():
    sim = np.array([[[1.0, 0.2], [0.2, 1.0]], [[np.nan] * 2] * 2])
    assert analysis.similarity_summary(sim) == pytest.approx(0.2)
    with pytest.raises(ValueError, match="M >= 2"):
        analysis.similarity_summary(np.ones((2, 1, 1)))


# --- block norms ----------------------------------------------------------------------------------

def _block_norms_by_hand(W, F, D):
    out = np.zeros((F, F))
    for i in range(F):
        for j in range(F):
            out[i, j] = np.linalg.norm(W[i * D:(i + 1) * D, j * D:(j + 1) * D], "fro")
    return out


@pytest.mark.parametrize("low_rank", [None, 2])
def test_block_norms_equal_a_numpy_loop(low_rank):
    F, D = 3, 4
    net = CrossNetV2(F * D, 2, low_rank=low_rank)
    W = net.layer_weight(1).detach().double().numpy()
    expected = _block_norms_by_hand(W, F, D)
    np.testing.assert_allclose(analysis.block_norms(net, F, D, layer=1), expected, rtol=1e-6)
    np.testing.assert_allclose(analysis.block_norms(W, F, D), expected, rtol=1e-12)
    with pytest.raises(ValueError, match="expected"):
        analysis.block_norms(W, F, D + 1)


def test_set_block_norms_stacks_every_sets_cross_net():
    F, D = 3, 2

    class StandIn(torch.nn.Module):  # a multi-embedding DCNv2's attributes, nothing else
        def __init__(self):
            super().__init__()
            self.embedding = MultiEmbedding([4, 5, 6], [D, D])
            self.cross_nets = torch.nn.ModuleList([CrossNetV2(F * D, 2) for _ in range(2)])

    model = StandIn()
    got = analysis.set_block_norms(model, layer=1)
    assert got.shape == (2, F, F)
    for k, net in enumerate(model.cross_nets):
        W = net.layer_weight(1).detach().double().numpy()
        np.testing.assert_allclose(got[k], _block_norms_by_hand(W, F, D), rtol=1e-6)
    with pytest.raises(ValueError, match="num_fields"):
        analysis.set_block_norms(list(model.cross_nets))


def test_fields_without_kept_rows_and_zero_sets_are_nan():
    field_dims = (6, 5)
    emb = MultiEmbedding(field_dims, [2, 2])
    with torch.no_grad():
        emb.table.weight[6:, 2:] = 0.0  # field 1, set 1: a zero table
    data = TensorData([[0, 1], [1, 2]], [0, 1], field_dims)
    sim = analysis.set_similarity(emb, data=data, min_count=2)  # no id of either field seen twice
    assert np.isnan(sim).all()
    sim = analysis.set_similarity(emb)
    assert np.isnan(sim[1, 1, 1]) and np.isnan(sim[1, 0, 1]) and sim[1, 0, 0] == 1.0
    assert np.isfinite(sim[0]).all()
