"""Embedding tables for categorical fields: one fused table, one gather per forward.

Every field ``f`` has ``V_f = field_dims[f]`` ids ``0 .. V_f - 1``. All fields live in ONE
``nn.Embedding`` of ``sum(field_dims)`` rows; field ``f`` owns the rows
``offsets[f] .. offsets[f] + V_f - 1`` with ``offsets[f] = V_0 + ... + V_{f-1}``, so a batch of
ids ``(B, F)`` becomes rows by adding ``offsets`` and is looked up with a single gather.

* :class:`FusedEmbedding` -- one embedding set of width ``D``: ``(B, F) -> (B, F, D)``.
* :class:`MultiEmbedding` -- ``M`` sets of widths ``dims = (d_1, ..., d_M)`` stored side by side
  in one table of width ``sum(dims)``; one gather, then a split into ``M`` tensors
  ``(B, F, d_k)``. Equal dims give multi-embedding (Guo et al., ICML 2024), ``T + 1`` sets give
  STEM's task-specific + shared tables (Su et al., AAAI 2024), unequal dims give AME.

Both read their weights with ``num_embeddings`` (``M``), ``dims``, ``tables()``
(``[set][field]`` views ``(V_f, d_k)``), ``field_tables``, ``field_rows``. Ids are checked on
every forward (off: ``module.check_ids = False``): an id outside ``0 .. V_f - 1`` raises a
``ValueError`` naming field, row and value, never a CUDA device-side assert.
"""

from __future__ import annotations

from itertools import accumulate
from typing import Callable, Sequence

import torch
from torch import Tensor, nn

__all__ = ["FusedEmbedding", "Init", "MultiEmbedding", "gather"]

#: An initialiser: called on a weight tensor (or a column block of it), fills it in place.
Init = Callable[[Tensor], object]


def gather(table: nn.Embedding, ids: Tensor) -> Tensor:
    """``table(ids)``; on the CPU by ``index_select``, whose backward is several times faster there
    than ``nn.Embedding``'s (the same rows and gradients: ``tests/test_embedding.py``)."""
    plain = table.max_norm is None and table.padding_idx is None and not table.sparse
    hooked = bool(table._forward_hooks or table._forward_pre_hooks)  # hooks see the module call
    if not plain or hooked or table.weight.device.type != "cpu":
        return table(ids)
    return table.weight.index_select(0, ids.reshape(-1)).view(*ids.shape, table.weight.shape[1])


