"""Validation of rows of ids and labels: vectorised, device-agnostic, with messages that say where.

Every check compares whole tensors, calls ``.any()``, and only on failure locates the first
offender, so it costs a few passes over the data (fast on 1M rows) and never triggers a CUDA
device-side assert. :class:`minime.data.batches.TensorData` calls these on construction.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch

__all__ = ["as_tensor", "check_ids", "check_labels", "check_meta", "first_true", "names_or_default"]


def as_tensor(value, what: str) -> torch.Tensor:
    """``value`` as a tensor (numpy arrays and lists accepted), or a ValueError naming ``what``."""
    if isinstance(value, torch.Tensor):
        return value
    try:
        return torch.as_tensor(np.asarray(value))
    except (TypeError, ValueError) as err:
        raise ValueError(f"{what} must be a tensor or an array, got {type(value).__name__}") from err


def first_true(mask: torch.Tensor) -> tuple[int, ...]:
    """Index of the first True entry of ``mask`` in row-major order (call only when one exists)."""
    return tuple(int(i) for i in torch.nonzero(mask)[0])


def names_or_default(names: Sequence[str] | None, count: int, prefix: str) -> tuple[str, ...]:
    """``names`` checked to have ``count`` entries, or ``prefix0, prefix1, ...`` (prefix "f" or "task")."""
    kind = "field" if prefix == "f" else prefix
    if names is None:
        return tuple(f"{prefix}{k}" for k in range(count))
    names = tuple(str(n) for n in names)
    if len(names) != count:
        raise ValueError(f"{kind}_names has {len(names)} names {list(names)} but the data has {count} {kind}s")
    return names


def check_ids(x, field_dims: Sequence[int],
              field_names: Sequence[str] | None) -> tuple[torch.Tensor, tuple[str, ...]]:
    """Check a (N, F) id matrix against the field cardinalities; return it as int64 and the names.

    Args:
        x: (N, F) integer ids, tensor or array; other integer dtypes are converted to int64.
        field_dims: the F cardinalities; ids of field f must lie in ``[0, field_dims[f])``.
        field_names: F names, or None for ``f0, f1, ...``.

    Returns:
        ``(x, names)``: x as an int64 tensor of shape (N, F) on its original device, names a tuple.

    Example:
        >>> x, names = check_ids([[0, 1], [1, 2]], (2, 3), None)
        >>> x.dtype, names
        (torch.int64, ('f0', 'f1'))
    """
    x = as_tensor(x, "x")
    if x.dtype == torch.bool or x.is_floating_point() or x.is_complex():
        raise ValueError(
            f"ids must be integers, got x of dtype {x.dtype}; floats lose ids above 2**24, "
            "so build x as an integer array")
    if x.dim() != 2:
        raise ValueError(f"x must be 2-D (rows, fields), got shape {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError("the data is empty: x has no rows")
    dims = tuple(int(d) for d in field_dims)
    names = names_or_default(field_names, len(dims), "f")
    if x.shape[1] != len(dims):
        raise ValueError(
            f"x has {x.shape[1]} columns but field_dims has {len(dims)} fields ({', '.join(names)})")
    if any(d < 1 for d in dims):
        raise ValueError(f"every cardinality must be >= 1, got field_dims={dims}")
    x = x.long()
    limit = torch.tensor(dims, device=x.device)  # (F,)
    bad = (x < 0) | (x >= limit)  # (N, F)
    if bool(bad.any()):
        row, col = first_true(bad)
        raise ValueError(
            f"field {names[col]!r} has id {int(x[row, col])} at row {row}, outside [0, {dims[col]}) "
            f"(its cardinality is {dims[col]})")
    return x, names


def check_labels(y, num_rows: int, task_names: Sequence[str] | None) -> tuple[torch.Tensor, tuple[str, ...]]:
    """Check labels: N rows, 0/1 values, no NaN; return them as float32 (N, T) and the task names.

    Args:
        y: (N,) or (N, T) labels, tensor or array; bool and integer labels are converted.
        num_rows: N, the number of rows of x.
        task_names: T names, or None for ``task0, task1, ...``.

    Returns:
        ``(y, names)``: y as float32 of shape (N, T), names a tuple of T strings.

    Example:
        >>> y, names = check_labels([1, 0, 1], 3, ["click"])
        >>> tuple(y.shape), names
        ((3, 1), ('click',))
    """
    y = as_tensor(y, "y")
    y = y.unsqueeze(1) if y.dim() == 1 else y  # (N,) -> (N, 1)
    if y.dim() != 2:
        raise ValueError(f"y must be 1-D or 2-D (rows, tasks), got shape {tuple(y.shape)}")
    if y.shape[0] != num_rows:
        raise ValueError(f"x has {num_rows} rows but y has {y.shape[0]}")
    names = names_or_default(task_names, y.shape[1], "task")
    y = y.float()
    nan = torch.isnan(y)
    if bool(nan.any()):
        row, col = first_true(nan)
        raise ValueError(f"label of task {names[col]!r} is NaN at row {row}")
    bad = (y != 0) & (y != 1)
    if bool(bad.any()):
        row, col = first_true(bad)
        raise ValueError(
            f"labels must be 0 or 1: task {names[col]!r} has {float(y[row, col])} at row {row}")
    return y, names


def check_meta(meta: Mapping[str, object] | None, num_rows: int,
               device: torch.device) -> dict[str, torch.Tensor]:
    """Per-row columns as tensors on ``device``, each checked to have ``num_rows`` as first dim."""
    out = {}
    for key, value in (meta or {}).items():
        value = as_tensor(value, f"meta[{key!r}]")
        if value.dim() == 0 or value.shape[0] != num_rows:
            raise ValueError(
                f"meta[{key!r}] has shape {tuple(value.shape)} but the data has {num_rows} rows")
        out[str(key)] = value.to(device)
    return out
