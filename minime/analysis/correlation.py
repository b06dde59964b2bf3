"""Which behaviours carry signal about the target: the Category-wise Target-aware Correlation (CTC).

P1's feature-correlation tool (RecScope ``Feature_Correlation``, from the TIN paper) measures,
from counts alone, how much knowing that a user's behaviour at target-relative position ``p`` had
category ``c`` tells about the label of an impression whose target has category ``c_t``: the
binary mutual information (bits) between the indicator "such a behaviour is present" and the
label, over the impressions of target category ``c_t``. A trained sequence model's learned
correlation (TIM, DIN) is compared against this map (chapter 8).

Sequences are ``(N, L)`` int64 behaviour categories in chronological order, padded at the end,
with ``(N,)`` lengths; position ``p = length − j`` for the behaviour at index ``j``, so ``p = 1``
is the most recent behaviour. Empty cells get 0 bits (``0 · log 0 = 0``; RecScope writes 1e-5).

Example:
    >>> seq = torch.tensor([[3, 1], [1, 0], [3, 3]])
    >>> ctc_map(seq, torch.tensor([2, 1, 2]), torch.tensor([1, 0, 1]), torch.tensor([3, 3, 3]),
    ...         target_category=3, categories=[1, 3], max_position=2).shape
    (2, 2)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

__all__ = ["binary_mutual_information", "ctc_map"]


def binary_mutual_information(x_p, x_n, t_p, t_n) -> np.ndarray:
    """Mutual information (bits) between a binary indicator and a binary label, from counts.

    Args:
        x_p, x_n: positives and negatives with the indicator on (arrays, broadcast).
        t_p, t_n: all positives and negatives.

    Returns:
        ``m1 + m2 + m3 + m4`` of P1's tool, each ``a/s · log2(a·s / (row · column))``, with
        ``0 · log 0 = 0``.

    Example:
        >>> float(binary_mutual_information(5, 0, 5, 5))  # the indicator is the label: 1 bit
        1.0
    """
    x_p, x_n, t_p, t_n = (np.asarray(v, dtype=np.float64) for v in (x_p, x_n, t_p, t_n))
    if np.any(x_p > t_p) or np.any(x_n > t_n) or np.any(np.minimum(x_p, x_n) < 0):
        raise ValueError("counts must satisfy 0 <= x_p <= t_p and 0 <= x_n <= t_n")
    s = t_p + t_n
    on, off = x_p + x_n, s - x_p - x_n

    def term(a, row, column):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(a > 0, a / s * np.log2(a * s / (row * column)), 0.0)
    return (term(x_p, on, t_p) + term(x_n, on, t_n) + term(t_p - x_p, off, t_p)
            + term(t_n - x_n, off, t_n))


def ctc_map(sequences: Tensor, lengths: Tensor, labels: Tensor, target_categories: Tensor, *,
            target_category: int, categories: Sequence[int], max_position: int) -> np.ndarray:
    """CTC of every (behaviour category, position) for one target category: ``(C, P)`` bits.

    Args:
        sequences: ``(N, L)`` int64 behaviour categories (chronological, padded at the end).
        lengths: ``(N,)`` number of real behaviours per row.
        labels: ``(N,)`` binary labels of the impressions.
        target_categories: ``(N,)`` the category of each impression's target.
        target_category: ``c_t``; only impressions of this target category are counted.
        categories: the behaviour categories ``c`` of the map's rows.
        max_position: positions ``1..P`` of the map's columns (1 = most recent).

    Returns:
        ``(len(categories), max_position)`` float64; row ``i``, column ``p − 1`` is
        ``MI([a behaviour of category categories[i] at position p], label)``.

    Example:
        >>> seq = torch.tensor([[3, 1], [1, 0], [3, 3], [0, 0]])  # rows 0, 2 clicked
        >>> m = ctc_map(seq, torch.tensor([2, 1, 2, 2]), torch.tensor([1, 0, 1, 0]),
        ...             torch.zeros(4, dtype=torch.int64), target_category=0,
        ...             categories=[1, 3], max_position=2)
        >>> m.round(3).tolist()  # a 3 two behaviours back is in both clicks and nowhere else
        [[0.0, 0.0], [0.311, 1.0]]
    """
    seq, n = np.asarray(sequences), len(sequences)
    length, y, tc = (np.asarray(v).reshape(-1) for v in (lengths, labels, target_categories))
    if seq.ndim != 2 or not len(length) == len(y) == len(tc) == n:
        raise ValueError(f"expected (N, L) sequences and (N,) lengths, labels and target "
                         f"categories, got {seq.shape}, {length.shape}, {y.shape}, {tc.shape}")
    if np.any(length < 0) or np.any(length > seq.shape[1]):
        raise ValueError(f"lengths must lie in [0, {seq.shape[1]}] (the padded length)")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 or 1")
    rows = tc == target_category
    seq, length, y = seq[rows], length[rows], y[rows].astype(bool)
    t_p, t_n = int(y.sum()), int((~y).sum())
    out = np.zeros((len(categories), max_position))
    for p in range(1, max_position + 1):
        index = length - p  # the behaviour at position p, where the row has one
        has = index >= 0
        at = np.zeros(len(y), dtype=seq.dtype)
        at[has] = seq[np.flatnonzero(has), index[has]]
        for i, c in enumerate(categories):
            present = has & (at == c)
            out[i, p - 1] = binary_mutual_information((present & y).sum(), (present & ~y).sum(),
                                                      t_p, t_n)
    return out