class _FieldTable(nn.Module):
    """One ``nn.Embedding`` holding every field's rows, plus offsets and id checks."""

    def __init__(self, field_dims: Sequence[int], width: int, *, sparse: bool,
                 field_names: Sequence[str] | None):
        super().__init__()
        self.field_dims = tuple(int(v) for v in field_dims)
        if not self.field_dims or min(self.field_dims) < 1:
            raise ValueError(f"field_dims must be non-empty positive ints, got {field_dims}")
        if field_names is not None and len(field_names) != len(self.field_dims):
            raise ValueError(f"{len(field_names)} field_names for {len(self.field_dims)} fields")
        self.field_names = None if field_names is None else tuple(field_names)
        self.check_ids = True  # set False to skip the id checks (saves one reduction)
        self.field_encoders = nn.ModuleDict()  # field index -> encoder (minime.encoders)
        rows = sum(self.field_dims)  # uninitialised here: subclasses draw it once, per block
        self.table = nn.Embedding(rows, width, sparse=sparse, _weight=torch.empty(rows, width))
        offsets = [0, *accumulate(self.field_dims)][:-1]
        self.register_buffer("offsets", torch.tensor(offsets, dtype=torch.int64), persistent=False)
        self.register_buffer("cardinalities", torch.tensor(self.field_dims, dtype=torch.int64),
                             persistent=False)

    num_fields = property(lambda self: len(self.field_dims), doc="Number of fields ``F``.")

    def lookup(self, ids: Tensor) -> Tensor:
        """Check ``ids`` and gather their rows: ``(B, F) -> (B, F, width)``, one gather; a field
        given an encoder (:func:`minime.encoders.encode_field`) takes the encoder's output."""
        if self.check_ids:
            ids = self.validate(ids)
        rows = gather(self.table, ids + self.offsets)  # (B, F) -> (B, F, width)
        if not len(self.field_encoders):
            return rows
        fields = torch.tensor([int(k) for k in self.field_encoders], device=rows.device)
        encoded = torch.stack([encoder(ids) for encoder in self.field_encoders.values()], 1)
        return rows.index_copy(1, fields, encoded.to(rows.dtype))  # one copy, one backward

    def validate(self, ids: Tensor) -> Tensor:
        """Return ``ids`` as int64 ``(B, F)`` or raise ``ValueError`` saying what is wrong."""
        if not isinstance(ids, Tensor):
            raise TypeError(f"ids must be a torch.Tensor, got {type(ids).__name__}")
        if ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
            raise ValueError(f"ids must be integers, got dtype {ids.dtype}; never pass ids "
                             "through float (float32 is exact only below 2**24)")
        if ids.dim() != 2:
            raise ValueError(f"ids must be 2-D (batch, fields), got shape {tuple(ids.shape)}")
        if ids.shape[1] != self.num_fields:
            raise ValueError(f"ids have {ids.shape[1]} columns but there are "
                             f"{self.num_fields} fields (one column per field expected)")
        ids = ids.long()
        if ids.numel():
            low, high = ids.aminmax(dim=0)  # (B, F) -> (F,), (F,): one reduction
            if bool(((low < 0) | (high >= self.cardinalities)).any()):
                self._raise_first_bad(ids)
        return ids

    def _raise_first_bad(self, ids: Tensor) -> None:
        bad = (ids < 0) | (ids >= self.cardinalities)  # (B, F)
        row, field = (int(i) for i in bad.nonzero()[0])  # first offender, row-major
        name = "" if self.field_names is None else f" ({self.field_names[field]!r})"
        size = self.field_dims[field]
        raise ValueError(f"field {field}{name}: id {int(ids[row, field])} in row {row} is out "
                         f"of range; this field has cardinality {size} (ids 0..{size - 1})")

    def _init_columns(self, init: Init | None, start: int, stop: int) -> None:
        with torch.no_grad():
            (init or nn.init.xavier_uniform_)(self.table.weight[:, start:stop])

    @property
    def dims(self) -> tuple[int, ...]:
        """Width ``d_k`` of every embedding set."""
        raise NotImplementedError

    num_embeddings = property(lambda self: len(self.dims), doc="Number of embedding sets ``M``.")

    def set_columns(self, embedding_set: int | None = None) -> slice:
        """The columns of set ``k`` in the table (``-1``: the last set); None: all of them."""
        if embedding_set is None:
            return slice(0, sum(self.dims))
        k = embedding_set + self.num_embeddings if embedding_set < 0 else embedding_set
        if not 0 <= k < self.num_embeddings:
            raise ValueError(f"embedding_set must be in 0..{self.num_embeddings - 1} (or -1 for "
                             f"the last) or None, got {embedding_set}")
        return slice(sum(self.dims[:k]), sum(self.dims[:k + 1]))

    def field_tables(self, embedding_set: int | None = None) -> list[Tensor]:
        """Per-field tables of one set, or of all sets side by side: F × ``(V_f, d)`` views.

        Views share memory and autograd with the parameter; ``.detach()`` them for analysis.

        Args:
            embedding_set: set ``k`` (``-1`` the last); None: every set side by side
                (``d = sum(dims)``), how a model with one set of that width would store them.
        """
        columns = self.set_columns(embedding_set)
        return [rows[:, columns] for rows in self.table.weight.split(self.field_dims, dim=0)]

    def tables(self) -> list[list[Tensor]]:
        """Every set's per-field tables, ``[set][field]`` views ``(V_f, d_k)``."""
        return [self.field_tables(k) for k in range(self.num_embeddings)]

    def field_rows(self, field: int | str, embedding_set: int | None = None) -> Tensor:
        """Field ``field``'s table ``(V_f, d)`` (a view) in one set, or all sets side by side."""
        return self.field_tables(embedding_set)[self.field_index(field)]

    def freeze_fields(self, fields: Sequence[int | str]) -> None:
        """Stop training the tables of ``fields`` (indices or names): their rows get zero gradient.

        E.g. a partner field kept at its random initialisation (chapter 3); Adam leaves rows with
        zero gradient where they are (with ``weight_decay`` 0). A new call replaces the set.

        Args:
            fields: field indices, or names if the module was given ``field_names``.

        Example:
            >>> emb = FusedEmbedding([2, 3], 4)
            >>> emb.freeze_fields([0])
            >>> emb(torch.tensor([[1, 2]])).sum().backward()
            >>> emb.table.weight.grad[:2].abs().sum().item(), emb.table.weight.grad[2:].abs().sum() > 0
            (0.0, tensor(True))
        """
        index = [self.field_index(f) for f in fields]
        rows = torch.ones(sum(self.field_dims), 1, device=self.table.weight.device)
        for f in index:
            rows[int(self.offsets[f]):int(self.offsets[f]) + self.field_dims[f]] = 0.0
        self.frozen_fields = tuple(sorted(set(index)))
        if getattr(self, "_freeze_hook", None) is not None:
            self._freeze_hook.remove()
        self._freeze_hook = self.table.weight.register_hook(lambda grad: _mask_rows(grad, rows))

    def field_index(self, field: int | str) -> int:
        """The index of a field given by index or by name (when the module has names)."""
        if isinstance(field, str):
            if self.field_names is None or field not in self.field_names:
                raise ValueError(f"no field named {field!r}; names are {self.field_names}")
            return self.field_names.index(field)
        if not 0 <= field < self.num_fields:
            raise ValueError(f"field index {field} is out of range for {self.num_fields} fields")
        return int(field)

    def extra_repr(self) -> str:
        return f"field_dims={self.field_dims}, sparse={self.table.sparse}"


