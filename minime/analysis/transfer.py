"""Transfer between tasks, measured per bucket of rows: AUC of a multi-task model − single-task.

A multi-task model helps a task (positive transfer) or hurts it (negative transfer); P3 (Su et al.
AAAI 2024) shows that the harm concentrates on users whose interests differ between tasks. The
buckets here are the synthetic world's planted conflict users (:func:`conflict_buckets`) or P3's
split of users by their relative positive feedback on two tasks (:func:`feedback_buckets`);
:func:`bucket_auc` scores each bucket and :func:`transfer` subtracts the single-task results.

Example:
    >>> [round(v, 3) for v in transfer({"conflict": [0.70, 0.61]}, {"conflict": [0.72, 0.60]})["conflict"]]
    [-0.02, 0.01]
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from minime import metrics
from minime.analysis.tables import row_mask
from minime.data import TensorData
from minime.models import predict

__all__ = ["bucket_auc", "bucket_logloss", "conflict_buckets", "feedback_buckets", "oracle_auc",
           "transfer"]


def _auc_or_nan(y: np.ndarray, s: np.ndarray) -> float:
    """metrics.auc, or NaN when the rows hold fewer than two classes (AUC undefined)."""
    return metrics.auc(y, s) if 0 < y.sum() < len(y) else float("nan")


def bucket_auc(logits_or_model, data: TensorData, buckets: Mapping[str, object], *,
               batch_size: int = 16384) -> dict[str, list[float]]:
    """AUC of every task on every bucket of rows.

    Args:
        logits_or_model: a model (scored with :func:`minime.train.predict`) or logits (N, T).
        data: the N rows, with T tasks.
        buckets: bucket name -> bool mask (N,) or the name of a bool meta column.
        batch_size: rows per forward when a model is given.

    Returns:
        ``{bucket: [AUC_t for t in tasks]}`` over the bucket's rows where task t's label is
        observed (``data.label_mask``); NaN where those hold one class only.

    Example:
        >>> data = TensorData([[0], [1], [0], [1]], [[0, 1], [1, 0], [1, 1], [0, 0]], (2,))
        >>> bucket_auc(np.array([[.1, .9], [.8, .2], [.7, .3], [.2, .8]]), data,
        ...            {"all": np.ones(4, bool)})
        {'all': [1.0, 0.75]}
    """
    return _per_bucket(logits_or_model, data, buckets, batch_size, _auc_or_nan)


def bucket_logloss(logits_or_model, data: TensorData, buckets: Mapping[str, object], *,
                   batch_size: int = 16384) -> dict[str, list[float]]:
    """Logloss of every task on every bucket of rows (calibration beside :func:`bucket_auc`).

    Args:
        logits_or_model, data, buckets, batch_size: as :func:`bucket_auc`.

    Returns:
        ``{bucket: [logloss_t for t in tasks]}`` over the bucket's rows where task t's label is
        observed; NaN for a bucket without such rows.

    Example:
        >>> data = TensorData([[0], [1]], [[1], [0]], (2,))
        >>> [round(v, 6) for v in bucket_logloss(np.array([[0.0], [0.0]]), data, {"all": None})["all"]]
        [0.693147]
    """
    return _per_bucket(logits_or_model, data, buckets, batch_size, _logloss_or_nan)


def _per_bucket(logits_or_model, data: TensorData, buckets, batch_size: int,
                score) -> dict[str, list[float]]:
    """``score(y, logits)`` of every task on every bucket's observed rows."""
    if isinstance(logits_or_model, nn.Module):
        logits_or_model = predict(logits_or_model, data, batch_size=batch_size)
    if isinstance(logits_or_model, torch.Tensor):
        logits_or_model = logits_or_model.detach().cpu()
    s = np.asarray(logits_or_model, dtype=np.float64)
    if s.shape != (data.num_rows, data.num_tasks):
        raise ValueError(f"logits must be (N, T) = {(data.num_rows, data.num_tasks)}, got {s.shape}")
    y = data.y.cpu().numpy()
    masks = {name: row_mask(data, m) for name, m in buckets.items()}
    observed = [data.observed(t).cpu().numpy() for t in range(data.num_tasks)]
    return {name: [score(y[m & o, t], s[m & o, t]) for t, o in enumerate(observed)]
            for name, m in masks.items()}


def _logloss_or_nan(y: np.ndarray, s: np.ndarray) -> float:
    """metrics.logloss of logits, or NaN for no rows."""
    return metrics.logloss(y, s, logits=True) if len(y) else float("nan")


def conflict_buckets(data: TensorData, key: str = "conflict") -> dict[str, np.ndarray]:
    """The world's planted buckets: ``{"conflict": mask, "other": ~mask}`` from ``meta[key]``.

    Args:
        data: rows with a bool meta column ``key`` (``make_world("multitask")`` flags the rows
            of conflict users).
        key: the meta column.

    Returns:
        ``{"conflict": (N,) bool, "other": (N,) bool}``, complementary.

    Example:
        >>> data = TensorData([[0], [1]], [1, 0], (2,), meta={"conflict": [True, False]})
        >>> {k: v.tolist() for k, v in conflict_buckets(data).items()}
        {'conflict': [True, False], 'other': [False, True]}
    """
    mask = row_mask(data, key)
    return {"conflict": mask, "other": ~mask}


