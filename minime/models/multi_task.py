"""Multi-task models: the base class, SharedBottom and the single-task baseline; logits ``(B, T)``.

The mixture-of-experts models (MMoE, PLE, STEM-Net, ME-MMoE) are in
:mod:`minime.models.mixtures`; AME, STEM-AL and scenarios in :mod:`minime.models.multi_table`.

Every model is ``embedding → mixture → per-task towers``::

    h^t  = mixture(ids)_t                       (B, H)   one vector per task
    ŷ_t  = Tower_t(h^t)                         (B, 1)   MLP(tower_units) → Linear → 1 logit

and ``forward(ids, return_gates=True)`` also returns the task gates of the first mixture level
as ONE tensor ``(B, T, E)`` over all its experts, zeros where a gate cannot see an expert
(rows sum to 1; SharedBottom: ones ``(B, T, 1)``, one expert). Experts are ordered
``[task 1's specific, ..., task T's specific, shared]`` (:meth:`MultiTaskModel.expert_owners`).
Sizes come from :class:`~minime.models.MTLConfig`; routing options are constructor keywords.

Example:
    >>> model = SharedBottom([10, 5, 3], "small", num_tasks=2)
    >>> logits, gates = model(torch.tensor([[1, 2, 0], [9, 4, 2]]), return_gates=True)
    >>> logits.shape, gates.shape
    (torch.Size([2, 2]), torch.Size([2, 2, 1]))
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from ..embedding import FusedEmbedding, MultiEmbedding
from ..blocks import MLP, MLPExperts
from .mtl_config import MTLConfig, resolve_mtl_config

__all__ = ["MultiTaskModel", "SharedBottom", "SingleTask"]


class MultiTaskModel(nn.Module):
    """Base: the config, ``num_tasks``, towers and ``forward``; subclasses define :meth:`mixture`.

    Args:
        field_dims: cardinality of every field.
        config: an :class:`MTLConfig`, a preset name (``"paper"``, ``"small"``) or None.
        num_tasks: ``T`` (at least 1).

    Attributes:
        embedding, towers (``MLPExperts``: T towers ``(T, B, H) -> (T, B, 1)``), config,
        num_tasks, num_experts.
    """

    multi_level = False  # True for models that stack config.num_levels mixture levels

    def __init__(self, field_dims: Sequence[int], config: MTLConfig | str | None, num_tasks: int):
        super().__init__()
        if num_tasks < 1:
            raise ValueError(f"num_tasks must be at least 1, got {num_tasks}")
        self.config, self.num_tasks = resolve_mtl_config(config), int(num_tasks)
        self.num_fields = len(field_dims)
        if self.config.num_levels != 1 and not self.multi_level:
            raise ValueError(f"{type(self).__name__} has one mixture level; num_levels="
                             f"{self.config.num_levels} applies to PLE and STEM only")

    def _embedding(self, field_dims, num_embeddings: int | None = None) -> nn.Module:
        """A FusedEmbedding of width D, or a MultiEmbedding of ``num_embeddings`` sets of width D."""
        c = self.config
        if num_embeddings is None:
            return FusedEmbedding(field_dims, c.embedding_dim, init=c.embedding_init,
                                  sparse=c.sparse_embedding)
        return MultiEmbedding(field_dims, [c.embedding_dim] * num_embeddings, init=c.embedding_init,
                              sparse=c.sparse_embedding)

    def _towers(self, width: int) -> MLPExperts:
        c = self.config
        return MLPExperts(self.num_tasks, width, c.tower_units, output_dim=1, dropout=c.dropout)

    @property
    def num_experts(self) -> int:
        """Experts ``E`` of the first mixture level (the last dimension of the gates)."""
        return len(self.expert_owners())

    def expert_owners(self) -> list[int]:
        """Owner of each expert of the first level: task ``t`` (0-based), or ``T`` if shared."""
        return [self.num_tasks] * self.config.num_experts

    def mixture(self, ids: Tensor) -> tuple[Tensor, Tensor]:
        """Ids ``(B, F)`` -> task vectors ``(T, B, H)`` (or one ``(B, H)``), gates ``(B, T, E)``."""
        raise NotImplementedError

    def forward(self, ids: Tensor, return_gates: bool = False):
        """Ids ``(B, F)`` -> logits ``(B, T)`` (and gates ``(B, T, E)`` if ``return_gates``)."""
        h, gates = self.mixture(ids)
        logits = self.towers(h).squeeze(-1).T  # (T, B, 1) -> (T, B) -> (B, T)
        return (logits, gates) if return_gates else logits


class SharedBottom(MultiTaskModel):
    """One bottom MLP shared by all tasks, then per-task towers: ``ŷ_t = Tower_t(MLP(flat(e)))``.

    With ``num_tasks=1`` it is the single-task baseline (:class:`SingleTask`).

    Example:
        >>> model = SharedBottom([10, 5], "small", num_tasks=3)
        >>> [tuple(t.shape) for t in model(torch.tensor([[1, 2]]), return_gates=True)]
        [(1, 3), (1, 3, 1)]
    """

    def __init__(self, field_dims: Sequence[int], config: MTLConfig | str | None = None, *,
                 num_tasks: int = 1):
        super().__init__(field_dims, config, num_tasks)
        c = self.config
        self.embedding = self._embedding(field_dims)
        self.bottom = MLP(self.num_fields * c.embedding_dim, c.expert_units, dropout=c.dropout)
        self.towers = self._towers(self.bottom.output_dim)

    def expert_owners(self) -> list[int]:
        """One shared expert, the bottom."""
        return [self.num_tasks]

    def mixture(self, ids: Tensor) -> tuple[Tensor, Tensor]:
        """Ids -> the bottom's output ``(B, H)`` (read by every tower), gates ones ``(B, T, 1)``."""
        h = self.bottom(self.embedding(ids).flatten(1))  # (B, F, D) -> (B, F*D) -> (B, H)
        return h, h.new_ones(h.shape[0], self.num_tasks, 1)


class SingleTask(SharedBottom):
    """The single-task baseline: :class:`SharedBottom` with one task (train one per task).

    Example:
        >>> SingleTask([10, 5], "small")(torch.tensor([[1, 2]])).shape
        torch.Size([1, 1])
    """

    def __init__(self, field_dims: Sequence[int], config: MTLConfig | str | None = None, *,
                 num_tasks: int = 1):
        if num_tasks != 1:
            raise ValueError(f"a single-task model predicts one task, got num_tasks={num_tasks}; "
                             "train one per task (TensorData.with_tasks) or use 'shared_bottom'")
        super().__init__(field_dims, config, num_tasks=1)
