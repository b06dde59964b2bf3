"""Diversity between embedding sets: principal angles between their tables, cross-layer block norms.

Why does multi-embedding work? Guo et al. (ICML 2024, §5) answer with two measurements, both here:

- **embedding diversity**: the sets of a multi-embedding span different subspaces. Set k's table
  of field f, ``E_f^(k)`` (V_f, d_k), is compared with set l's by the principal angles between
  their **column spaces in R^V** (one coordinate per id): the coordinates of two sets in R^d are
  arbitrary (any rotation of a set is the same model), but their rows index the same ids.
  :func:`set_similarity` summarises the angles of every pair of sets by the mean ``cos² θ``.
- **different interaction patterns**: each set's DCNv2 cross layer weighs field pairs differently,
  seen in the Frobenius norms ``||W^(i,j)||_F`` of its D×D blocks (:func:`block_norms`,
  :func:`set_block_norms`).

The shared-interaction and "aligned" ablations of the paper lose both kinds of diversity.

Example:
    >>> from minime.embedding import MultiEmbedding
    >>> emb = MultiEmbedding([400, 300], [4, 4, 4])
    >>> sim = set_similarity(emb)  # independent random sets: nearly orthogonal subspaces
    >>> sim.shape, bool(similarity_summary(sim) < 0.1), float(sim[0, 1, 1])
    ((2, 3, 3), True, 1.0)
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from minime.analysis.spectrum import as_matrix, one_blas_thread
from minime.analysis.tables import check_options, embedding_of, field_tables, kept_rows

__all__ = ["block_norms", "principal_angles", "set_block_norms", "set_similarity",
           "similarity_summary"]


def _basis(A: np.ndarray, rank: int | None) -> np.ndarray:
    """Orthonormal basis of A's column space (its top-``rank`` left singular vectors): (V, r)."""
    if rank is not None and rank < 1:
        raise ValueError(f"rank must be at least 1 (or None), got {rank}")
    U, s, _ = np.linalg.svd(A, full_matrices=False)
    tol = max(A.shape) * np.finfo(np.float64).eps * (s[0] if len(s) else 0.0)
    keep = int((s > tol).sum())  # drop null directions, as scipy.linalg.orth does
    return U[:, : keep if rank is None else min(keep, rank)]


def principal_angles(A, B, *, rank: int | None = None) -> np.ndarray:
    """Principal angles between the column spaces of A (V, d_a) and B (V, d_b), ascending.

    With orthonormal bases Q_A (V, r_a), Q_B (V, r_b): ``cos θ_k = σ_k(Q_Aᵀ Q_B)``. Small angles
    are taken from the sines instead, ``sin θ_k = σ(Q_B − Q_A Q_Aᵀ Q_B)`` (Knyazev & Argentati,
    2002), so a shared direction gives 0 to ~1e-15 rather than arccos's ~1e-8. In float64.

    Args:
        A, B: matrices with the same number of rows V (numpy or torch, any device).
        rank: keep only each matrix's top-``rank`` left singular directions (None: all nonzero).

    Returns:
        (min(r_a, r_b),) float64 angles in radians, ascending, in [0, π/2]; empty if either
        matrix is zero. 0 = a shared direction, π/2 = orthogonal.

    Raises:
        ValueError: if A and B have different row counts, are not 2-D or hold NaN / inf.

    Example:
        >>> A = np.eye(3)[:, :2]                    # span(e1, e2)
        >>> B = np.array([[1.0], [0.0], [1.0]])     # e1 + e3, at 45° from the plane
        >>> np.degrees(principal_angles(A, B)).round(6)
        array([45.])
    """
    A, B = (np.asarray(as_matrix(M), dtype=np.float64) for M in (A, B))
    if A.shape[0] != B.shape[0]:
        raise ValueError(f"A and B must have the same rows (ids), got {A.shape[0]}, {B.shape[0]}")
    if not (np.isfinite(A).all() and np.isfinite(B).all()):
        raise ValueError("A and B must be finite (no NaN or inf)")
    return _angles(_basis(A, rank), _basis(B, rank))


def _angles(QA: np.ndarray, QB: np.ndarray) -> np.ndarray:
    """Principal angles between the spans of two orthonormal bases (V, r_a), (V, r_b), ascending."""
    if min(QA.shape[1], QB.shape[1]) == 0:
        return np.zeros(0)  # a zero matrix has no directions
    if QA.shape[1] < QB.shape[1]:
        QA, QB = QB, QA  # QB: the smaller basis, one angle per column
    cross = QA.T @ QB  # (r_a, r_b)
    cos = np.clip(np.linalg.svd(cross, compute_uv=False), 0.0, 1.0)  # descending
    small = cos**2 >= 0.5  # angles under 45°: accurate from their sines
    if not small.any():
        return np.arccos(cos)
    sin = np.clip(np.linalg.svd(QB - QA @ cross, compute_uv=False), 0.0, 1.0)[::-1]  # ascending
    return np.where(small, np.arcsin(sin), np.arccos(cos))


