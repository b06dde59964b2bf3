"""How tasks pull on shared parameters, and which experts their gates read.

:func:`gradient_conflict` is the cosine between the gradients of the tasks' losses on the
parameters they share (negative: the tasks pull the shared embedding in opposite directions);
:func:`gate_weights` is the mean weight each task's gate puts on each expert of a mixture model.

Example:
    >>> TaskGradients(np.eye(2), np.ones(2)).cosine.shape
    (2, 2)
"""

from __future__ import annotations

from typing import Iterable, NamedTuple

import numpy as np
import torch
from torch import nn
from torch.nn import functional as nnf

from minime.analysis.transfer import _row_mask
from minime.data.batches import TensorData

__all__ = ["TaskGradients", "gate_weights", "gradient_conflict", "row_gradient_cosines",
           "task_gate_mass"]


class TaskGradients(NamedTuple):
    """Per-task gradients on a batch, as :func:`gradient_conflict` returns them.

    Args:
        cosine: ``(T, T)`` ``cos(g_s, g_t)``, 1 on the diagonal.
        norm: ``(T,)`` ``‖g_t‖``.

    Returns:
        A named tuple ``(cosine, norm)``.

    Example:
        >>> TaskGradients(np.eye(2), np.ones(2)).cosine.tolist()
        [[1.0, 0.0], [0.0, 1.0]]
    """

    cosine: np.ndarray
    norm: np.ndarray


def _task_grads(model: nn.Module, x, y, params: list) -> torch.Tensor:
    """``∂L_t/∂θ`` for every task t (BCE with logits of task t alone), flat: ``(T, |θ|)`` float64.

    Zeros where a loss does not reach a parameter; eval mode; ``.grad`` is not touched.
    """
    was_training = model.training
    model.eval()
    try:
        logits = model(x)  # (B, T)
        losses = [nnf.binary_cross_entropy_with_logits(logits[:, t], y[:, t])
                  for t in range(y.shape[1])]
        grads = [torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
                 for loss in losses]
    finally:
        model.train(was_training)
    return torch.stack([torch.cat([
        torch.zeros(p.numel(), dtype=torch.float64) if g is None
        else (g.to_dense() if g.is_sparse else g).detach().double().flatten().cpu()
        for g, p in zip(task, params)]) for task in grads])  # T × |params| -> (T, |θ|)


def gradient_conflict(model: nn.Module, batch_x, batch_y, *,
                      params: Iterable[nn.Parameter] | None = None) -> TaskGradients:
    """Cosine similarity between the tasks' loss gradients on shared parameters.

    ``g_t = ∂L_t/∂θ`` flattened over θ, ``L_t`` task t's mean BCE on the batch;
    ``cos(g_s, g_t) = g_s·g_t / (‖g_s‖ ‖g_t‖)``: < 0 means the tasks pull the shared
    parameters apart. Computed with ``torch.autograd.grad`` in eval mode (no dropout, no BN
    update); ``.grad`` is left untouched.

    Args:
        model: ``(B, F)`` ids -> ``(B, T)`` logits.
        batch_x, batch_y: ``(B, F)`` ids and ``(B, T)`` labels.
        params: θ, every entry of these parameters (e.g. ``model.embedding.parameters()``).
            Default: the shared entries, i.e. every entry of every parameter that gets a nonzero
            gradient from at least two tasks on this batch. Entry-wise, so a tensor that stacks
            per-task parts (batched towers or gates, STEM's fused table under AFTB) contributes
            only its shared part, and ids absent from the batch drop out.

    Returns:
        :class:`TaskGradients`: ``cosine`` (T, T) (NaN for a zero gradient), ``norm`` (T,) ‖g_t‖.

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Linear(2, 1), torch.nn.Linear(1, 2))  # bottom, heads
        >>> with torch.no_grad():  # both tasks read the bottom alike and predict 0.5 everywhere
        ...     _ = [p.zero_() for p in model.parameters()], model[1].weight.fill_(1)
        >>> x, y = torch.randn(16, 2), torch.randint(0, 2, (16, 1)).float()
        >>> out = gradient_conflict(model, x, torch.cat([y, 1 - y], 1))  # shared: the bottom
        >>> out.cosine.round(6).tolist()  # task 2 = not task 1: opposite gradients
        [[1.0, -1.0], [-1.0, 1.0]]
    """
    device, explicit = next(model.parameters()).device, params is not None
    params = [p for p in (model.parameters() if params is None else params) if p.requires_grad]
    if not params:
        raise ValueError("no parameters that require grad; pass params=")
    G = _task_grads(model, torch.as_tensor(batch_x).to(device),
                    torch.as_tensor(batch_y).float().to(device), params)  # (T, |θ|)
    if not explicit:
        G = G[:, (G != 0).sum(dim=0) >= 2]  # (T, |θ|) -> (T, shared entries)
    if G.shape[1] == 0:
        raise ValueError("no parameter entry receives gradient from two tasks; pass params=")
    norm = G.norm(dim=1).numpy()  # (T,)
    with np.errstate(divide="ignore", invalid="ignore"):
        cosine = (G @ G.T).numpy() / np.outer(norm, norm)
    return TaskGradients(cosine, norm)


