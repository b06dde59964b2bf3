"""Mixture-of-experts multi-task models: MMoE, PLE (CGC), STEM-Net and ME-MMoE; logits ``(B, T)``.

Each is ``embedding → mixture levels (:class:`~minime.experts.MixtureLayer`) → per-task towers``
(:class:`~minime.models.multi_task.MultiTaskModel`); ``forward(ids, return_gates=True)`` also
returns the first level's task gates ``(B, T, E)``, experts ordered ``[task 1's specific, ...,
task T's specific, shared]``.

Example:
    >>> model = STEMNet([10, 5, 3], "small", num_tasks=2)
    >>> logits, gates = model(torch.tensor([[1, 2, 0], [9, 4, 2]]), return_gates=True)
    >>> logits.shape, gates.shape, model.embedding.dims
    (torch.Size([2, 2]), torch.Size([2, 2, 4]), (4, 4, 4))
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from ..blocks import MLPExperts
from ..experts import SHARED_GATES, LevelConfig, MixtureLayer, SoftmaxGate, check_choice, mix
from .mtl_config import MTLConfig
from .multi_task import MultiTaskModel

__all__ = ["MEMMoE", "MMoE", "MixtureModel", "PLE", "STEMNet"]


class MixtureModel(MultiTaskModel):
    """Base of the models made of :class:`~minime.experts.MixtureLayer` levels (MMoE, PLE, STEM).

    Subclasses build ``self.levels`` (one level, or ``config.num_levels`` when ``multi_level``)
    and may override :meth:`inputs`; the mixture runs the levels in turn.

    Args:
        field_dims, config, num_tasks: as :class:`MultiTaskModel`.

    Example:
        >>> isinstance(MMoE([10, 5], "small", num_tasks=2), MixtureModel)
        True
    """

    def _stack(self, input_dim: int, shared_gate: str, **routing) -> nn.ModuleList:
        """``config.num_levels`` levels; all but the last also output ``h^S`` (``shared_gate``)."""
        check_choice("shared_gate", shared_gate, SHARED_GATES)
        c, levels = self.config, []
        for index in range(c.num_levels):
            last = index == c.num_levels - 1
            levels.append(self._level(input_dim, c.num_specific_experts, c.num_shared_experts,
                                      shared_gate=None if last else shared_gate, **routing))
            input_dim = levels[-1].output_dim
        return nn.ModuleList(levels)

    def _level(self, input_dim: int, num_specific: int, num_shared: int, **routing) -> MixtureLayer:
        """One level with the config's sizes and the given routing."""
        c = self.config
        level = LevelConfig(num_specific=num_specific, num_shared=num_shared,
                            expert_units=c.expert_units, gate_units=c.gate_units,
                            dropout=c.dropout, **routing)
        return MixtureLayer(input_dim, self.num_tasks, level)

    def expert_owners(self) -> list[int]:
        """``[0]*n_sp + ... + [T-1]*n_sp + [T]*n_sh``: specific experts by task, then shared."""
        return self.levels[0].level.owners(self.num_tasks).tolist()

    def inputs(self, ids: Tensor) -> Tensor:
        """The first level's input: ``(B, F*D)`` or streams ``(T+1, B, F*D)``."""
        return self.embedding(ids).flatten(1)  # (B, F, D) -> (B, F*D)

    def mixture(self, ids: Tensor) -> tuple[Tensor, Tensor]:
        """Ids -> the last level's ``(T, B, H)``, the first level's gates ``(B, T, E)``."""
        x, gates = self.inputs(ids), None
        for level in self.levels:
            x, weights = level(x)  # (T+1, B, H) before the last level, (T, B, H) after it
            gates = weights if gates is None else gates
        return x, gates


