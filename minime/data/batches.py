"""In-memory rows of int64 ids and float labels, moved to a device once and sliced into batches.

Every model and :func:`minime.train.fit` reads data through :class:`TensorData`: an (N, F) id
matrix ``x``, (N, T) labels ``y`` and optional per-row ``meta`` columns (oracle logits, scenario,
conflict flag ...) that follow the rows through :meth:`TensorData.subset` and
:meth:`TensorData.split`. A meta column ``"label_mask"`` (N, T) bool marks which labels are
observed (e.g. a row that belongs to one of several conversion tasks has one observed label):
training and evaluation skip the others. Batches are cut from one ``randperm`` per epoch: no
DataLoader and no per-row Python, so an epoch over 1M rows costs a few slicing ops per batch.
"""

from __future__ import annotations

from typing import Iterator, Mapping, NamedTuple, Sequence

import numpy as np
import torch

from minime.data.checks import as_tensor, check_ids, check_labels, check_meta

__all__ = ["Batch", "LABEL_MASK", "Split", "TensorData", "split_sizes"]

#: The meta column of observed labels: (N, T) bool, True where ``y[n, t]`` is a real label.
LABEL_MASK = "label_mask"


class Batch(NamedTuple):
    """One batch: ids (B, F) int64, labels (B, T) float32, the rows' indices (B,) int64, and
    the observed labels (B, T) bool (None when every label is observed)."""

    x: torch.Tensor
    y: torch.Tensor
    index: torch.Tensor
    mask: torch.Tensor | None = None


class Split(NamedTuple):
    """A train / validation / test split of one :class:`TensorData`."""

    train: "TensorData"
    valid: "TensorData"
    test: "TensorData"

    def with_tasks(self, tasks: Sequence[str | int] | str | int) -> "Split":
        """Every part with only the label columns ``tasks`` (:meth:`TensorData.with_tasks`)."""
        return Split(*(part.with_tasks(tasks) for part in self))