class FusedEmbedding(_FieldTable):
    """One embedding table for all fields, looked up with one gather.

    ``e_f = E[offsets[f] + x_f]`` for every field ``f``: the fields' tables ``E_f (V_f, D)`` are
    stacked into one ``(sum(field_dims), D)`` weight (``self.table.weight``).

    Args:
        field_dims: cardinality ``V_f`` of every field (ids of field ``f`` are ``0..V_f-1``).
        embedding_dim: width ``D`` of every embedding.
        init: in-place initialiser for the weight; default ``nn.init.xavier_uniform_`` over
            the whole ``(sum(field_dims), D)`` table, as the official multi-embedding code does
            (its scale shrinks as the vocabulary grows).
        sparse: sparse gradients, for ``torch.optim.SparseAdam`` / ``SGD``.
        field_names: optional names, used in error messages.

    Example:
        >>> emb = FusedEmbedding([3, 5], 4)
        >>> emb(torch.tensor([[0, 4], [2, 1]])).shape
        torch.Size([2, 2, 4])
        >>> [tuple(w.shape) for w in emb.field_tables()], emb.num_embeddings
        ([(3, 4), (5, 4)], 1)
    """

    def __init__(self, field_dims: Sequence[int], embedding_dim: int, *,
                 init: Init | None = None, sparse: bool = False,
                 field_names: Sequence[str] | None = None):
        if embedding_dim < 1:
            raise ValueError(f"embedding_dim must be positive, got {embedding_dim}")
        super().__init__(field_dims, embedding_dim, sparse=sparse, field_names=field_names)
        self.embedding_dim, self.init = int(embedding_dim), init
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw the weight with ``self.init`` (xavier uniform over the table if None)."""
        self._init_columns(self.init, 0, self.embedding_dim)

    def forward(self, ids: Tensor) -> Tensor:
        """Look up every field: ``(B, F)`` integer ids -> ``(B, F, D)`` embeddings."""
        return self.lookup(ids)

    @property
    def dims(self) -> tuple[int, ...]:
        """``(D,)``: one set of width D."""
        return (self.embedding_dim,)

    def extra_repr(self) -> str:
        return f"embedding_dim={self.embedding_dim}, {super().extra_repr()}"


class MultiEmbedding(_FieldTable):
    """``M`` embedding sets in one table of width ``sum(dims)``: one gather, then a split.

    Set ``k`` of field ``f`` is the column block ``[s_k, s_k + d_k)`` of field ``f``'s rows,
    ``s_k = d_1 + ... + d_{k-1}``; ``e_f^(k) = E^(k)[x_f]``. Each set is initialised
    independently (``init`` applied to each column block), so with equal ``dims`` every set
    has the scale a :class:`FusedEmbedding` of width ``d_k`` would have.

    Note: ``num_embeddings`` here is the number of sets ``M`` (the field's usage), not the
    number of rows as in ``nn.Embedding``.

    Args:
        field_dims: cardinality ``V_f`` of every field.
        dims: width ``d_k`` of every set, e.g. ``[10] * 4`` for multi-embedding 4x10.
        init: in-place initialiser applied to each ``(sum(field_dims), d_k)`` column block;
            default ``nn.init.xavier_uniform_``.
        sparse: sparse gradients, for ``torch.optim.SparseAdam`` / ``SGD``.
        field_names: optional names, used in error messages.

    Example:
        >>> emb = MultiEmbedding([3, 5], [4, 4, 2])
        >>> [tuple(e.shape) for e in emb(torch.tensor([[0, 4], [2, 1]]))]
        [(2, 2, 4), (2, 2, 4), (2, 2, 2)]
        >>> emb.num_embeddings, tuple(emb.tables()[2][1].shape), tuple(emb.field_rows(1).shape)
        (3, (5, 2), (5, 10))
    """

    def __init__(self, field_dims: Sequence[int], dims: Sequence[int], *,
                 init: Init | None = None, sparse: bool = False,
                 field_names: Sequence[str] | None = None):
        dims = tuple(int(d) for d in dims)
        if not dims or min(dims) < 1:
            raise ValueError(f"dims must be non-empty positive ints, got {dims}")
        super().__init__(field_dims, sum(dims), sparse=sparse, field_names=field_names)
        self._dims, self.init = dims, init
        self.reset_parameters()

    @property
    def dims(self) -> tuple[int, ...]:
        """Width ``d_k`` of every set."""
        return self._dims

    def reset_parameters(self) -> None:
        """Re-draw every set's column block independently with ``self.init``."""
        for k in range(self.num_embeddings):
            columns = self.set_columns(k)
            self._init_columns(self.init, columns.start, columns.stop)

    def forward(self, ids: Tensor) -> list[Tensor]:
        """Look up every set: ``(B, F)`` integer ids -> M × ``(B, F, d_k)``."""
        rows = self.lookup(ids)  # (B, F) -> (B, F, sum(dims))
        return list(rows.split(self.dims, dim=-1))  # (B, F, sum(dims)) -> M × (B, F, d_k)

    def extra_repr(self) -> str:
        return f"dims={self.dims}, {super().extra_repr()}"


def _mask_rows(grad: Tensor, rows: Tensor) -> Tensor:
    """Multiply each row of a (dense or sparse COO) gradient by ``rows`` ``(num_rows, 1)``."""
    rows = rows.to(grad.device)
    if not grad.is_sparse:
        return grad * rows
    grad = grad.coalesce()
    index = grad.indices()  # (1, nnz)
    return torch.sparse_coo_tensor(index, grad.values() * rows[index[0]], grad.shape,
                                   is_coalesced=True, check_invariants=False)
