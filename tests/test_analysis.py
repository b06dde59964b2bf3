"""minime.analysis.spectrum: σ, IA and erank against a direct numpy SVD, properties, inputs."""

import doctest

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minime import analysis
from minime.analysis import spectrum

FAST = settings(max_examples=40, deadline=None)
OPTIONS = [{}, {"row_normalize": True}, {"center": True}, {"center": True, "row_normalize": True}]
# (rows, cols, rank): tall ones take the Gram route (rows >= 2 cols), the others an SVD
SHAPES = [(300, 16, 16), (40, 32, 32), (8, 30, 8), (500, 32, 3), (40, 32, 3), (20, 6, 1), (3, 9, 1)]


def _reference(E, row_normalize=False, center=False):
    """(σ, IA, erank) by hand: centre, row-normalise as RecScope, then a float64 numpy SVD."""
    X = np.asarray(E, dtype=np.float64)
    if center:
        X = X - X.mean(axis=0)
    if row_normalize:
        X = X / (np.linalg.norm(X, axis=1, keepdims=True) + 1e-8)
    s = np.linalg.svd(X, compute_uv=False)
    p = s[s > 0] / s.sum()
    return s, s.sum() / s[0], np.exp(-np.sum(p * np.log(p)))


def _matrix(rows, cols, rank, seed=0):
    """A random (rows, cols) float64 matrix of the given rank, plus an offset for centring."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(rows, rank)) @ rng.normal(size=(rank, cols)) + rng.normal(size=cols)


def _assert_matches_reference(E, options, s_ref, ia_ref, erank_ref):
    s = analysis.singular_values(E, **options)
    assert s.dtype == np.float64 and s.shape == s_ref.shape
    np.testing.assert_allclose(s, s_ref, rtol=0, atol=1e-6 * s_ref[0])
    assert analysis.information_abundance(E, **options) == pytest.approx(ia_ref, rel=1e-6)
    assert analysis.effective_rank(E, **options) == pytest.approx(erank_ref, rel=1e-6)


# ---------------------------------------------------------------- reference: numpy SVD


@pytest.mark.parametrize("options", OPTIONS, ids=str)
@pytest.mark.parametrize("rows, cols, rank", SHAPES)
def test_spectrum_equals_numpy_svd(rows, cols, rank, options):
    E = _matrix(rows, cols, rank)
    if rank < cols and not options:  # the offset adds one direction; drop it to keep the rank
        E = E - E[0]
    _assert_matches_reference(E, options, *_reference(E, **options))


def test_gram_route_resolves_the_zero_tail_of_a_rank_deficient_matrix():
    E = _matrix(5000, 32, 3) - _matrix(1, 32, 1, seed=1)  # rank 4 in 32 columns
    s = analysis.singular_values(E)
    assert np.all(s[4:] < 1e-12 * s[0])  # σ = sqrt(eig(EᵀE)) alone would give about 1e-8 σ_1
    np.testing.assert_allclose(s, _reference(E)[0], rtol=0, atol=1e-13 * s[0])


@pytest.fixture(scope="module")
def big():
    """A 1,000,000 × 64 float32 matrix E = U diag(σ) Vᵀ built row by row, so σ is known exactly.

    Row r is c_r σ_k v_k with k = k(r) drawn unevenly: the columns of U have disjoint supports
    (so they are orthogonal) and unit norm. σ spans 1e5, so the Gram route refines its tail.
    """
    rng = np.random.default_rng(0)
    n, d = 1_000_000, 64
    k = rng.choice(d, size=n, p=np.linspace(1, 3, d) / np.linspace(1, 3, d).sum())  # (N,)
    c = rng.normal(size=n)
    c /= np.sqrt(np.bincount(k, weights=c**2))[k]  # each column of U has unit norm
    sigma = np.geomspace(100, 1e-3, d)  # (D,), descending
    V = np.linalg.qr(rng.normal(size=(d, d)))[0].astype(np.float32)
    E = (c * sigma[k]).astype(np.float32)[:, None] * V[k]  # (N, 1) * (N, D) -> (N, D)
    return E, k, c, sigma


@pytest.mark.slow  # more than a second
def test_big_float32_matrix_numpy_and_torch(big):
    E, _, _, sigma = big
    np.testing.assert_allclose(analysis.singular_values(E), sigma, rtol=1e-6)  # float32: ~1e-7
    ia = analysis.information_abundance(torch.from_numpy(E))
    assert ia == pytest.approx(sigma.sum() / sigma[0], rel=1e-6)


def test_big_float32_matrix_row_normalized(big):
    E, k, c, sigma = big
    norms = np.abs(c) * sigma[k]  # (N,): row r becomes ±v_k · norm / (norm + 1e-8)
    expected = np.sqrt(np.bincount(k, weights=(norms / (norms + 1e-8)) ** 2))
    s = analysis.singular_values(E, row_normalize=True)
    np.testing.assert_allclose(s, np.sort(expected)[::-1], rtol=1e-6)


# ---------------------------------------------------------------- properties

sizes = st.integers(1, 12)
matrices = st.tuples(st.integers(1, 40), sizes, sizes, st.integers(0, 10**6))  # rows, cols, rank, seed
options = st.sampled_from(OPTIONS)


def _random_matrix(spec):
    rows, cols, rank, seed = spec
    return _matrix(rows, cols, min(rank, cols), seed)


@FAST
@given(matrices, options, st.floats(1e-3, 1e3))
def test_ia_and_erank_invariant_to_rotation_and_scale(spec, options, scale):
    E = _random_matrix(spec)
    if options.get("center"):
        assume(spec[0] > 1)  # one row, centred, is a zero matrix
    if options.get("row_normalize"):  # the 1e-8 in ||row|| + 1e-8 breaks scale invariance a bit
        assume(np.linalg.norm(E - E.mean(0) * bool(options.get("center")), axis=1).min() > 1e-1)
    Q = np.linalg.qr(np.random.default_rng(spec[3]).normal(size=(E.shape[1],) * 2))[0]
    for fn in (analysis.information_abundance, analysis.effective_rank):
        value = fn(E, **options)
        assert fn(E @ Q, **options) == pytest.approx(value, rel=1e-6)
        # with row_normalize, the 1e-8 beside a row norm of scale·0.1 or more: up to 1e-4 relative
        rel = 2e-4 if options.get("row_normalize") else 1e-6
        assert fn(scale * E, **options) == pytest.approx(value, rel=rel)


int_matrices = hnp.arrays(
    np.int8, hnp.array_shapes(min_dims=2, max_dims=2, max_side=30), elements=st.integers(-3, 3)
)


@FAST
@given(int_matrices)
def test_one_le_ia_le_erank_le_rank(E):
    E = E.astype(float)  # small integers: repeated rows, zero rows, exact rank deficiency
    assume(E.any())
    ia, erank = analysis.information_abundance(E), analysis.effective_rank(E)
    rank = np.linalg.matrix_rank(E)
    assert 1 - 1e-12 <= ia <= erank * (1 + 1e-12)  # min-entropy <= Shannon entropy
    assert erank <= rank * (1 + 1e-9) and rank <= min(E.shape)


@pytest.mark.parametrize("rows, cols", [(500, 32), (5, 32), (32, 32)])
def test_rank_one_matrix_has_ia_one(rows, cols):
    rng = np.random.default_rng(0)
    E = np.outer(rng.normal(size=rows), rng.normal(size=cols))
    assert analysis.information_abundance(E) == pytest.approx(1.0, abs=1e-9)
    assert analysis.effective_rank(E) == pytest.approx(1.0, abs=1e-9)


def test_row_normalize_keeps_zero_rows_zero_and_ignores_row_norms():
    E = np.vstack([np.eye(4), np.zeros((4, 4)), 5 * np.eye(4)])  # (12, 4), Gram route
    s = analysis.singular_values(E, row_normalize=True)
    np.testing.assert_allclose(s, np.sqrt(2), rtol=1e-7)
    assert analysis.information_abundance(E, row_normalize=True) == pytest.approx(4.0)


# ---------------------------------------------------------------- inputs


@pytest.mark.parametrize("rows", [200, 20])  # Gram route, SVD route
def test_torch_and_numpy_inputs_agree(rows):
    E = _matrix(rows, 16, 16).astype(np.float32)
    T = torch.from_numpy(E).requires_grad_()
    for options in OPTIONS:
        np.testing.assert_allclose(analysis.singular_values(T, **options),
                                   analysis.singular_values(E, **options), rtol=1e-12)
    assert analysis.information_abundance(T.to(torch.bfloat16)) > 1  # low-precision dtypes work
    assert analysis.information_abundance(T.T[:, ::2]) == pytest.approx(  # strided views work
        analysis.information_abundance(E.T[:, ::2].copy()), rel=1e-12)


BAD_MATRICES = {
    "must be a 2-D matrix": np.ones(5),
    "E is empty": np.ones((0, 4)),
    "NaN or inf": np.array([[1.0, np.nan], [0.0, 1.0]]),
    "NaN or inf entries": np.vstack([np.eye(3), [[np.inf, 0, 0]]] * 2),
}


@pytest.mark.parametrize("message", BAD_MATRICES)
@pytest.mark.parametrize("fn", [analysis.singular_values, analysis.information_abundance,
                                analysis.effective_rank])
def test_bad_matrices_raise(fn, message):
    with pytest.raises(ValueError, match=message):
        fn(BAD_MATRICES[message], center=True)


@pytest.mark.parametrize("fn", [analysis.information_abundance, analysis.effective_rank])
def test_zero_matrix_is_undefined(fn):
    with pytest.raises(ValueError, match="undefined for a zero matrix"):
        fn(np.zeros((10, 3)))


# ---------------------------------------------------------------- documentation


@pytest.mark.parametrize("name", analysis.__all__)
def test_public_names_are_documented(name):
    doc = getattr(analysis, name).__doc__
    assert all(k in doc for k in ("Args:", "Returns:", "Example:"))


def test_docstring_examples_run():
    assert doctest.testmod(spectrum, raise_on_error=False).failed == 0