class MMoE(MixtureModel):
    """MMoE: ``E`` shared experts on ``flat(e)``, one softmax gate per task (Ma et al., 2018).

    ``h^t = Σ_k softmax(W_t flat(e))_k · f_k(flat(e))``; ``E = config.num_experts``.

    Example:
        >>> MMoE([10, 5], "small", num_tasks=2)(torch.tensor([[1, 2]]), return_gates=True)[1].shape
        torch.Size([1, 2, 3])
    """

    def __init__(self, field_dims: Sequence[int], config: MTLConfig | str | None = None, *,
                 num_tasks: int = 1):
        super().__init__(field_dims, config, num_tasks)
        c = self.config
        self.embedding = self._embedding(field_dims)
        width = self.num_fields * c.embedding_dim
        self.levels = nn.ModuleList([self._level(width, 0, c.num_experts, task_view="all")])
        self.towers = self._towers(self.levels[-1].output_dim)


class PLE(MixtureModel):
    """PLE: ``num_levels`` CGC levels of task-specific + shared experts (Tang et al., 2020).

    Task ``t``'s gate mixes its own ``num_specific_experts`` and the ``num_shared_experts``
    shared ones (weight exactly 0 on other tasks' experts). Between levels the shared module's
    gate makes ``h^S``, the next level's shared input; the two readings of the paper differ
    ONLY there, in the shared gate of every level but the last:

    * ``shared_gate="shared"``: it mixes only the shared experts (FuxiCTR, the STEM repo);
    * ``shared_gate="all"``: it mixes every expert of the level (PLE paper's figure, DeepCTR,
      MTReclib).

    With ``num_levels=1`` no shared gate exists and the two are the same model (same
    parameters, same outputs).

    Example:
        >>> model = PLE([10, 5], MTLConfig.preset("small", num_levels=2), num_tasks=2,
        ...             shared_gate="all")
        >>> model(torch.tensor([[1, 2]]), return_gates=True)[1][0, 0].tolist()[1]   # task 2's
        0.0
    """

    multi_level = True

    def __init__(self, field_dims: Sequence[int], config: MTLConfig | str | None = None, *,
                 num_tasks: int = 1, shared_gate: str = "shared"):
        super().__init__(field_dims, config, num_tasks)
        self.embedding = self._embedding(field_dims)
        self.shared_gate = shared_gate
        self.levels = self._stack(self.num_fields * self.config.embedding_dim, shared_gate,
                                  task_view="own")
        self.towers = self._towers(self.levels[-1].output_dim)


class STEMNet(MixtureModel):
    """STEM-Net (Su et al., AAAI 2024): task-specific + shared embeddings and experts, AFTB gates.

    ONE :class:`~minime.embedding.MultiEmbedding` with sets ``[task 1, ..., task T, shared]``
    (``model.embedding``, width ``D·(T+1)``, one gather). Per level, with streams
    ``x_t = flat(e^(t))`` and ``x_S = flat(e^(S))`` at level 1 (then ``h^t``, ``h^S``)::

        g^t = softmax(G_t(x_t + x_S))                       over ALL E = T·n_sp + n_sh experts
        h^t = Σ_{k ∈ t} g^t_k f_k + Σ_{k ∈ j≠t} g^t_k sg(f_k) + Σ_{k ∈ S} g^t_k f_k
        h^S = Σ_k softmax(G_S(x_S))_k f_k                   no stop-gradient (levels < last)

    "All Forward, Task-specific Backward": task ``t``'s loss reaches only its own table,
    experts, gate and tower and the shared ones -- exactly, with one level. With several
    levels ``h^S`` mixes every expert without ``sg`` (as the official code), so task ``t``'s loss
    does reach task ``j``'s lower-level experts and table through ``h^S``;
    ``shared_gate="shared"`` makes ``h^S`` mix the shared experts only and restores isolation.

    Args:
        field_dims, config, num_tasks: as :class:`MultiTaskModel` (``T = 1`` is allowed).
        aftb: the stop-gradients; False is the no-``sg`` ablation.
        gate_input: ``"sum"`` (``x_t + x_S``, official), ``"concat"`` or ``"own"`` (``x_t``).
        shared_gate: ``"all"`` (official) or ``"shared"``; used only when ``num_levels > 1``.

    Example:
        >>> model = STEMNet([10, 5], "small", num_tasks=2)
        >>> model.expert_owners(), model(torch.tensor([[1, 2]])).shape
        ([0, 1, 2, 2], torch.Size([1, 2]))
    """

    multi_level = True

    def __init__(self, field_dims: Sequence[int], config: MTLConfig | str | None = None, *,
                 num_tasks: int = 1, aftb: bool = True, gate_input: str = "sum",
                 shared_gate: str = "all"):
        super().__init__(field_dims, config, num_tasks)
        self.embedding = self._embedding(field_dims, num_embeddings=self.num_tasks + 1)
        self.aftb, self.gate_input, self.shared_gate = bool(aftb), gate_input, shared_gate
        self.levels = self._stack(self.num_fields * self.config.embedding_dim, shared_gate,
                                  task_view="all", aftb=self.aftb, gate_input=gate_input)
        self.towers = self._towers(self.levels[-1].output_dim)

    def inputs(self, ids: Tensor) -> Tensor:
        """Streams ``(T+1, B, F*D)``: task sets, then the shared set."""
        sets = torch.stack(self.embedding(ids))  # (T+1) × (B, F, D) -> (T+1, B, F, D)
        return sets.flatten(2)  # (T+1, B, F, D) -> (T+1, B, F*D)