def row_gradient_cosines(model: nn.Module, batch_x, batch_y, field: int, *,
                         tasks: tuple[int, int] = (0, 1)) -> np.ndarray:
    """Per embedding row of one field: the cosine between two tasks' loss gradients on that row.

    ``cos(∂L_a/∂E_f[v], ∂L_b/∂E_f[v])`` for every id v of field ``f``: whether the two tasks ask
    the row of id v to move the same way (> 0) or apart (< 0). ``L_t`` is task t's mean BCE on
    the batch, in eval mode; ``.grad`` is left untouched. For a model with one table
    (``model.embedding`` a FusedEmbedding, every task reading it).

    Args:
        model: ``(B, F)`` ids -> ``(B, T)`` logits, with ``.embedding`` a FusedEmbedding.
        batch_x, batch_y: ``(B, F)`` ids and ``(B, T)`` labels.
        field: the field's index.
        tasks: the two tasks ``(a, b)``.

    Returns:
        ``(V_f,)`` float64 cosines; NaN for ids absent from the batch (zero gradient).

    Example:
        >>> from minime import models
        >>> _ = torch.manual_seed(0)
        >>> net = models.build("shared_bottom", [4, 3], "small", num_tasks=2)
        >>> x, y = torch.tensor([[0, 1], [1, 2], [0, 0]]), torch.tensor([[1., 0.], [0., 1.], [1., 1.]])
        >>> cos = row_gradient_cosines(net, x, y, field=0)
        >>> cos.shape, bool(np.isnan(cos[2:]).all()), bool((np.abs(cos[:2]) <= 1 + 1e-12).all())
        ((4,), True, True)
    """
    from minime.embedding import FusedEmbedding  # analysis reads models, never builds them

    embedding = getattr(model, "embedding", None)
    if not isinstance(embedding, FusedEmbedding):
        raise ValueError("row_gradient_cosines needs a model whose .embedding is a FusedEmbedding "
                         f"(one table), got {type(embedding).__name__}")
    table = embedding.table
    dims = list(embedding.field_dims)
    if not 0 <= field < len(dims):
        raise ValueError(f"field must be in [0, {len(dims)}), got {field}")
    device = table.weight.device
    y = torch.as_tensor(batch_y).float().to(device)
    if y.ndim != 2 or max(tasks) >= y.shape[1]:
        raise ValueError(f"tasks {tasks} need labels (B, T) with T > {max(tasks)}, got {tuple(y.shape)}")
    G = _task_grads(model, torch.as_tensor(batch_x).to(device), y, [table.weight])  # (T, rows*D)
    start = int(embedding.offsets[field])
    rows = G.reshape(G.shape[0], -1, table.weight.shape[1])[:, start:start + dims[field]]  # (T, V_f, D)
    a, b = rows[tasks[0]].double(), rows[tasks[1]].double()  # float64: |cos| ≤ 1 to rounding
    cos = (a * b).sum(dim=1) / (a.norm(dim=1) * b.norm(dim=1))  # 0/0 = NaN: absent ids
    return cos.clamp(-1.0, 1.0).numpy()  # clamp keeps the NaNs


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
    rows = data.subset(torch.from_numpy(_row_mask(data, mask)))
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