def _subspace_similarity(QA: np.ndarray, QB: np.ndarray) -> float:
    """Mean cos² of the principal angles between two bases; nan if either is empty."""
    theta = _angles(QA, QB)
    return float(np.mean(np.cos(theta) ** 2)) if len(theta) else np.nan


def _set_tables(model, splits: int | None) -> list[list[torch.Tensor]]:
    """Detached tables nested [set][field]: the embedding's sets, or one set's column splits."""
    embedding = embedding_of(model)
    if splits is None and embedding.num_embeddings == 1:
        raise ValueError("one embedding set has nothing to compare: pass splits to cut it into "
                         "equal column blocks")
    if splits is None:
        return [field_tables(embedding, k) for k in range(embedding.num_embeddings)]
    D = sum(embedding.dims)
    if embedding.num_embeddings != 1 or splits < 1 or D % splits:
        raise ValueError(f"splits cuts ONE embedding set into equal parts: it needs a single set "
                         f"(this one has {embedding.num_embeddings}) and a divisor of its width "
                         f"{D}, got {splits}")
    width = D // splits  # (V_f, D) -> splits × (V_f, D / splits)
    return [[E[:, k * width:(k + 1) * width] for E in field_tables(embedding)]
            for k in range(splits)]


def set_similarity(model, *, data=None, min_count: int = 1, rank: int | None = None,
                   splits: int | None = None) -> np.ndarray:
    """Subspace similarity of every pair of embedding sets, field by field: (F, M, M).

    ``sim_f(k, l) = mean_j cos² θ_j(E_f^(k), E_f^(l))`` over the principal angles between the
    column spaces (in R^V) of the two sets' tables of field f; it equals
    ``||Q_kᵀ Q_l||_F² / min(r_k, r_l)``: 1 when one subspace contains the other, 0 when they are
    orthogonal. Independent random d-dimensional subspaces of R^V score about d / V, so the
    measure says little unless the kept rows V ≫ d. (Guo et al. describe a principal-angle
    similarity; their exact averaging was not retrieved, hence this documented choice.)

    Args:
        model: a model with ``.embedding``, or a MultiEmbedding / FusedEmbedding itself.
        data, min_count: keep the ids seen ``≥ min_count`` times in ``data`` (the training data),
            as :func:`~minime.analysis.collapse.field_spectra` does; None keeps every row.
        rank: compare only each table's top-``rank`` singular directions.
        splits: for a FusedEmbedding (single embedding of width D), cut its columns into
            ``splits`` equal sets: the paper's baseline "splits of one large embedding".

    Returns:
        (F, M, M) float64, symmetric, diagonal 1; nan where a table is zero or has no kept rows.

    Example:
        >>> from minime.embedding import MultiEmbedding
        >>> emb = MultiEmbedding([50], [3, 3])
        >>> with torch.no_grad():  # set 1 = set 0 with its columns permuted: the same span
        ...     emb.table.weight[:, 3:] = emb.table.weight[:, :3].flip(1)
        >>> set_similarity(emb).round(6)
        array([[[1., 1.],
                [1., 1.]]])
    """
    check_options(embedding_of(model), "table", data, min_count)
    sets = _set_tables(model, splits)
    out = []
    with one_blas_thread():  # as fast on tall matrices, and no stalls on a busy machine
        for f in range(len(sets[0])):
            tables = [kept_rows(s[f], f, "table", data, min_count).cpu().double().numpy() for s in sets]
            out.append(_pairwise_similarity(tables, rank))  # (M, M)
    return np.stack(out)  # F × (M, M) -> (F, M, M)


def _pairwise_similarity(tables: list[np.ndarray], rank: int | None) -> np.ndarray:
    """(M, M) similarity of M tables with the same rows; diagonal 1 (nan for a zero table)."""
    out = np.full((len(tables), len(tables)), np.nan)
    if not len(tables[0]):
        return out  # no kept rows
    bases = [_basis(T, rank) for T in tables]  # M × (V', r_k)
    for k, QA in enumerate(bases):
        out[k, k] = 1.0 if QA.shape[1] else np.nan
        for l in range(k + 1, len(bases)):
            out[k, l] = out[l, k] = _subspace_similarity(QA, bases[l])
    return out


