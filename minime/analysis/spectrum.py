"""Singular spectra of embedding matrices, Information Abundance and effective rank.

Dimensional collapse (Guo et al., ICML 2024; Pan et al., KDD 2024 §3) is read off the singular
values σ_1 ≥ ... ≥ σ_K of an embedding matrix E of shape (N, K), for example one field's table
(N = V rows) or a batch of looked-up embeddings. Two scalars summarise the spectrum:

- Information Abundance ``IA(E) = ||σ||₁ / ||σ||∞ = Σ_k σ_k / max_k σ_k`` (Guo et al., Def. 1),
  in [1, min(N, K)]: 1 for a rank-1 matrix, min(N, K) for a perfectly balanced one.
- effective rank ``erank(E) = exp(H(p))`` with ``p_k = σ_k / Σ_j σ_j`` and ``0 · log 0 = 0``
  (Roy & Vetterli, 2007; RankMe), also in [1, min(N, K)].

Since H(p) ≥ -log max_k p_k (Shannon entropy ≥ min-entropy), ``IA ≤ erank`` always.

Options shared by all functions, applied in this order:

1. ``center=True`` subtracts the column mean (spectrum of the covariance, not of the raw rows);
2. ``row_normalize=True`` divides each row by (its L2 norm + 1e-8), as RecScope's collapse
   notebook does, so every row (id) counts equally whatever its norm; all-zero rows stay zero.

Computation is in float64. A tall matrix (N ≥ 2K) goes through its K × K Gram matrix EᵀE,
accumulated in float64 over row blocks (memory O(block · K)), whose eigenvalues are σ²: this is
O(N·K²), about 0.4 s for 1,000,000 × 64 on one core, and twice that when E is (nearly) rank
deficient, as the tiny σ_k then get a second pass to stay as accurate as an SVD's (see
`_gram_singular_values`). Other shapes use an SVD.
"""

import contextlib
import functools
from collections.abc import Callable

import numpy as np
import torch

try:  # optional (it comes with scikit-learn): pins numpy's BLAS to one thread in the Gram loop
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None

__all__ = ["as_matrix", "effective_rank", "erank_from_singular_values", "ia_from_singular_values",
           "information_abundance", "one_blas_thread", "singular_values"]

_BLOCK_BYTES = 2**21  # float64 row blocks of 2 MiB (4096 rows of 64) stay in cache: 1.5x faster
_ROW_EPS = 1e-8  # RecScope: E / (||row|| + 1e-8)
_REFINE_BELOW = 1e-8  # eigenvalues λ_k < 1e-8 λ_1 (σ_k < 1e-4 σ_1) are refined as ||X v_k||

Prepare = Callable[[np.ndarray], np.ndarray]  # rows of E -> the same rows centred / normalised


