"""How tasks pull on shared parameters: cosines between the tasks' loss gradients.

:func:`gradient_conflict` is the cosine between the gradients of the tasks' losses on the
parameters they share (negative: the tasks pull the shared embedding in opposite directions);
:func:`row_gradient_cosines` the same cosine on every embedding row of one field.

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

from minime.analysis.tables import embedding_of


__all__ = ["TaskGradients", "gradient_conflict", "row_gradient_cosines"]


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
    the batch, in eval mode; ``.grad`` is left untouched. For a model with one embedding set
    that every task reads.

    Args:
        model: ``(B, F)`` ids -> ``(B, T)`` logits, with an ``.embedding`` of one set.
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
    embedding = embedding_of(model)
    if embedding.num_embeddings != 1:
        raise ValueError("row_gradient_cosines needs a model with one embedding set that every "
                         f"task reads; this one has {embedding.num_embeddings}")
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