def similarity_summary(similarity: np.ndarray) -> float:
    """Mean of :func:`set_similarity` over fields and pairs of different sets (nan ignored).

    Every field counts equally; a field with few kept rows (V' not ≫ d) scores near 1 whatever
    the sets, so pass ``similarity[fields]`` to keep the fields where the measure means something.

    Args:
        similarity: (F, M, M) from :func:`set_similarity`, M ≥ 2.

    Returns:
        The mean off-diagonal similarity, a float in [0, 1] (nan if none is defined).

    Example:
        >>> similarity_summary(np.array([[[1.0, 0.25], [0.25, 1.0]], [[1.0, 0.75], [0.75, 1.0]]]))
        0.5
    """
    similarity = np.asarray(similarity, dtype=np.float64)
    M = similarity.shape[-1]
    if similarity.ndim != 3 or similarity.shape[1] != M or M < 2:
        raise ValueError(f"need an (F, M, M) array with M >= 2, got shape {similarity.shape}")
    pairs = similarity[:, ~np.eye(M, dtype=bool)]  # (F, M, M) -> (F, M(M-1))
    return float(np.nanmean(pairs)) if not np.isnan(pairs).all() else float("nan")


def _layer_weight(cross, layer: int) -> np.ndarray:
    """A cross layer's weight as float64 numpy: from a matrix, a cross net or a DCNv2 model."""
    cross = getattr(cross, "cross_net", cross)
    if hasattr(cross, "layer_weight"):
        with torch.no_grad():
            cross = cross.layer_weight(layer)
    return np.asarray(as_matrix(cross), dtype=np.float64)


def block_norms(cross, num_fields: int, embedding_dim: int, *, layer: int = 0) -> np.ndarray:
    """Frobenius norms of the D×D field-pair blocks of a DCNv2 cross layer weight: (F, F).

    In ``x_{l+1} = x_0 ⊙ (W x_l + b) + x_l`` the block ``W^(i,j) = W[iD:(i+1)D, jD:(j+1)D]``
    carries field j into field i's slot; entry [i, j] is ``||W^(i,j)||_F``, how strongly the
    layer lets field j act on field i (Guo et al., ICML 2024, §5: per-set interaction patterns).

    Args:
        cross: the weight (F·D, F·D) (numpy or torch), a cross net with ``.layer_weight(l)``
            (:class:`~minime.interaction.CrossNetV2`), or a model with ``.cross_net``.
        num_fields: F.
        embedding_dim: D, the width of one field's slot.
        layer: which cross layer, when ``cross`` is a network or a model.

    Returns:
        (F, F) float64, [i, j] = ``||W^(i,j)||_F``.

    Example:
        >>> W = np.kron([[1.0, 0.0], [2.0, 3.0]], np.ones((2, 2)))  # F = 2 fields of D = 2
        >>> block_norms(W, 2, 2)  # a 2×2 block of c's has norm 2c
        array([[2., 0.],
               [4., 6.]])
    """
    W = _layer_weight(cross, layer)
    F, D = num_fields, embedding_dim
    if W.shape != (F * D, F * D):
        raise ValueError(f"cross layer weight is {W.shape}, expected ({F * D}, {F * D}) for "
                         f"{F} fields of width {D}")
    return np.sqrt(np.square(W.reshape(F, D, F, D)).sum(axis=(1, 3)))  # (F·D, F·D) -> (F, F)


def set_block_norms(model, *, layer: int = 0, num_fields: int | None = None,
                    embedding_dim: int | None = None) -> np.ndarray:
    """:func:`block_norms` of every set's cross net, stacked: (M, F, F).

    Args:
        model: a multi-embedding DCNv2 (``.cross_nets``, one per set, and a MultiEmbedding
            ``.embedding`` giving F and D), or a sequence of cross nets / weights.
        layer: which cross layer of each net.
        num_fields, embedding_dim: F and D; required for a bare sequence, else read from
            ``model.embedding`` (``field_dims`` and the first set's width).

    Returns:
        (M, F, F) float64, [k, i, j] = ``||W_k^(i,j)||_F`` of set k's layer.

    Example:
        >>> from minime.interaction import CrossNetV2
        >>> nets = [CrossNetV2(6, 2), CrossNetV2(6, 2)]  # 2 sets, F = 3 fields of D = 2
        >>> set_block_norms(nets, num_fields=3, embedding_dim=2).shape
        (2, 3, 3)
    """
    nets: Sequence = getattr(model, "cross_nets", model)
    embedding = getattr(model, "embedding", None)
    if embedding is not None:
        num_fields = num_fields or len(embedding.field_dims)
        dims = embedding.dims if hasattr(embedding, "dims") else (embedding.embedding_dim,)
        embedding_dim = embedding_dim or dims[0]
    if num_fields is None or embedding_dim is None:
        raise ValueError("give num_fields and embedding_dim (or a model with .embedding)")
    return np.stack([block_norms(net, num_fields, embedding_dim, layer=layer) for net in nets])