class TensorData:
    """Rows of int64 ids with float labels, kept in memory (optionally on a device).

    Args:
        x: (N, F) integer ids (tensor or numpy); field f's ids lie in ``[0, field_dims[f])``.
        y: (N, T) or (N,) labels in {0, 1}; a 1-D y becomes (N, 1).
        field_dims: the F cardinalities.
        field_names: F names (default ``f0, f1, ...``).
        task_names: T names (default ``task0, task1, ...``).
        meta: per-row columns, each with first dim N, that travel with the rows;
            ``meta["label_mask"]`` (N, T) bool marks the observed labels (:attr:`label_mask`).
        name: a label for printing.

    Raises:
        ValueError: on empty data, non-integer ids, a wrong number of fields or names, ids outside
            a field's cardinality, NaN or non-0/1 labels, or x, y and meta with different row counts;
            the message names the field or task and the first offending row.

    Example:
        >>> data = TensorData([[0, 2], [1, 0], [1, 1]], [1, 0, 1], (2, 3), field_names=("age", "city"))
        >>> data.num_rows, data.num_fields, data.num_tasks, tuple(data.y.shape)
        (3, 2, 1, (3, 1))
        >>> [tuple(b.x.shape) for b in data.batches(2)]
        [(2, 2), (1, 2)]
    """

    def __init__(self, x, y, field_dims: Sequence[int], *, field_names: Sequence[str] | None = None,
                 task_names: Sequence[str] | None = None, meta: Mapping[str, object] | None = None,
                 name: str = "data"):
        x, field_names = check_ids(x, field_dims, field_names)
        y, task_names = check_labels(y, x.shape[0], task_names)
        self.x, self.y = x, y.to(x.device)
        self.field_dims = tuple(int(d) for d in field_dims)
        self.field_names, self.task_names = field_names, task_names
        self.meta = check_meta(meta, x.shape[0], x.device)
        mask = self.meta.get(LABEL_MASK)
        if mask is not None and (mask.dtype != torch.bool or tuple(mask.shape) != tuple(y.shape)):
            raise ValueError(f"meta[{LABEL_MASK!r}] must be bool of shape (rows, tasks) = "
                             f"{tuple(y.shape)}, got {mask.dtype} of shape {tuple(mask.shape)}")
        self.name = name

    def _like(self, x: torch.Tensor, y: torch.Tensor, meta: dict[str, torch.Tensor]) -> "TensorData":
        """A copy with new rows, skipping validation (the rows come from already valid data)."""
        out = object.__new__(TensorData)
        out.__dict__.update(self.__dict__)
        out.x, out.y, out.meta = x, y, meta
        return out

    @property
    def num_rows(self) -> int:
        """N, the number of rows."""
        return self.x.shape[0]

    @property
    def num_fields(self) -> int:
        """F, the number of fields (columns of ``x``)."""
        return self.x.shape[1]

    @property
    def num_tasks(self) -> int:
        """T, the number of label columns."""
        return self.y.shape[1]

    @property
    def label_mask(self) -> torch.Tensor | None:
        """(N, T) bool, True where a label is observed; None when all are."""
        return self.meta.get(LABEL_MASK)

    def observed(self, task: int) -> torch.Tensor:
        """(N,) bool: the rows whose label of ``task`` (an index) is observed.

        Example:
            >>> data = TensorData([[0], [1]], [[1, 0], [0, 0]], (2,),
            ...                   meta={"label_mask": [[True, False], [True, True]]})
            >>> data.observed(1).tolist(), data.with_tasks([1]).label_mask.tolist()
            ([False, True], [[False], [True]])
        """
        mask = self.label_mask
        if mask is None:
            return torch.ones(self.num_rows, dtype=torch.bool, device=self.device)
        return mask[:, task]

    @property
    def device(self) -> torch.device:
        """The device all tensors live on."""
        return self.x.device

    def __len__(self) -> int:
        return self.num_rows

    def __repr__(self) -> str:
        meta = f", meta: {', '.join(self.meta)}" if self.meta else ""
        return (f"TensorData({self.name!r}, {self.num_rows} rows, fields {self.field_names}, "
                f"tasks {self.task_names}, device {self.device}{meta})")

    def to(self, device: torch.device | str) -> "TensorData":
        """The same rows with x, y and every meta column moved to ``device`` (one copy each)."""
        meta = {k: v.to(device) for k, v in self.meta.items()}
        return self._like(self.x.to(device), self.y.to(device), meta)

    def subset(self, index) -> "TensorData":
        """The rows selected by ``index``, with their meta.

        Args:
            index: a slice, a LongTensor / ndarray / list of row numbers, or a bool mask of length N.

        Returns:
            A new TensorData with the selected rows, in the order given.
        """
        if not isinstance(index, slice):
            index = as_tensor(index, "index").to(self.device)
            if index.dtype == torch.bool and index.shape != (self.num_rows,):
                raise ValueError(f"a bool mask must have shape ({self.num_rows},), got {tuple(index.shape)}")
        meta = {k: v[index] for k, v in self.meta.items()}
        return self._like(self.x[index], self.y[index], meta)

    def with_tasks(self, tasks: Sequence[str | int] | str | int) -> "TensorData":
        """The same rows with only the label columns ``tasks``, in the given order (meta kept).

        For a single-task baseline on one task of a multi-task world:
        ``fit(model, train.with_tasks("click"), valid.with_tasks("click"))``.

        Args:
            tasks: task names or indices (negative counts from the end), or one of them.

        Returns:
            A TensorData whose y is ``(N, len(tasks))`` and whose task_names follow ``tasks``.

        Raises:
            ValueError: on an unknown name, an index out of range, or no or repeated tasks.

        Example:
            >>> data = TensorData([[0], [1]], [[1, 0], [0, 1]], (2,), task_names=("click", "buy"))
            >>> sub = data.with_tasks(["buy"])
            >>> sub.task_names, sub.y.tolist()
            (('buy',), [[0.0], [1.0]])
        """
        tasks = [tasks] if isinstance(tasks, (str, int, np.integer)) else list(tasks)
        index = []
        for task in tasks:
            if isinstance(task, str) and task not in self.task_names:
                raise ValueError(f"no task named {task!r}; tasks are {', '.join(self.task_names)}")
            if not isinstance(task, str) and (isinstance(task, bool) or not
                                              -self.num_tasks <= task < self.num_tasks):
                raise ValueError(f"task index {task!r} is out of range for {self.num_tasks} tasks")
            index.append(self.task_names.index(task) if isinstance(task, str)
                         else int(task) % self.num_tasks)
        if not index or len(set(index)) != len(index):
            raise ValueError(f"need one or more distinct tasks, got {tasks}")
        meta = dict(self.meta)
        if LABEL_MASK in meta:
            meta[LABEL_MASK] = meta[LABEL_MASK][:, index]
        out = self._like(self.x, self.y[:, index], meta)
        out.task_names = tuple(self.task_names[i] for i in index)
        return out

    def batches(self, batch_size: int, *, shuffle: bool = False, generator: torch.Generator | None = None,
                drop_last: bool = False) -> Iterator[Batch]:
        """Iterate over the rows once, ``batch_size`` at a time.

        Args:
            batch_size: rows per batch B; the last batch is smaller unless ``drop_last``.
            shuffle: visit the rows in a random order (one ``randperm`` per call).
            generator: a CPU ``torch.Generator`` for the shuffle; the same seed gives the same order.
            drop_last: skip a last batch smaller than ``batch_size``.

        Returns:
            An iterator of :class:`Batch` ``(x (B, F), y (B, T), index (B,), mask)`` on the data's
            device; ``mask`` is the batch's (B, T) observed labels, or None if all are.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        n, mask = self.num_rows, self.label_mask
        order = torch.randperm(n, generator=generator).to(self.device) if shuffle else None
        stop = n - n % batch_size if drop_last else n
        for start in range(0, stop, batch_size):
            end = min(start + batch_size, n)
            if order is None:
                index = torch.arange(start, end, device=self.device)
                rows = slice(start, end)
            else:
                index = rows = order[start:end]
            yield Batch(self.x[rows], self.y[rows], index, None if mask is None else mask[rows])

    def field_index(self, field: str | int) -> int:
        """The column number of ``field``, given by name or by index."""
        if isinstance(field, (int, np.integer)) and not isinstance(field, bool):
            if not -self.num_fields <= field < self.num_fields:
                raise ValueError(f"field index {field} is out of range for {self.num_fields} fields")
            return int(field) % self.num_fields
        if field not in self.field_names:
            raise ValueError(f"no field named {field!r}; fields are {', '.join(self.field_names)}")
        return self.field_names.index(field)

    def column(self, field: str | int) -> torch.Tensor:
        """One field's ids, (N,) int64, by name or by index."""
        return self.x[:, self.field_index(field)]

    def rows_where(self, field: str | int, ids) -> torch.Tensor:
        """(N,) bool on the data's device: the rows whose ``field`` holds one of ``ids``.

        Example:
            >>> data = TensorData([[0, 2], [1, 0], [1, 1]], [1, 0, 1], (2, 3), field_names=("u", "i"))
            >>> data.rows_where("u", [1]).tolist(), data.subset(data.rows_where("i", [0, 2])).num_rows
            ([False, True, True], 2)
        """
        ids = torch.as_tensor(np.asarray(ids).ravel(), dtype=torch.int64, device=self.device)
        return torch.isin(self.column(field), ids)

    def split(self, fractions: Sequence[float] = (0.8, 0.1, 0.1), *, seed: int = 0) -> Split:
        """A random train / valid / test split; rows keep their original order inside each part.

        Args:
            fractions: three non-negative fractions summing to 1.
            seed: seeds the permutation, so the same seed gives the same split.

        Returns:
            :class:`Split` ``(train, valid, test)`` of sizes ``round(f0·N)``, ``round(f1·N)``, rest.
        """
        sizes = split_sizes(self.num_rows, fractions)
        order = torch.randperm(self.num_rows, generator=torch.Generator().manual_seed(seed))
        parts = torch.split(order, sizes)
        return Split(*(self.subset(part.sort().values) for part in parts))


def split_sizes(num_rows: int, fractions: Sequence[float]) -> list[int]:
    """Row counts of a three-way split: ``round(f0·N)``, ``round(f1·N)`` and the rest.

    Example:
        >>> split_sizes(10, (0.8, 0.1, 0.1))
        [8, 1, 1]
    """
    fractions = tuple(float(f) for f in fractions)
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1) > 1e-6:
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, got {fractions}")
    train = round(fractions[0] * num_rows)
    valid = min(round(fractions[1] * num_rows), num_rows - train)
    return [train, valid, num_rows - train - valid]