class MEMMoE(MultiTaskModel):
    """ME-MMoE: MMoE on a multi-embedding of ``M`` sets -- OUR reading (no official code).

    The STEM repo configures ``MMoE_ME`` but does not release the class. Here expert ``k``
    reads set ``k mod M`` (``f_k(flat(e^(k mod M)))``) and every task gate reads all sets
    concatenated, ``[flat(e^(1)), ..., flat(e^(M))]``; otherwise as :class:`MMoE`.

    Args:
        field_dims, config, num_tasks: as :class:`MultiTaskModel`.
        num_embeddings: ``M``, between 1 and ``config.num_experts`` (every set feeds an expert).

    Example:
        >>> model = MEMMoE([10, 5], "small", num_tasks=2, num_embeddings=2)
        >>> model.embedding.dims, model.experts.input_index.tolist()
        ((4, 4), [0, 1, 0])
    """

    def __init__(self, field_dims: Sequence[int], config: MTLConfig | str | None = None, *,
                 num_tasks: int = 1, num_embeddings: int = 2):
        super().__init__(field_dims, config, num_tasks)
        c = self.config
        if not 1 <= num_embeddings <= c.num_experts:
            raise ValueError(f"num_embeddings must be between 1 and num_experts={c.num_experts} "
                             f"(each set feeds at least one expert), got {num_embeddings}")
        self.num_embeddings = int(num_embeddings)
        self.embedding = self._embedding(field_dims, num_embeddings=self.num_embeddings)
        width = self.num_fields * c.embedding_dim
        self.experts = MLPExperts(c.num_experts, width, c.expert_units, dropout=c.dropout,
                                  input_index=[k % num_embeddings for k in range(c.num_experts)])
        self.gates = SoftmaxGate(self.num_tasks, width * num_embeddings, c.num_experts,
                                 c.gate_units, dropout=c.dropout)
        self.towers = self._towers(self.experts.output_dim)

    def mixture(self, ids: Tensor) -> tuple[Tensor, Tensor]:
        """Ids -> ``(T, B, H)``, gates ``(B, T, E)``."""
        sets = torch.stack(self.embedding(ids)).flatten(2)  # M × (B, F, D) -> (M, B, F*D)
        concat = sets.transpose(0, 1).flatten(1)  # (M, B, F*D) -> (B, M*F*D)
        weights = self.gates(concat)  # (B, T, E)
        return mix(self.experts(sets), weights), weights
