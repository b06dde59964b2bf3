"""Interest entanglement seen in the tables: user–item distances per table (RecScope's tool).

Tasks that share an embedding must agree on where a user sits relative to an item. When two
tasks disagree about a user (a *conflict* user), a shared table can only place the pair in
between; task-specific tables (STEM, Su et al. AAAI 2024) need not. The tools:

- **transfer per bucket** lives in :mod:`minime.analysis.transfer`, the gradients and gates in
  :mod:`minime.analysis.gradients`.
- **RecScope's distances** (Pan et al. KDD 2024 §7): ``‖u − i‖₂`` between the user-id and
  item-id rows of each pair in one table (:func:`user_item_distances`), their agreement with the
  single-task models (:func:`spearman`), and the conflict subset, pairs near for task a's
  single-task model and far for task b's (:func:`conflict_subset`, :func:`band_shares`).
  They measure agreement with single-task geometry, not correctness.

Example:
    >>> d_a, d_b = np.arange(10.0), np.arange(10.0)[::-1]  # the tasks disagree about every pair
    >>> mask = conflict_subset(d_a, d_b)  # near for task a AND far for task b
    >>> mask.nonzero()[0].tolist(), band_shares(d_a, mask)["near"]
    ([0, 1, 2, 3], 1.0)
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from minime.analysis.tables import embedding_of, row_mask
from minime.data import TensorData

__all__ = ["band_shares", "conflict_subset", "distance_bands", "distinct_pairs", "spearman",
           "user_item_distances"]

BANDS = ("near", "middle", "far")


def distinct_pairs(data: TensorData, user_field: str | int = "user_id",
                   item_field: str | int = "item_id", mask=None) -> np.ndarray:
    """The distinct (user, item) id pairs among the rows (optionally only the masked rows).

    Args:
        data: the rows (RecScope uses the test pairs).
        user_field, item_field: field names or indices.
        mask: None, a bool mask (N,) or a bool meta column's name (e.g. ``"conflict"``).

    Returns:
        ``(P, 2)`` int64 ``[user id, item id]``, sorted by user then item.

    Example:
        >>> data = TensorData([[0, 1], [0, 1], [1, 0]], [1, 0, 1], (2, 2))
        >>> distinct_pairs(data, 0, 1).tolist(), distinct_pairs(data, 0, 1, [0, 0, 1]).tolist()
        ([[0, 1], [1, 0]], [[1, 0]])
    """
    keep = row_mask(data, mask)
    pairs = torch.stack([data.column(user_field), data.column(item_field)], dim=1)  # (N, 2)
    return np.unique(pairs.cpu().numpy()[keep], axis=0).astype(np.int64).reshape(-1, 2)


def _resolve_field(field: str | int, names: Sequence[str] | None) -> int:
    """A field's column number from its index, or its name among ``names``."""
    if not isinstance(field, str):
        return int(field)
    if names is None or field not in names:
        raise ValueError(f"cannot find field {field!r} among {names}; pass field_names= "
                         "(e.g. data.field_names) or the field's index")
    return list(names).index(field)