def as_matrix(E) -> np.ndarray:
    """`E` (numpy or torch, any device) as a non-empty 2-D float32 or float64 numpy array."""
    if isinstance(E, torch.Tensor):
        E = E.detach().cpu()
        if E.dtype not in (torch.float32, torch.float64):
            E = E.to(torch.float32)  # exact for float16 / bfloat16
        E = E.numpy()
    arr = np.asarray(E)
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    if arr.ndim != 2:
        raise ValueError(f"E must be a 2-D matrix (rows, cols); got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"E is empty; got shape {arr.shape}")
    return arr


def _prepare(block: np.ndarray, mean: np.ndarray | None, row_normalize: bool) -> np.ndarray:
    """Rows of `E` as float64, checked finite, centred then row-normalised: (n, K) -> (n, K)."""
    if not np.isfinite(block).all():
        raise ValueError("E contains NaN or inf entries")
    block = np.array(block, dtype=np.float64)  # a copy: the in-place steps never touch E
    if mean is not None:
        block -= mean
    if row_normalize:
        norms = np.sqrt(np.einsum("ij,ij->i", block, block))  # (n,)
        block /= (norms + _ROW_EPS)[:, None]
    return block


def _block_sum(E: np.ndarray, prepare: Prepare, fn: Callable) -> np.ndarray:
    """Σ_b fn(X_b) over row blocks X_b = prepare(E_b) of about 2 MiB of float64 each."""
    rows = max(1, _BLOCK_BYTES // (8 * E.shape[1]))
    total = 0.0
    with one_blas_thread():
        for start in range(0, E.shape[0], rows):
            total = total + fn(prepare(E[start : start + rows]))
    return total


def _gram_singular_values(E: np.ndarray, prepare: Prepare) -> np.ndarray:
    """σ of X = prepare(E) from the eigenpairs (λ_k, v_k) of XᵀX: (N, K) -> (K,).

    σ_k = sqrt(λ_k) has an absolute error of about 1e-16 · σ_1² / σ_k: fine for large σ_k but
    about 1e-8 · σ_1 near zero. So the small ones (σ_k < 1e-4 σ_1, found in (nearly) rank-
    deficient matrices) are recomputed as ||X v_k|| in one more pass over E, which is accurate to
    about 1e-15 · σ_1: the tail of a spectrum, plotted on a log scale, stays as exact as an SVD's.
    """
    gram = _block_sum(E, prepare, lambda X: X.T @ X)  # (K, K); numpy uses syrk here
    eigenvalues, V = np.linalg.eigh(gram)  # ascending, (K,), (K, K)
    s = np.sqrt(np.maximum(eigenvalues, 0.0))
    small = eigenvalues < _REFINE_BELOW * eigenvalues[-1]
    if small.any():
        Vs = V[:, small]  # (K, m)
        s[small] = np.sqrt(_block_sum(E, prepare, lambda X: np.square(X @ Vs).sum(axis=0)))
    return np.sort(s)[::-1]


def one_blas_thread() -> contextlib.AbstractContextManager:
    """Context running numpy's BLAS on one thread, if threadpoolctl is installed.

    The Gram loop is bound by the float32 -> float64 conversion, so one thread is as fast as
    two; multi-threaded OpenBLAS, though, stalls on a busy machine (0.3 s became 5-20 s).
    """
    return threadpool_limits(1, "blas") if threadpool_limits else contextlib.nullcontext()


def _column_mean(E: np.ndarray) -> np.ndarray:
    """Column mean of `E` in float64: (N, K) -> (K,)."""
    with np.errstate(all="ignore"):  # NaN / inf entries are reported by _prepare
        return E.mean(axis=0, dtype=np.float64)


def singular_values(E, *, row_normalize: bool = False, center: bool = False) -> np.ndarray:
    """Singular values of an embedding matrix, in float64 and descending order.

    Args:
        E: matrix of shape (N, K), numpy array or torch tensor (any device or float dtype).
        row_normalize: divide each row by (its L2 norm + 1e-8) first, as RecScope does.
        center: subtract the column mean first (before ``row_normalize``).

    Returns:
        σ, shape (min(N, K),), float64, σ_1 ≥ σ_2 ≥ ... ≥ 0. For N ≥ 2K, computed as
        ``sqrt(max(eig(EᵀE), 0))`` (accurate to about 1e-8 · σ_1); otherwise by an SVD.

    Raises:
        ValueError: if ``E`` is not 2-D, is empty or holds NaN or inf.

    Example:
        >>> singular_values([[3.0, 0.0], [0.0, 4.0]])
        array([4., 3.])
        >>> singular_values([[1.0, 1.0], [1.0, 1.0], [2.0, 2.0], [0.0, 0.0]]).round(6)  # rank 1
        array([3.464102, 0.      ])
    """
    E = as_matrix(E)
    mean = _column_mean(E) if center else None
    prepare = functools.partial(_prepare, mean=mean, row_normalize=row_normalize)
    rows, cols = E.shape
    if rows >= 2 * cols:
        return _gram_singular_values(E, prepare)
    return np.linalg.svd(prepare(E), compute_uv=False)


def _nonzero_spectrum(E, row_normalize: bool, center: bool, what: str) -> np.ndarray:
    """Singular values of `E`, raising if they are all zero (then `what` is undefined)."""
    s = singular_values(E, row_normalize=row_normalize, center=center)
    if s[0] == 0:
        raise ValueError(f"{what} is undefined for a zero matrix (all singular values are 0)")
    return s


def information_abundance(E, *, row_normalize: bool = False, center: bool = False) -> float:
    """Information Abundance of an embedding matrix (Guo et al., ICML 2024, Definition 1).

    Args:
        E: matrix of shape (N, K), numpy array or torch tensor.
        row_normalize: divide each row by (its L2 norm + 1e-8) first (see :func:`singular_values`).
        center: subtract the column mean first, before ``row_normalize``.

    Returns:
        ``IA(E) = ||σ||₁ / ||σ||∞ = Σ_k σ_k / max_k σ_k``, a float in [1, min(N, K)];
        invariant to rotations of the columns and to scaling E by c > 0.

    Raises:
        ValueError: as :func:`singular_values`, or for a zero matrix (IA undefined).

    Example:
        >>> information_abundance(np.eye(4))  # balanced spectrum: IA = K
        4.0
        >>> information_abundance(np.diag([2.0, 1.0, 1.0, 0.0]))  # (2 + 1 + 1 + 0) / 2
        2.0
    """
    return ia_from_singular_values(_nonzero_spectrum(E, row_normalize, center, "information abundance"))


def effective_rank(E, *, row_normalize: bool = False, center: bool = False) -> float:
    """Effective rank of an embedding matrix (Roy & Vetterli, 2007; also called RankMe).

    Args:
        E, row_normalize, center: as :func:`information_abundance`.

    Returns:
        ``erank(E) = exp(-Σ_k p_k log p_k)`` with ``p_k = σ_k / Σ_j σ_j`` and 0 · log 0 = 0,
        a float in [IA(E), rank(E)] ⊆ [1, min(N, K)].

    Raises:
        ValueError: as :func:`singular_values`, or for a zero matrix (erank undefined).

    Example:
        >>> round(effective_rank(np.eye(4)), 12)  # uniform p: exp(log 4)
        4.0
        >>> round(effective_rank(np.diag([1.0, 1.0, 0.0])), 12)  # the zero σ adds nothing
        2.0
    """
    return erank_from_singular_values(_nonzero_spectrum(E, row_normalize, center, "effective rank"))


def ia_from_singular_values(s: np.ndarray) -> float:
    """IA from singular values already computed: ``Σσ / σ_1``.

    Args:
        s: (K,) singular values in descending order, not all zero (``singular_values(E)``).

    Returns:
        The information abundance as a float.

    Example:
        >>> ia_from_singular_values(np.array([2.0, 1.0, 1.0]))
        2.0
    """
    return float(s.sum() / s[0])


def erank_from_singular_values(s: np.ndarray) -> float:
    """Effective rank from singular values already computed: ``exp(H(σ / Σσ))``, 0·log 0 = 0.

    Args:
        s: (K,) singular values, not all zero (``singular_values(E)``).

    Returns:
        The effective rank as a float.

    Example:
        >>> round(erank_from_singular_values(np.array([1.0, 1.0, 0.0])), 12)
        2.0
    """
    p = s[s > 0] / s.sum()
    return float(np.exp(-np.sum(p * np.log(p))))
