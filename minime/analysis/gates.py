"""Which experts the gates of a mixture model read: mean gate weights per task, per bucket of rows.

:func:`gate_weights` is the mean weight each task's gate puts on each expert over some rows;
:func:`task_gate_mass` averages each task's gate over the rows that task is observed on (its own
rows, when every row belongs to one task).

Example:
    >>> from minime import data, models
    >>> world = data.make_world("tiny", num_rows=200)
    >>> net = models.build("mmoe", world.field_dims, "small", num_tasks=world.num_tasks)
    >>> gate_weights(net, world.data).shape   # T tasks × E experts
    (2, 3)
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from minime.analysis.tables import row_mask
from minime.data import TensorData

__all__ = ["gate_weights", "task_gate_mass"]


def task_gate_mass(model: nn.Module, data: TensorData, *, batch_size: int = 16384) -> np.ndarray:
    """Every task's mean gate weight over ITS rows: the rows where its label is observed.

    ``m[t, e] = mean_{n : task t observed} g_{n,t,e}``. Without a ``label_mask`` every row counts
    and this equals :func:`gate_weights`. For a world where each row belongs to one task (the
    ``multicvr`` world), it is where each task routes the rows it is trained and judged on.

    Args:
        model: returns ``(logits (B, T), gates (B, T, E))`` with ``return_gates=True``.
        data: the rows, with or without ``label_mask``.
        batch_size: rows per forward.

    Returns:
        ``(T, E)`` float64.

    Example:
        >>> class Gated(torch.nn.Module):  # two tasks; the gate follows the id
        ...     def __init__(self): super().__init__(); self.w = torch.nn.Parameter(torch.ones(1))
        ...     def forward(self, x, return_gates=False):
        ...         g = torch.stack([1.0 - x[:, 0].float(), x[:, 0].float()], -1)  # (B, 2)
        ...         gates = g.unsqueeze(1).expand(len(x), 2, 2)  # (B, T, E)
        ...         return (self.w * x.float().expand(len(x), 2), gates)
        >>> data = TensorData([[0], [1]], [[1, 0], [0, 1]], (2,),
        ...                   meta={"label_mask": [[True, False], [False, True]]})
        >>> task_gate_mass(Gated(), data).tolist()   # task 1 sees row 0 only, task 2 row 1
        [[1.0, 0.0], [0.0, 1.0]]
    """
    return np.stack([gate_weights(model, data, mask=data.observed(t).cpu().numpy(),
                                  batch_size=batch_size)[t] for t in range(data.num_tasks)])


def gate_weights(model: nn.Module, data: TensorData, *, mask=None,
                 batch_size: int = 16384) -> np.ndarray:
    """Mean gate weight of every task on every expert over the (masked) rows.

    ``w[t, e] = (1/N) Σ_n g_{n,t,e}``, the gates from ``model(x, return_gates=True)``.

    Args:
        model: returns ``(logits (B, T), gates (B, T, E))`` with ``return_gates=True``.
        data: the rows.
        mask: None, a bool mask (N,) or a bool meta column's name (one bucket).
        batch_size: rows per forward.

    Returns:
        ``(T, E)`` float64; each row sums to 1 when the gates do.

    Example:
        >>> class Gated(torch.nn.Module):  # one task, two experts, fixed gates
        ...     def __init__(self): super().__init__(); self.w = torch.nn.Parameter(torch.ones(1))
        ...     def forward(self, x, return_gates=False):
        ...         gates = torch.tensor([[[0.25, 0.75]]]).expand(len(x), 1, 2)  # (B, T, E)
        ...         return (self.w * x.float(), gates) if return_gates else self.w * x.float()
        >>> gate_weights(Gated(), TensorData([[0], [1]], [1, 0], (2,))).tolist()
        [[0.25, 0.75]]
    """
    rows = data.subset(torch.from_numpy(row_mask(data, mask)))
    if rows.num_rows == 0:
        raise ValueError("no rows to average the gates over (empty mask)")
    was_training, total = model.training, 0.0
    model.eval()
    device = next(model.parameters()).device
    with torch.no_grad():
        for batch in rows.batches(batch_size):
            gates = model(batch.x.to(device), return_gates=True)[1]  # (B, T, E)
            total = total + gates.double().sum(dim=0).cpu()  # (T, E)
    model.train(was_training)
    return (total / rows.num_rows).numpy()