def user_item_distances(model_or_embedding, pairs, *, user_field: str | int,
                        item_field: str | int, embedding_set: int | None = None,
                        field_names: Sequence[str] | None = None) -> np.ndarray:
    """Euclidean distance ``‖E_user[u] − E_item[i]‖₂`` of each (user, item) pair in one table.

    Args:
        model_or_embedding: a FusedEmbedding / MultiEmbedding, or a model with ``.embedding``.
        pairs: ``(P, 2)`` ids ``[user, item]`` (e.g. from :func:`distinct_pairs`).
        user_field, item_field: field indices, or names found in ``field_names``.
        embedding_set: for a MultiEmbedding, the set to measure (STEM: ``t`` is task t's table,
            ``-1`` the shared one); None takes all sets side by side (RecScope's ME-MMoE).
        field_names: the F names, to resolve field names (default: the embedding's own).

    Returns:
        ``(P,)`` float64 distances.

    Example:
        >>> from minime.embedding import FusedEmbedding
        >>> emb = FusedEmbedding([2, 3], 2, init=torch.nn.init.ones_)
        >>> user_item_distances(emb, [[0, 2], [1, 0]], user_field=0, item_field=1).tolist()
        [0.0, 0.0]
    """
    embedding = embedding_of(model_or_embedding)
    names = embedding.field_names if field_names is None else field_names
    users, items = (embedding.field_rows(_resolve_field(f, names), embedding_set).detach()
                    .cpu().double() for f in (user_field, item_field))  # (V_f, d) each
    pairs = torch.as_tensor(np.asarray(pairs), dtype=torch.int64).reshape(-1, 2)
    for col, (table, name) in enumerate(((users, "user"), (items, "item"))):
        ids = pairs[:, col]
        if len(ids) and (ids.min() < 0 or ids.max() >= table.shape[0]):
            raise ValueError(f"{name} ids must lie in [0, {table.shape[0]}), "
                             f"got {int(ids.min())}..{int(ids.max())}")
    return (users[pairs[:, 0]] - items[pairs[:, 1]]).norm(dim=1).numpy()  # (P, D) -> (P,)


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n, tied values sharing the mean of their ranks."""
    order = np.argsort(x, kind="stable")
    first = np.r_[True, x[order][1:] != x[order][:-1]]  # a new value starts here (sorted order)
    starts = np.r_[np.flatnonzero(first), len(x)]  # block b spans sorted positions starts[b]..
    block = np.cumsum(first) - 1
    ranks = np.empty(len(x))
    ranks[order] = 0.5 * (starts[block] + starts[block + 1] + 1)  # mean of ranks start+1..end
    return ranks


def spearman(a, b) -> float:
    """Spearman's rank correlation: Pearson's r of the ranks (ties get their mean rank).

    ``ρ = Σ (R_a − R̄)(R_b − R̄) / sqrt(Σ (R_a − R̄)² · Σ (R_b − R̄)²)``, numpy only.

    Args:
        a, b: ``(P,)`` values of the same items (e.g. two tables' distances of the same pairs).

    Returns:
        ρ in [−1, 1] (as ``scipy.stats.spearmanr``); NaN when either input is constant.

    Example:
        >>> spearman([1, 2, 3, 4], [10, 20, 20, 40]), spearman([1, 2, 3], [3, 2, 1])
        (0.9486832980505138, -1.0)
    """
    a, b = (np.asarray(v, dtype=np.float64).ravel() for v in (a, b))
    if len(a) != len(b) or len(a) < 2 or np.isnan(a).any() or np.isnan(b).any():
        raise ValueError(f"need two NaN-free arrays of one length >= 2, got {len(a)} and {len(b)}")
    ra, rb = _ranks(a) - (len(a) + 1) / 2, _ranks(b) - (len(b) + 1) / 2  # centred ranks
    denom = np.sqrt((ra @ ra) * (rb @ rb))
    return float(np.clip(ra @ rb / denom, -1.0, 1.0)) if denom > 0 else float("nan")


def distance_bands(distances, *, low: float = 40, high: float = 60) -> np.ndarray:
    """Each pair's band in its table: 0 near (``d ≤ P_low``), 2 far (``d > P_high``), else 1.

    ``P_q = np.percentile(distances, q)`` over all pairs (numpy's default linear
    interpolation; RecScope's own percentile routine was not checked).

    Args:
        distances: ``(P,)`` one table's distances of all pairs.
        low, high: percentiles, ``0 <= low <= high <= 100`` (RecScope: 40 and 60).

    Returns:
        ``(P,)`` int8 band per pair: 0 near, 1 middle, 2 far.

    Example:
        >>> distance_bands(np.arange(10.0)).tolist()  # P40 = 3.6, P60 = 5.4
        [0, 0, 0, 0, 1, 1, 2, 2, 2, 2]
    """
    d = np.asarray(distances, dtype=np.float64)
    if not 0 <= low <= high <= 100 or d.ndim != 1 or len(d) == 0:
        raise ValueError(f"need 1-D non-empty distances and 0 <= low <= high <= 100, got "
                         f"shape {d.shape}, low={low}, high={high}")
    lo, hi = np.percentile(d, [low, high])
    return np.where(d <= lo, 0, np.where(d > hi, 2, 1)).astype(np.int8)


def conflict_subset(dist_a, dist_b, *, low: float = 40, high: float = 60,
                    mode: int = 0) -> np.ndarray:
    """RecScope's conflict pairs from two single-task models' distances of the same pairs.

    Mode 0: near for task a and far for task b, ``d_a ≤ P_low(d_a)`` and ``d_b > P_high(d_b)``;
    mode 1 the reverse. Percentiles as :func:`distance_bands`.

    Args:
        dist_a, dist_b: ``(P,)`` distances of the same pairs in task a's and task b's
            single-task models (RecScope, mode 0: a = Finish, b = Like).
        low, high: the percentiles.
        mode: 0 (near for a, far for b) or 1 (far for a, near for b).

    Returns:
        ``(P,)`` bool mask.

    Example:
        >>> conflict_subset([0, 1, 2, 3, 4], [4, 3, 2, 1, 0], mode=1).tolist()
        [False, False, False, True, True]
    """
    band_a, band_b = (distance_bands(d, low=low, high=high) for d in (dist_a, dist_b))
    if len(band_a) != len(band_b) or mode not in (0, 1):
        raise ValueError(f"need distances of the same pairs ({len(band_a)} vs {len(band_b)}) and "
                         f"mode 0 or 1 (got {mode})")
    near, far = (band_a, band_b) if mode == 0 else (band_b, band_a)
    return (near == 0) & (far == 2)


def band_shares(distances, mask, *, low: float = 40, high: float = 60) -> dict[str, float]:
    """Shares of the masked pairs in the table's own near / middle / far bands.

    Args:
        distances: ``(P,)`` one table's distances of all pairs (the percentiles' reference).
        mask: ``(P,)`` bool, the pairs to count (e.g. :func:`conflict_subset`).
        low, high: the bands' percentiles, as :func:`distance_bands`.

    Returns:
        ``{"near": share, "middle": share, "far": share}`` summing to 1 (NaN for an empty mask).

    Example:
        >>> band_shares(np.arange(10.0), np.arange(10) % 2 == 0)  # pairs 0, 2, 4, 6, 8
        {'near': 0.4, 'middle': 0.2, 'far': 0.4}
    """
    bands, mask = distance_bands(distances, low=low, high=high), np.asarray(mask, dtype=bool)
    if mask.shape != bands.shape:
        raise ValueError(f"mask must have shape {bands.shape}, got {mask.shape}")
    counts = np.bincount(bands[mask], minlength=3)
    shares = counts / counts.sum() if counts.sum() else np.full(3, np.nan)
    return {name: float(s) for name, s in zip(BANDS, shares)}
