"""Ranking and calibration metrics for CTR models: AUC, group AUC (GAUC), logloss, reliability.

Everything is vectorised (one sort, then counts per block of tied scores), computed in float64,
and accepts numpy arrays, Python lists or torch tensors on any device. Shapes: N rows; a column
of shape (N, 1) is read as (N,).

AUC is the Mann–Whitney statistic, the probability that a random positive scores above a random
negative, a tie counting one half::

    AUC = Σ_{i: y_i=1} Σ_{j: y_j=0} ( [s_i > s_j] + ½ [s_i = s_j] ) / (P · N)

which equals ``sklearn.metrics.roc_auc_score``. GAUC averages it over groups (users):
``GAUC = Σ_g w_g · AUC_g / Σ_g w_g``.
"""

from typing import NamedTuple

import numpy as np
import torch

__all__ = ["Calibration", "GroupAUC", "auc", "calibration", "gauc", "group_auc", "logloss"]

# weight name -> w_g from (impressions n_g, positives p_g) of each group g
_WEIGHTS = {
    "impressions": lambda n, p: n,  # DIN / FuxiCTR / STEM: samples in the group
    "positives": lambda n, p: p,  # RecBole: positives in the group
    "uniform": lambda n, p: np.ones_like(n),  # plain mean over groups ("avgAUC")
}


class GroupAUC(NamedTuple):
    """Per-group AUCs of the groups that hold both classes (all arrays have shape (G,))."""

    groups: np.ndarray  # group labels, sorted as np.unique sorts them
    auc: np.ndarray  # AUC_g, float64
    impressions: np.ndarray  # n_g, rows in the group, int64
    positives: np.ndarray  # p_g, positive rows in the group, int64


