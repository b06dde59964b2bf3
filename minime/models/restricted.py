"""The orthogonality-regularised ("weighted restricted") DCNv2 of Guo et al. (ICML 2024, §3.5).

Evidence III of the interaction-collapse theory: if every ``(D, D)`` block ``W^{(i,j)}`` of a
cross layer is pushed towards an orthogonal matrix (times a free per-pair scalar ``N_ij``), the
projection of field ``j`` into field ``i``'s slot keeps ``j``'s singular spectrum, so interaction
alone cannot collapse it. IA goes up, yet AUC still does not scale: regularisation does not help.

* :class:`FieldWeightedCrossNet` -- ``x_{l+1} = x_0 ⊙ ((N_l ⊗ 1_{D×D}) ∘ W_l x_l + b_l) + x_l``,
  with :meth:`~FieldWeightedCrossNet.orthogonality_penalty`.
* :class:`RestrictedDCNv2` -- DCNv2 with that cross network; ``regularization()`` is what
  :func:`minime.train.fit` adds to the loss.

Official code: ``thuml/Multi-Embedding``, ``torchfm/model/wrdcnv2.py`` (λ = 1e-5).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as nnf

from .config import CTRConfig
from .single import DCNv2

__all__ = ["FieldWeightedCrossNet", "RestrictedDCNv2"]


class FieldWeightedCrossNet(nn.Module):
    """DCNv2 cross network with a learnable weight per field pair and an orthogonality penalty.

    ``x_{l+1} = x_0 ⊙ ((N_l ⊗ 1_{D×D}) ∘ W_l x_l + b_l) + x_l`` for ``l = 0..L-1``.
    ``x`` is the flattened embedding ``(B, F*D)``; field ``i`` owns entries ``iD:(i+1)D``.
    ``W_l ∈ R^{FD×FD}`` is full rank (Xavier-uniform per layer, as the official code),
    ``b_l = 0`` and ``N_l ∈ R^{F×F}`` starts at 1, so a fresh network is a DCNv2 cross network.
    Slot ``i`` receives ``Σ_j N_l[i, j] · W_l^{(i,j)} x_l^{(j)}`` with the block
    ``W_l^{(i,j)} = W_l[iD:(i+1)D, jD:(j+1)D]``.

    Args:
        num_fields: number of fields ``F``.
        embedding_dim: width ``D`` of every field's embedding.
        num_layers: number of cross layers ``L``.

    Attributes:
        weight: ``(L, F*D, F*D)``, the raw ``W_l`` (what the penalty acts on).
        bias: ``(L, F*D)``, the ``b_l``.
        field_weight: ``(L, F, F)``, the ``N_l``.

    Returns:
        ``(B, F*D) -> (B, F*D)``.

    Example:
        >>> net = FieldWeightedCrossNet(3, 2, num_layers=2)
        >>> net(torch.randn(4, 6)).shape, net.block_weights(0).shape
        (torch.Size([4, 6]), torch.Size([3, 3, 2, 2]))
        >>> net.orthogonality_penalty() > 0   # Xavier blocks are not orthogonal
        tensor(True)
    """

    def __init__(self, num_fields: int, embedding_dim: int, num_layers: int):
        super().__init__()
        self.num_fields, self.embedding_dim = num_fields, embedding_dim
        width = num_fields * embedding_dim
        self.weight = nn.Parameter(torch.empty(num_layers, width, width))
        self.bias = nn.Parameter(torch.zeros(num_layers, width))
        self.field_weight = nn.Parameter(torch.ones(num_layers, num_fields, num_fields))
        for w in self.weight.data:  # Xavier per (FD, FD) layer, not over the stacked tensor
            nn.init.xavier_uniform_(w)

    @property
    def num_layers(self) -> int:
        """Number of cross layers ``L``."""
        return self.weight.shape[0]

    def layer_weight(self, layer: int) -> Tensor:
        """The effective ``(F*D, F*D)`` matrix ``(N_l ⊗ 1_{D×D}) ∘ W_l`` that multiplies ``x_l``.

        Block ``(i, j)`` is ``N_l[i, j] · W_l^{(i,j)}``; for the sub-embedding IA this equals the
        raw block up to a scalar, and IA is scale invariant (unless ``N_l[i, j] = 0``).
        The raw ``W_l`` is ``self.weight[l]``; its blocks are :meth:`block_weights`.
        """
        d = self.embedding_dim
        ones = self.weight.new_ones(d, d)
        return torch.kron(self.field_weight[layer], ones) * self.weight[layer]  # (F, F) -> (FD, FD)

    def block_weights(self, layer: int) -> Tensor:
        """The raw blocks of ``W_l``, ``(F, F, D, D)``: ``[i, j] = W_l^{(i,j)}`` (a view, no N)."""
        return self._blocks(self.weight[layer].unsqueeze(0))[0]

    def _blocks(self, weight: Tensor) -> Tensor:
        """``(L, F*D, F*D) -> (L, F, F, D, D)``, block ``[l, i, j] = W_l[iD:(i+1)D, jD:(j+1)D]``."""
        f, d = self.num_fields, self.embedding_dim
        blocks = weight.view(weight.shape[0], f, d, f, d)  # (L, FD, FD) -> (L, F, D, F, D)
        return blocks.permute(0, 1, 3, 2, 4)  # [l, i, a, j, b] -> [l, i, j, a, b]: (L, F, F, D, D)

    def orthogonality_penalty(self) -> Tensor:
        """``Σ_l Σ_{i,j} ‖I_D − W_l^{(i,j)} W_l^{(i,j)ᵀ}‖_F²`` over the raw blocks, a scalar.

        Zero exactly when every ``(D, D)`` block of every layer is orthogonal.
        """
        blocks = self._blocks(self.weight)  # (L, F, F, D, D)
        gram = torch.einsum("lijab,lijcb->lijac", blocks, blocks)  # W Wᵀ per block
        eye = torch.eye(self.embedding_dim, dtype=gram.dtype, device=gram.device)
        return (eye - gram).pow(2).sum()

    def forward(self, x0: Tensor) -> Tensor:
        """``(B, F*D) -> (B, F*D)``."""
        x = x0
        for layer in range(self.num_layers):
            x = x0 * nnf.linear(x, self.layer_weight(layer), self.bias[layer]) + x
        return x

    def extra_repr(self) -> str:
        return (f"num_fields={self.num_fields}, embedding_dim={self.embedding_dim}, "
                f"num_layers={self.num_layers}")


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
