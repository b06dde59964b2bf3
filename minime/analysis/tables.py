"""How analysis reads a model's embedding tables and selects rows: one set of readers for all.

* :func:`embedding_of` -- the embedding module of a model (or the module itself);
* :func:`field_tables` -- detached per-field tables of one set, or of all sets side by side;
* :func:`kept_rows` -- a field's rows kept for a measurement (seen ≥ ``min_count`` times in the
  training data, or looked up for every row in batch mode);
* :func:`row_mask` -- a bool row mask from None, a meta column's name or an array.

Example:
    >>> from minime.embedding import MultiEmbedding
    >>> [tuple(t.shape) for t in field_tables(MultiEmbedding([4, 9], [3, 2]), 1)]
    [(4, 2), (9, 2)]
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from minime.data import TensorData
from minime.embedding import FusedEmbedding, MultiEmbedding

__all__ = ["MODES", "check_options", "embedding_of", "field_tables", "kept_rows", "row_mask"]

MODES = ("table", "batch")


def embedding_of(model) -> FusedEmbedding | MultiEmbedding:
    """The model's embedding module (or the model itself if it is one).

    Args:
        model: a model with ``.embedding``, or a FusedEmbedding / MultiEmbedding.

    Returns:
        The embedding module; a TypeError names the type when there is none.

    Example:
        >>> embedding_of(FusedEmbedding([3], 2)).num_embeddings
        1
    """
    embedding = model if isinstance(model, (FusedEmbedding, MultiEmbedding)) else getattr(
        model, "embedding", None)
    if not isinstance(embedding, (FusedEmbedding, MultiEmbedding)):
        raise TypeError(f"{type(model).__name__} is not an embedding and has no .embedding "
                        "(FusedEmbedding or MultiEmbedding) to analyse")
    return embedding


def check_options(embedding, mode: str, data, min_count: int) -> None:
    """Raise ValueError for an unknown mode, missing or mismatched data, or a bad min_count."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if data is None and (mode == "batch" or min_count > 1):
        raise ValueError(f"{'mode=batch' if mode == 'batch' else f'min_count={min_count}'} "
                         "needs data (the rows to look up / count ids in)")
    if data is not None and tuple(data.field_dims) != embedding.field_dims:
        raise ValueError(f"data has field_dims {tuple(data.field_dims)}, but the embedding has "
                         f"{embedding.field_dims}")
    if min_count < 0 or (mode == "batch" and min_count != 1):
        raise ValueError(f"min_count must be >= 0 in table mode and 1 in batch mode (every "
                         f"occurrence is a row), got {min_count} with mode={mode!r}")


def field_tables(model, embedding_set: int | None = None) -> list[Tensor]:
    """Detached per-field tables of one set (``-1``: the last), or of all sets side by side.

    Args:
        model: a model with ``.embedding``, or a FusedEmbedding / MultiEmbedding itself.
        embedding_set: which set; None: every set side by side (one set for a FusedEmbedding).

    Returns:
        F × ``(V_f, d)`` detached views of the table.

    Example:
        >>> [tuple(t.shape) for t in field_tables(FusedEmbedding([3, 5], 2))]
        [(3, 2), (5, 2)]
    """
    return [w.detach() for w in embedding_of(model).field_tables(embedding_set)]


def kept_rows(E: Tensor, f: int, mode: str, data, min_count: int) -> Tensor:
    """Field f's matrix: kept table rows (V_f', D) or looked-up rows (N, D)."""
    if data is None:
        return E
    ids = data.x[:, f].to(E.device)  # (N,)
    if mode == "batch":
        return E.index_select(0, ids)  # (V_f, D) -> (N, D)
    counts = torch.bincount(ids, minlength=E.shape[0])  # (V_f,)
    return E[counts >= min_count]  # (V_f, D) -> (V_f', D)


def row_mask(data: TensorData, mask) -> np.ndarray:
    """A bool (N,) numpy mask of ``data``'s rows.

    Args:
        data: the N rows.
        mask: None (every row), the name of a bool meta column, or a bool array / tensor (N,).

    Returns:
        ``(N,)`` bool numpy array; a ValueError names a missing column or a wrong shape.

    Example:
        >>> row_mask(TensorData([[0], [1]], [1, 0], (2,), meta={"flag": [True, False]}), "flag")
        array([ True, False])
    """
    if mask is None:
        return np.ones(data.num_rows, dtype=bool)
    if isinstance(mask, str):
        if mask not in data.meta:
            raise ValueError(f"no meta column {mask!r}; meta has {', '.join(data.meta) or 'none'}")
        mask = data.meta[mask]
    mask = np.asarray(mask.cpu() if isinstance(mask, torch.Tensor) else mask).astype(bool)
    if mask.shape != (data.num_rows,):
        raise ValueError(f"a mask must have shape ({data.num_rows},), got {mask.shape}")
    return mask