def feedback_buckets(data: TensorData, *, group: str | int = "user_id", tasks=(0, 1),
                     low: float = 0.5, high: float = 2.0, normalize: bool = True,
                     history: TensorData | None = None) -> dict[str, np.ndarray]:
    """P3's buckets: rows by their user's relative positive feedback on two tasks a and b.

    For each user g with rows n_g and positives p_t(g) in ``history``: the positive rate
    ``r_t(g) = p_t(g) / n_g``, divided by the task's overall rate when ``normalize`` (so 1 is an
    average user; without it a sparse task makes every user look dominated by the dense one).
    With ``ρ_g = r_a(g) / r_b(g)``: ``ρ_g > high`` -> "a-dominated", ``ρ_g < low`` ->
    "b-dominated", else "comparable". Users with no positive on either task, or absent from
    ``history``, belong to no bucket. P3's thresholds were not retrieved; ``low`` and ``high``
    are free.

    Args:
        data: the rows to bucket (e.g. the test split).
        group: the user field (name or index).
        tasks: the two tasks (a, b), names or indices.
        low, high: thresholds on ρ, ``0 < low <= high``.
        normalize: divide each task's rate by its overall rate.
        history: the rows whose labels define ρ_g (e.g. the training split); default ``data``.

    Returns:
        ``{f"{a}-dominated", "comparable", f"{b}-dominated"}`` -> bool mask (N,), named by task.

    Example:
        >>> data = TensorData([[0], [0], [1], [1], [2], [2]], [[1, 0], [1, 0], [1, 1], [0, 0],
        ...                   [0, 1], [0, 0]], (3,), task_names=("a", "b"))
        >>> {k: v.nonzero()[0].tolist() for k, v in feedback_buckets(data, group=0).items()}
        {'a-dominated': [0, 1], 'comparable': [2, 3], 'b-dominated': [4, 5]}
    """
    if not 0 < low <= high or len(tasks) != 2:
        raise ValueError(f"need two tasks and 0 < low <= high, got {tasks}, low={low}, high={high}")
    source = (data if history is None else history).with_tasks(list(tasks))
    num_users = source.field_dims[source.field_index(group)]
    users = source.column(group).cpu().numpy()  # (N_h,)
    y = source.y.cpu().numpy().astype(np.float64)  # (N_h, 2)
    pos = np.stack([np.bincount(users, y[:, t], minlength=num_users) for t in (0, 1)], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):  # 0/0 = NaN: unseen, or no feedback
        rate = pos / np.bincount(users, minlength=num_users)[:, None]  # (V, 2)
        if normalize:
            rate = rate / y.mean(axis=0)
        ratio = (rate[:, 0] / rate[:, 1])[data.column(group).cpu().numpy()]  # (N,); inf: no b
    a, b = source.task_names
    return {f"{a}-dominated": ratio > high, "comparable": (ratio >= low) & (ratio <= high),
            f"{b}-dominated": ratio < low}


def transfer(mtl: Mapping[str, Sequence[float]],
             single: Mapping[str, Sequence[float]] | Sequence[Mapping[str, Sequence[float]]]
             ) -> dict[str, list[float]]:
    """Transfer per bucket and task: ``AUC_MTL − AUC_single``; > 0 positive, < 0 negative transfer.

    Args:
        mtl: ``{bucket: [AUC per task]}`` of the multi-task model (from :func:`bucket_auc`).
        single: the same for the single-task models, or a list of them (one model per task,
            each ``{bucket: [AUC]}``), joined per bucket in task order.

    Returns:
        ``{bucket: [difference per task]}`` over the buckets of ``mtl``.

    Example:
        >>> transfer({"all": [0.75, 0.5]}, [{"all": [0.5]}, {"all": [0.625]}])  # one model per task
        {'all': [0.25, -0.125]}
    """
    if not isinstance(single, Mapping):
        single = {b: [v for one in single for v in one.get(b, [np.nan])] for b in mtl}
    out = {}
    for bucket, values in mtl.items():
        reference = single.get(bucket)
        if reference is None or len(reference) != len(values):
            raise ValueError(f"bucket {bucket!r}: {len(values)} MTL AUCs but single-task gives "
                             f"{reference}")
        out[bucket] = [float(m) - float(s) for m, s in zip(values, reference)]
    return out


def oracle_auc(data: TensorData, key: str = "oracle_logit") -> list[float]:
    """AUC of the true logits per task, on the rows where its label is observed: the ceiling.

    Args:
        data: rows of the synthetic world (or any data) with a meta column ``key`` of logits
            ``(N, T)``.
        key: the meta column.

    Returns:
        One AUC per task.

    Example:
        >>> rows = TensorData([[0], [1], [0]], [1, 0, 1], (2,), meta={"oracle_logit": [[2.], [-1.], [.5]]})
        >>> oracle_auc(rows)
        [1.0]
    """
    if key not in data.meta:
        raise ValueError(f"no meta column {key!r} of true logits; meta has "
                         f"{', '.join(data.meta) or 'none'} (the synthetic world's rows have it)")
    return bucket_auc(data.meta[key].reshape(data.num_rows, -1), data, {"all": None})["all"]