def _to_1d(x, name: str) -> np.ndarray:
    """Any array-like (torch on any device included) as a non-empty 1-D numpy array."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        x = (x.double() if x.is_floating_point() else x).numpy()
    arr = np.asarray(x)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]  # (N, 1) -> (N,)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (or of shape (N, 1)); got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    return arr


def _values(x, name: str) -> np.ndarray:
    """`x` as a float64 (N,) array without NaN."""
    arr = _to_1d(x, name).astype(np.float64)
    if np.isnan(arr).any():
        raise ValueError(f"{name} contains NaN (first at index {int(np.argmax(np.isnan(arr)))})")
    return arr


def _labels(y_true) -> np.ndarray:
    """Binary labels as a float64 (N,) array of 0.0 and 1.0."""
    y = _values(y_true, "y_true")
    bad = y[(y != 0) & (y != 1)]
    if bad.size:
        raise ValueError(f"y_true must contain only 0 and 1; found {float(bad[0])}")
    return y


def _same_length(**arrays: np.ndarray) -> None:
    """Raise if the named arrays do not all have the same length."""
    (name0, a0), *rest = arrays.items()
    for name, a in rest:
        if len(a) != len(a0):
            raise ValueError(f"{name0} has {len(a0)} elements but {name} has {len(a)}")


def _block_starts(*sorted_keys: np.ndarray) -> np.ndarray:
    """Indices where a run of equal keys begins (keys sorted together, each shape (N,))."""
    new = np.zeros(len(sorted_keys[0]), dtype=bool)
    new[0] = True
    for key in sorted_keys:
        new[1:] |= key[1:] != key[:-1]
    return np.flatnonzero(new)


def _pair_counts(y: np.ndarray, s: np.ndarray, codes: np.ndarray, num_groups: int) -> tuple:
    """Per group: correctly ordered (positive, negative) pairs (ties ½), positives, negatives.

    Rows sorted by (group, score); rows with the same group and score form a tie block. A block
    with p_b positives and n_b negatives, above `below_b` negatives of its group, wins
    p_b · (below_b + n_b / 2) pairs. Returns three float64 arrays of shape (num_groups,).
    """
    order = np.argsort(s)
    order = order[np.argsort(codes[order], kind="stable")]  # by group, then score (2.5x lexsort)
    y, s, codes = y[order], s[order], codes[order]
    starts = _block_starts(codes, s)
    pos = np.add.reduceat(y, starts)  # (blocks,) positives per tie block
    neg = np.diff(np.append(starts, len(y))) - pos  # (blocks,) negatives per tie block
    block_group = codes[starts]  # (blocks,) non-decreasing
    neg_before = np.cumsum(neg) - neg  # negatives in all earlier blocks, any group
    group_first = np.searchsorted(block_group, block_group)  # first block of the same group
    wins = pos * (neg_before - neg_before[group_first] + 0.5 * neg)
    return tuple(np.bincount(block_group, weights=v, minlength=num_groups) for v in (wins, pos, neg))


def auc(y_true, y_score) -> float:
    """Area under the ROC curve, rank based (Mann–Whitney), ties counted one half.

    Args:
        y_true: labels in {0, 1}, shape (N,).
        y_score: scores (probabilities or logits, any monotone scale), shape (N,).

    Returns:
        The AUC in [0, 1]:
        ``Σ_{i pos, j neg} ([s_i > s_j] + ½[s_i = s_j]) / (P·N)``, equal to sklearn's
        ``roc_auc_score``. O(N log N).

    Raises:
        ValueError: on empty or mismatched inputs, NaN, labels outside {0, 1}, or one class only.

    Example:
        >>> auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        0.75
        >>> auc([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9])  # the tie (0.5, 0.5) counts ½
        0.875
    """
    y, s = _labels(y_true), _values(y_score, "y_score")
    _same_length(y_true=y, y_score=s)
    wins, pos, neg = _pair_counts(y, s, np.zeros(len(y), dtype=np.int64), 1)
    if pos[0] == 0 or neg[0] == 0:
        only = "1 (all positive)" if neg[0] == 0 else "0 (all negative)"
        raise ValueError(f"y_true contains only one class, {only}; AUC is undefined")
    return float(wins[0] / (pos[0] * neg[0]))


def group_auc(y_true, y_score, groups) -> GroupAUC:
    """AUC of every group (e.g. user) that holds both a positive and a negative.

    Args:
        y_true: labels in {0, 1}, shape (N,).
        y_score: scores, shape (N,).
        groups: group label of each row (ints, strings, ...), shape (N,).

    Returns:
        A :class:`GroupAUC` of arrays of shape (G,), G the number of groups with both classes:
        ``groups``, ``auc`` (AUC_g as in :func:`auc`), ``impressions`` (n_g) and
        ``positives`` (p_g). Single-class groups are left out; G may be 0.

    Example:
        >>> r = group_auc([0, 1, 1, 0, 1, 1], [0.2, 0.9, 0.1, 0.3, 0.6, 0.7], ["a"] * 3 + ["b"] * 3)
        >>> r.groups.tolist(), r.auc.tolist(), r.impressions.tolist(), r.positives.tolist()
        (['a', 'b'], [0.5, 1.0], [3, 3], [2, 2])
    """
    y, s, g = _labels(y_true), _values(y_score, "y_score"), _to_1d(groups, "groups")
    _same_length(y_true=y, y_score=s, groups=g)
    if g.dtype.kind in "fc" and np.isnan(g).any():
        raise ValueError("groups contains NaN")
    labels, codes = np.unique(g, return_inverse=True)
    wins, pos, neg = _pair_counts(y, s, codes.ravel(), len(labels))
    keep = (pos > 0) & (neg > 0)
    return GroupAUC(
        labels[keep],
        wins[keep] / (pos[keep] * neg[keep]),
        (pos[keep] + neg[keep]).astype(np.int64),
        pos[keep].astype(np.int64),
    )


def gauc(y_true, y_score, groups, weight: str = "impressions") -> float:
    """Group AUC: the weighted mean of per-group AUCs, skipping single-class groups.

    Args:
        y_true: labels in {0, 1}, shape (N,).
        y_score: scores, shape (N,).
        groups: group label of each row (typically the user id), shape (N,).
        weight: ``"impressions"`` (w_g = n_g, rows in group g: the DIN / FuxiCTR / STEM
            definition, default), ``"positives"`` (w_g = positives in g, as RecBole) or
            ``"uniform"`` (w_g = 1, a plain mean over groups).

    Returns:
        ``GAUC = Σ_g w_g · AUC_g / Σ_g w_g`` over the groups holding both classes, a float.

    Raises:
        ValueError: on bad inputs (as :func:`auc`), an unknown ``weight``, or when no group
            holds both classes.

    Example:
        >>> y, s = [0, 1, 1, 0, 0, 1, 1], [0.2, 0.9, 0.1, 0.3, 0.3, 0.6, 0.5]
        >>> g = ["a", "a", "a", "a", "b", "b", "c"]  # AUC_a = 0.5, AUC_b = 1, "c" is skipped
        >>> gauc(y, s, g), gauc(y, s, g, weight="uniform")  # (4·0.5 + 2·1) / 6, (0.5 + 1) / 2
        (0.6666666666666666, 0.75)
    """
    if weight not in _WEIGHTS:
        raise ValueError(f"weight must be one of {sorted(_WEIGHTS)}; got {weight!r}")
    per_group = group_auc(y_true, y_score, groups)
    if len(per_group.auc) == 0:
        raise ValueError("no group contains both a positive and a negative; GAUC is undefined")
    w = _WEIGHTS[weight](per_group.impressions, per_group.positives).astype(np.float64)
    return float(np.sum(w * per_group.auc) / np.sum(w))


def logloss(y_true, y_pred, *, logits: bool = False, eps: float = 1e-7) -> float:
    """Mean binary cross-entropy (logloss) of predictions against labels.

    Args:
        y_true: labels in {0, 1}, shape (N,).
        y_pred: probabilities in [0, 1] (clipped to [eps, 1 - eps], as FuxiCTR), or logits z
            when ``logits=True`` (then computed exactly and stably, without clipping), shape (N,).
        logits: whether ``y_pred`` holds logits.
        eps: clipping for probabilities, in [0, 0.5).

    Returns:
        ``-(1/N) Σ_i [y_i log p_i + (1 - y_i) log(1 - p_i)]``, a float; from logits,
        ``(1/N) Σ_i softplus((1 - 2 y_i) z_i)``, the same value with ``p = sigmoid(z)``.

    Raises:
        ValueError: on bad inputs (as :func:`auc`), or probabilities outside [0, 1].

    Example:
        >>> round(logloss([1, 0], [0.8, 0.4]), 6)  # -(log 0.8 + log 0.6) / 2
        0.366985
        >>> round(logloss([1, 0], [1.386294, -0.405465], logits=True), 6)  # same, as logits
        0.366985
    """
    y, p = _labels(y_true), _values(y_pred, "y_pred")
    _same_length(y_true=y, y_pred=p)
    if not 0 <= eps < 0.5:
        raise ValueError(f"eps must be in [0, 0.5); got {eps}")
    if logits:
        return float(np.mean(np.logaddexp(0.0, (1.0 - 2.0 * y) * p)))  # softplus, inf-safe
    if p.min() < 0 or p.max() > 1:
        bad = float(p[(p < 0) | (p > 1)][0])
        raise ValueError(f"y_pred must be probabilities in [0, 1] (found {bad!r}); "
                         "pass logits=True for logits")
    p = np.clip(p, eps, 1.0 - eps)
    return float(-np.mean(y * np.log(p) + (1.0 - y) * np.log1p(-p)))


class Calibration(NamedTuple):
    """A reliability curve: per bin of predicted probability, mean prediction and observed rate.

    ``ece`` is the expected calibration error ``Σ_b (n_b / N) |observed_b − predicted_b|``.
    """

    predicted: np.ndarray  # (B,) mean predicted probability of the rows in each bin
    observed: np.ndarray  # (B,) their positive rate
    count: np.ndarray  # (B,) rows per bin, int64
    ece: float


def calibration(y_true, y_pred, *, bins: int = 10, logits: bool = False) -> Calibration:
    """Predicted against observed positive rate in bins of equal count (a reliability curve).

    Rows are sorted by prediction and cut into ``bins`` groups of (nearly) equal size, which
    suits the skewed predictions of CTR models better than equal-width bins; a calibrated model
    has ``observed ≈ predicted`` in every bin.

    Args:
        y_true: labels in {0, 1}, shape (N,).
        y_pred: probabilities in [0, 1], or logits when ``logits=True``, shape (N,).
        bins: number of bins, 1 ≤ bins ≤ N.
        logits: whether ``y_pred`` holds logits (turned into probabilities by the sigmoid).

    Returns:
        :class:`Calibration` ``(predicted, observed, count, ece)``, bins in increasing prediction.

    Example:
        >>> c = calibration([0, 0, 1, 1], [0.1, 0.3, 0.6, 0.8], bins=2)
        >>> c.predicted.tolist(), c.observed.tolist(), c.count.tolist(), round(c.ece, 6)
        ([0.2, 0.7], [0.0, 1.0], [2, 2], 0.25)
    """
    y, p = _labels(y_true), _values(y_pred, "y_pred")
    _same_length(y_true=y, y_pred=p)
    if logits:
        p = 0.5 * (1.0 + np.tanh(0.5 * p))  # the sigmoid, without overflow
    elif p.min() < 0 or p.max() > 1:
        raise ValueError("y_pred must be probabilities in [0, 1]; pass logits=True for logits")
    if not 1 <= bins <= len(p):
        raise ValueError(f"bins must be between 1 and the number of rows {len(p)}; got {bins}")
    order = np.argsort(p, kind="stable")
    edges = np.linspace(0, len(p), bins + 1).round().astype(np.int64)  # (B+1,) cut positions
    count = np.diff(edges)
    predicted = np.add.reduceat(p[order], edges[:-1]) / count
    observed = np.add.reduceat(y[order], edges[:-1]) / count
    ece = float(np.sum(count * np.abs(observed - predicted)) / len(p))
    return Calibration(predicted, observed, count, ece)
