"""The orthogonality-regularised ("weighted restricted") DCNv2 of Guo et al. (ICML 2024, §3.5).

Evidence III of the interaction-collapse theory: if every ``(D, D)`` block ``W^{(i,j)}`` of a
cross layer is pushed towards an orthogonal matrix (times a free per-pair scalar ``N_ij``), the
projection of field ``j`` into field ``i``'s slot keeps ``j``'s singular spectrum, so interaction
alone cannot collapse it. IA goes up, yet AUC still does not scale: regularisation does not help.

* :class:`~minime.interaction.FieldWeightedCrossNet` (beside DCNv2's cross network) --
  ``x_{l+1} = x_0 ⊙ ((N_l ⊗ 1_{D×D}) ∘ W_l x_l + b_l) + x_l``, with its orthogonality penalty.
* :class:`RestrictedDCNv2` -- DCNv2 with that cross network; ``regularization()`` is what
  :func:`minime.train.fit` adds to the loss.

Official code: ``thuml/Multi-Embedding``, ``torchfm/model/wrdcnv2.py`` (λ = 1e-5).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from ..interaction import FieldWeightedCrossNet
from .config import CTRConfig
from .single import DCNv2

__all__ = ["RestrictedDCNv2"]


class RestrictedDCNv2(DCNv2):
    """DCNv2 with a :class:`FieldWeightedCrossNet` and the orthogonality regulariser.

    ``flatten(e) → FieldWeightedCrossNet → MLP(hidden_units) → Linear → T`` logits, and
    ``regularization() = reg_weight · Σ_l Σ_{i,j} ‖I_D − W_l^{(i,j)} W_l^{(i,j)ᵀ}‖_F²``, which
    :func:`minime.train.fit` adds to the loss of every batch (as the official code does).

    Args:
        field_dims: cardinality of every field.
        config: a :class:`CTRConfig` (``num_cross_layers`` used; ``low_rank`` must be None), a
            preset name or None.
        num_tasks: number of logits ``T``.
        reg_weight: λ; the official code uses 1e-5 (its unweighted variant 1e-4); 0 turns it off.

    Returns:
        ``(B, F)`` ids -> ``(B, T)`` logits.

    Example:
        >>> model = RestrictedDCNv2([3, 7, 20], "small")
        >>> model(torch.tensor([[0, 6, 19]])).shape, model.cross_net.field_weight.shape
        (torch.Size([1, 1]), torch.Size([2, 3, 3]))
        >>> model.regularization().ndim   # a scalar tensor
        0
    """

    name = "restricted_dcnv2"

    def __init__(self, field_dims: Sequence[int], config: CTRConfig | str | None = None, *,
                 num_tasks: int = 1, reg_weight: float = 1e-5):
        if reg_weight < 0:
            raise ValueError(f"reg_weight must be >= 0, got {reg_weight}")
        super().__init__(field_dims, config, num_tasks=num_tasks)
        self.reg_weight = float(reg_weight)

    @property
    def cross_net(self) -> FieldWeightedCrossNet:
        """The :class:`FieldWeightedCrossNet` (``self.block[1]``)."""
        return self.block[1]

    @classmethod
    def interaction_block(cls, num_fields, embedding_dim, config):
        """Flatten then cross: ``(B, F, D) -> (B, F*D) -> (B, F*D)``."""
        if config.low_rank is not None:
            raise ValueError("the restricted DCNv2 needs full-rank W_l: set config.low_rank=None")
        cross = FieldWeightedCrossNet(num_fields, embedding_dim, config.num_cross_layers)
        return nn.Sequential(nn.Flatten(start_dim=1), cross), num_fields * embedding_dim

    def regularization(self) -> Tensor:
        """``reg_weight · cross_net.orthogonality_penalty()``, a scalar tensor."""
        return self.reg_weight * self.cross_net.orthogonality_penalty()

    def extra_repr(self) -> str:
        return f"reg_weight={self.reg_weight}"
