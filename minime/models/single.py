"""Single-embedding (SE) CTR models: one :class:`~minime.embedding.FusedEmbedding`, logits (B, T).

Every model is ``embedding -> interaction block -> head``:

* ``interaction_block(num_fields, embedding_dim, config)`` is a classmethod returning the module
  that maps one embedding set ``(B, F, D)`` to features ``(B, h)`` and the width ``h``. It is
  exactly the part a multi-embedding (ME) model runs once per set (then a per-set first MLP
  layer with ReLU, the mean over sets and a shared head), as in the official ME code.
* ``head`` maps the features to logits ``(B, T)``: an MLP for DNN / IPNN / DCNv2; the
  first-order term for FM / FwFM.

Only SE-specific parts live outside the block: IPNN concatenates the raw embeddings to the inner
products (its ME version uses the products only), and FM / FwFM sum the pairwise block over
``D`` and add a first-order term.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from ..embedding import FusedEmbedding
from ..blocks import MLP
from ..interaction import CrossNetV2, FMInteraction, FwFMInteraction, InnerProductInteraction
from .config import CTRConfig, resolve_config

__all__ = ["SingleEmbeddingModel", "DNN", "FM", "FwFM", "IPNN", "DCNv2", "LinearTerm"]


class SingleEmbeddingModel(nn.Module):
    """Base of the SE models: ``FusedEmbedding → interaction block → head``, logits ``(B, T)``.

    Args:
        field_dims: cardinality of every field.
        config: a :class:`CTRConfig`, a preset name (``"paper"``, ``"small"``) or ``None``.
        num_tasks: number of outputs ``T`` (one logit per task).

    Attributes:
        embedding: the :class:`FusedEmbedding` ``(B, F) -> (B, F, D)``.
        block: the interaction block ``(B, F, D) -> (B, h)``.
        head: ``(B, h) -> (B, T)``.
        config, num_tasks.
    """

    name = ""  # each model's key in minime.models.MODELS

    def __init__(self, field_dims: Sequence[int], config: CTRConfig | str | None = None, *,
                 num_tasks: int = 1):
        super().__init__()
        if num_tasks < 1:
            raise ValueError(f"num_tasks must be at least 1, got {num_tasks}")
        self.config = config = resolve_config(config)
        self.num_tasks = num_tasks
        self.embedding = FusedEmbedding(field_dims, config.embedding_dim,
                                        init=config.embedding_init,
                                        sparse=config.sparse_embedding)
        self.block, width = self.interaction_block(len(field_dims), config.embedding_dim, config)
        self.head = self.build_head(width)

    @classmethod
    def interaction_block(cls, num_fields: int, embedding_dim: int,
                          config: CTRConfig) -> tuple[nn.Module, int]:
        """The per-set module ``(B, F, D) -> (B, h)`` and its width ``h``."""
        raise NotImplementedError

    def build_head(self, width: int) -> nn.Module:
        """``MLP(width, hidden_units) → Linear(·, T)``: features ``(B, h)`` -> logits ``(B, T)``."""
        c = self.config
        return MLP(width, c.hidden_units, dropout=c.dropout, batch_norm=c.batch_norm,
                   output_dim=self.num_tasks)

    def forward(self, ids: Tensor) -> Tensor:
        """Ids ``(B, F)`` -> logits ``(B, T)``."""
        embeddings = self.embedding(ids)  # (B, F) -> (B, F, D)
        return self.head(self.block(embeddings))  # (B, F, D) -> (B, h) -> (B, T)


class DNN(SingleEmbeddingModel):
    """Embedding + MLP: ``flatten(e) → MLP(hidden_units) → Linear → T`` logits.

    Example:
        >>> model = DNN([3, 7, 20], "small", num_tasks=2)
        >>> model(torch.tensor([[0, 6, 19], [2, 0, 5]])).shape
        torch.Size([2, 2])
    """

    name = "dnn"  # its key in minime.models.MODELS

    @classmethod
    def interaction_block(cls, num_fields, embedding_dim, config):
        """Flatten: ``(B, F, D) -> (B, F*D)``."""
        return nn.Flatten(start_dim=1), num_fields * embedding_dim


class DCNv2(SingleEmbeddingModel):
    """DCNv2, stacked: ``flatten(e) → CrossNetV2 → MLP(hidden_units) → Linear → T`` logits.

    Cross layers ``x_{l+1} = x_0 ⊙ (W_l x_l + b_l) + x_l`` on ``x_0 = flatten(e)``
    (``config.num_cross_layers``, ``config.low_rank``), as the official ME code's DCNv2.

    Example:
        >>> model = DCNv2([3, 7, 20], "small")
        >>> model(torch.tensor([[0, 6, 19]])).shape, model.cross_net.layer_weight(0).shape
        (torch.Size([1, 1]), torch.Size([12, 12]))
    """

    name = "dcnv2"  # its key in minime.models.MODELS

    @property
    def cross_net(self) -> CrossNetV2:
        """The :class:`CrossNetV2` (``self.block[1]``), e.g. for ``cross_net.layer_weight(0)``."""
        return self.block[1]

    @classmethod
    def interaction_block(cls, num_fields, embedding_dim, config):
        """Flatten then cross: ``(B, F, D) -> (B, F*D) -> (B, F*D)``."""
        width = num_fields * embedding_dim
        cross = CrossNetV2(width, config.num_cross_layers, low_rank=config.low_rank)
        return nn.Sequential(nn.Flatten(start_dim=1), cross), width


class IPNN(SingleEmbeddingModel):
    """Inner-product PNN: ``[flatten(e) ‖ ⟨e_i, e_j⟩_{i<j}] → MLP → Linear → T`` logits.

    The block is the inner products only (what the ME version uses per set); the SE forward
    concatenates the flattened embeddings, as the official code does.

    Example:
        >>> model = IPNN([3, 7, 20], "small")
        >>> model(torch.tensor([[0, 6, 19]])).shape, model.head[0].in_features   # 3*4 + 3
        (torch.Size([1, 1]), 15)
    """

    name = "ipnn"  # its key in minime.models.MODELS

    @classmethod
    def interaction_block(cls, num_fields, embedding_dim, config):
        """Inner products: ``(B, F, D) -> (B, F(F-1)/2)``."""
        block = InnerProductInteraction(num_fields)
        return block, block.output_dim

    def build_head(self, width: int) -> nn.Module:
        """MLP over ``F*D + F(F-1)/2`` features."""
        flat = self.embedding.num_fields * self.embedding.embedding_dim
        return super().build_head(flat + width)

    def forward(self, ids: Tensor) -> Tensor:
        """Ids ``(B, F)`` -> logits ``(B, T)``."""
        embeddings = self.embedding(ids)  # (B, F) -> (B, F, D)
        products = self.block(embeddings)  # (B, F, D) -> (B, F(F-1)/2)
        features = torch.cat([embeddings.flatten(1), products], dim=1)  # -> (B, F*D + F(F-1)/2)
        return self.head(features)


class LinearTerm(nn.Module):
    """First-order term of a factorization machine, one per task: ``b_t + Σ_f w_t[x_f]``.

    ``first_order`` is a zero-initialised :class:`FusedEmbedding` of width ``T``. It does not
    check ids: the model's main embedding checks the same ids first.

    Args:
        field_dims: cardinality of every field.
        num_tasks: ``T``.
        sparse: sparse gradients for the weights.

    Returns:
        ``(B, F) -> (B, T)``.
    """

    def __init__(self, field_dims: Sequence[int], num_tasks: int, *, sparse: bool = False):
        super().__init__()
        self.first_order = FusedEmbedding(field_dims, num_tasks, init=nn.init.zeros_,
                                          sparse=sparse)
        self.first_order.check_ids = False
        self.bias = nn.Parameter(torch.zeros(num_tasks))

    def forward(self, ids: Tensor) -> Tensor:
        """``(B, F) -> (B, T)``."""
        return self.first_order(ids).sum(dim=1) + self.bias  # (B, F, T) -> (B, T)


class _FactorizationModel(SingleEmbeddingModel):
    """FM-style model: ``logit_t = b_t + Σ_f w_t[x_f] + Σ_d block(e)_d``.

    With ``T > 1`` tasks each task has its own first-order weights ``w_t`` and bias ``b_t``
    (``self.head``, a :class:`LinearTerm`) and all tasks share the second-order term.
    """

    def build_head(self, width: int) -> nn.Module:
        """The first-order term :class:`LinearTerm`; it reads the ids, not the features."""
        return LinearTerm(self.embedding.field_dims, self.num_tasks,
                          sparse=self.config.sparse_embedding)

    def forward(self, ids: Tensor) -> Tensor:
        """Ids ``(B, F)`` -> logits ``(B, T)``."""
        embeddings = self.embedding(ids)  # (B, F) -> (B, F, D); checks the ids
        pairwise = self.block(embeddings).sum(dim=1, keepdim=True)  # (B, D) -> (B, 1)
        return self.head(ids) + pairwise  # (B, T) + (B, 1) -> (B, T)


class FM(_FactorizationModel):
    """Factorization machine: ``b_t + Σ_f w_t[x_f] + Σ_{i<j} ⟨e_i, e_j⟩``.

    Uses ``config.embedding_dim`` only (no MLP). With ``T`` tasks, the tasks share the
    pairwise term and differ in their first-order weights and bias (``self.head``).

    Example:
        >>> model = FM([3, 7, 20], "small", num_tasks=3)
        >>> model(torch.tensor([[0, 6, 19]])).shape
        torch.Size([1, 3])
    """

    name = "fm"  # its key in minime.models.MODELS

    @classmethod
    def interaction_block(cls, num_fields, embedding_dim, config):
        """``Σ_{i<j} e_i ⊙ e_j``: ``(B, F, D) -> (B, D)``."""
        return FMInteraction(reduce_sum=False), embedding_dim


class FwFM(_FactorizationModel):
    """Field-weighted FM: ``b_t + Σ_f w_t[x_f] + Σ_{i<j} r_ij ⟨e_i, e_j⟩``, ``r`` init 1.

    Same task handling as :class:`FM`; ``self.block.field_weights()`` gives the ``(F, F)`` r.

    Example:
        >>> model = FwFM([3, 7, 20], "small")
        >>> model(torch.tensor([[0, 6, 19]])).shape, model.block.pair_weight.shape
        (torch.Size([1, 1]), torch.Size([3]))
    """

    name = "fwfm"  # its key in minime.models.MODELS

    @classmethod
    def interaction_block(cls, num_fields, embedding_dim, config):
        """``Σ_{i<j} r_ij e_i ⊙ e_j``: ``(B, F, D) -> (B, D)``."""
        return FwFMInteraction(num_fields, reduce_sum=False), embedding_dim
