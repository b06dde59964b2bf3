"""Multi-embedding (ME) CTR models (Guo et al., ICML 2024, §4): M sets, set-specific interaction.

For every set ``k = 1..M`` (one :class:`~minime.embedding.MultiEmbedding`, one gather)::

    e^(k) = E^(k)[x]                        (B, F, d)     d = config.embedding_dim
    h^(k) = I^(k)(e^(k))                    (B, h)        the SE class's interaction_block
    z^(k) = Dropout(ReLU(BN(W_k h^(k) + b_k)))   (B, h0)  set-specific first layer
    z     = (1/M) Σ_k z^(k)                 (B, h0)       aggregate ("mean"; or "sum", "concat")
    ŷ     = head(z)                         (B, T)        shared MLP(hidden_units[1:]) → T

as the official code (``MultiDCNnew2``, ``MultiDNNModel``, ``MultiPNNModel``, ``MultiNFwFMModel``).
"ME s×K" is ``num_embeddings=s`` with ``embedding_dim=K``; compare it with the SE model of
``embedding_dim=s·K`` (same embedding parameters). Per interaction:

* ``dnn``: ``I = flatten``; ``ipnn``: the inner products only (no raw embeddings, as official);
* ``dcnv2`` / ``restricted_dcnv2``: flatten → cross net, one per set (``model.cross_nets``);
* ``fm`` / ``fwfm``: the pair vector ``Σ_{i<j} (r_ij) e_i ⊙ e_j`` (B, d) goes through the per-set
  first layer, like the official NFwFM-ME (which also puts BN(d) + Dropout before that layer;
  minime does not). There is no first-order term, unlike the SE :class:`~minime.models.FM`.

Ablations live in :class:`MEConfig`: ``shared_interaction`` (one block + first layer for all
sets, the official ``MultiESingleIDCNv2``), ``nonlinear=False`` (plain Linear first layers: then
DNN / FM ME *is* an SE model, see :func:`~minime.models.linear_me.as_single_embedding`) and
``aggregate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor, nn

from ..embedding import MultiEmbedding
from ..blocks import MLP
from .config import CTRConfig, resolve_config
from .single import DCNv2, SingleEmbeddingModel

__all__ = ["MEConfig", "MultiEmbeddingModel", "AGGREGATES"]

#: Ways to combine the per-set features ``M × (B, h0)``.
AGGREGATES = ("mean", "sum", "concat")


@dataclass(frozen=True)
class MEConfig:
    """Multi-embedding options; the sizes (``d``, MLP widths) stay in :class:`CTRConfig`.

    Example:
        >>> MEConfig(num_embeddings=2, aggregate="concat").shared_interaction
        False
    """

    num_embeddings: int = 4  # M: number of embedding sets, each of width config.embedding_dim
    aggregate: str = "mean"  # "mean" (paper), "sum" or "concat" (head input M·hidden_units[0])
    shared_interaction: bool = False  # one interaction + first layer for all sets (ablation)
    nonlinear: bool = True  # BN/ReLU/Dropout after each set's first Linear; False: Linear only
    reg_weight: float = 1e-5  # λ of restricted_dcnv2's orthogonality penalty (summed over sets)

    def __post_init__(self):
        if self.num_embeddings < 1:
            raise ValueError(f"num_embeddings (sets M) must be >= 1, got {self.num_embeddings}")
        if self.aggregate not in AGGREGATES:
            raise ValueError(f"unknown aggregate {self.aggregate!r}; choose one of {AGGREGATES}")
        if self.reg_weight < 0:
            raise ValueError(f"reg_weight must be >= 0, got {self.reg_weight}")


class MultiEmbeddingModel(nn.Module):
    """M embedding sets, a set-specific interaction + first layer each, aggregate, shared head.

    ``ŷ = head(agg_k z^(k))``, ``z^(k) = σ(W_k I^(k)(E^(k)[x]) + b_k)`` with ``σ`` = BN → ReLU
    → Dropout (``me.nonlinear``; BN if ``config.batch_norm``, Dropout if ``config.dropout``)
    and ``I^(k)`` the ``interaction_block`` of the SE class named by ``interaction``.

    Args:
        field_dims: cardinality of every field.
        config: a :class:`CTRConfig` (``embedding_dim`` is the per-set width ``d``;
            ``hidden_units[0]`` the per-set first layer, ``hidden_units[1:]`` the shared head),
            a preset name or None.
        num_tasks: number of logits ``T``.
        interaction: the SE model whose block each set uses: a name (``"dnn"``, ``"fm"``,
            ``"fwfm"``, ``"ipnn"``, ``"dcnv2"``, ``"restricted_dcnv2"``) or the class itself.
        me: a :class:`MEConfig`; None gives ``MEConfig()`` (4 sets, mean).

    Returns:
        ``(B, F)`` ids -> ``(B, T)`` logits.

    Attributes:
        embedding: the :class:`MultiEmbedding` (dims ``[d] * M``).
        blocks: ``nn.ModuleList`` of interaction blocks ``(B, F, d) -> (B, h)``, one per set
            (one if ``me.shared_interaction``).
        first_layers: same length, ``(B, h) -> (B, h0)``.
        head: ``(B, h0) -> (B, T)`` (``(B, M·h0)`` for concat).
        interaction: the SE class; ``num_embeddings``, ``config``, ``me``, ``num_tasks``.
        cross_nets: (DCNv2 variants) one cross network per block.
        regularization: (restricted DCNv2 only) ``reg_weight · Σ_k penalty_k``, used by ``fit``.

    Example:
        >>> model = MultiEmbeddingModel([3, 7, 20], "small", interaction="dcnv2",
        ...                             me=MEConfig(num_embeddings=2))
        >>> model(torch.tensor([[0, 6, 19]])).shape, len(model.cross_nets)
        (torch.Size([1, 1]), 2)
        >>> model.embedding.dims, model.head[0].in_features   # 2 sets of 4; head sees h0 = 16
        ((4, 4), 16)
    """

    def __init__(self, field_dims: Sequence[int], config: CTRConfig | str | None = None, *,
                 num_tasks: int = 1, interaction: str | type = "dcnv2", me: MEConfig | None = None):
        super().__init__()
        if num_tasks < 1:
            raise ValueError(f"num_tasks must be at least 1, got {num_tasks}")
        self.config = config = resolve_config(config)
        self.me = me = _resolve_me(me)
        if not config.hidden_units:
            raise ValueError("multi-embedding needs config.hidden_units[0] for the per-set layer")
        self.num_tasks, self.interaction = num_tasks, _resolve_interaction(interaction)
        self.embedding = MultiEmbedding(field_dims, [config.embedding_dim] * me.num_embeddings,
                                        init=config.embedding_init,
                                        sparse=config.sparse_embedding)
        copies = 1 if me.shared_interaction else me.num_embeddings
        built = [self._set_modules(len(field_dims)) for _ in range(copies)]
        self.blocks = nn.ModuleList(block for block, _ in built)
        self.first_layers = nn.ModuleList(layer for _, layer in built)
        width = config.hidden_units[0] * (me.num_embeddings if me.aggregate == "concat" else 1)
        self.head = MLP(width, config.hidden_units[1:], dropout=config.dropout,
                        batch_norm=config.batch_norm, output_dim=num_tasks)
        if self._penalised_modules():
            self.regularization = self._orthogonality_regularization

    def _set_modules(self, num_fields: int) -> tuple[nn.Module, nn.Module]:
        """One set's interaction block and first layer ``(B, h) -> (B, h0)``."""
        c = self.config
        block, width = self.interaction.interaction_block(num_fields, c.embedding_dim, c)
        if not self.me.nonlinear:
            return block, nn.Linear(width, c.hidden_units[0])
        return block, MLP(width, c.hidden_units[:1], dropout=c.dropout, batch_norm=c.batch_norm)

    @property
    def num_embeddings(self) -> int:
        """Number of embedding sets ``M``."""
        return self.me.num_embeddings

    @property
    def cross_nets(self) -> list[nn.Module]:
        """Each block's cross network (DCNv2 variants only), e.g. ``cross_nets[k].layer_weight(0)``.

        One per set, or a single one when ``me.shared_interaction``.
        """
        if not issubclass(self.interaction, DCNv2):
            raise AttributeError(f"{self.interaction.__name__} blocks have no cross network")
        return [block[1] for block in self.blocks]  # block = Sequential(Flatten, cross net)

    def set_modules(self, k: int) -> tuple[nn.Module, nn.Module]:
        """Set ``k``'s (interaction block, first layer); the same pair for all ``k`` if shared."""
        if not 0 <= k < self.num_embeddings:
            raise IndexError(f"set {k} out of range for {self.num_embeddings} sets")
        slot = 0 if self.me.shared_interaction else k
        return self.blocks[slot], self.first_layers[slot]

    def set_features(self, ids: Tensor) -> list[Tensor]:
        """Per-set first-layer outputs ``z^(k)``: ids ``(B, F)`` -> M × ``(B, h0)``."""
        sets = self.embedding(ids)  # (B, F) -> M × (B, F, d): one gather
        out = []
        for k, embeddings in enumerate(sets):
            block, layer = self.set_modules(k)
            out.append(layer(block(embeddings)))  # (B, F, d) -> (B, h) -> (B, h0)
        return out

    def aggregate(self, features: list[Tensor]) -> Tensor:
        """Combine M × ``(B, h0)``: mean or sum -> ``(B, h0)``; concat -> ``(B, M·h0)``."""
        if self.me.aggregate == "concat":
            return torch.cat(features, dim=1)  # M × (B, h0) -> (B, M*h0)
        stacked = torch.stack(features, dim=1)  # M × (B, h0) -> (B, M, h0)
        return stacked.mean(dim=1) if self.me.aggregate == "mean" else stacked.sum(dim=1)

    def features(self, ids: Tensor) -> Tensor:
        """The head's input: ids ``(B, F)`` -> ``(B, h0)`` (concat: ``(B, M·h0)``)."""
        return self.aggregate(self.set_features(ids))

    def forward(self, ids: Tensor) -> Tensor:
        """Ids ``(B, F)`` -> logits ``(B, T)``."""
        return self.head(self.features(ids))  # (B, h0) -> (B, T)

    def _penalised_modules(self) -> list[nn.Module]:
        return [m for block in self.blocks for m in block.modules()
                if hasattr(m, "orthogonality_penalty")]

    def _orthogonality_regularization(self) -> Tensor:
        """``reg_weight · Σ_blocks orthogonality_penalty()``, a scalar (``regularization``)."""
        penalties = [m.orthogonality_penalty() for m in self._penalised_modules()]
        return self.me.reg_weight * sum(penalties)

    def extra_repr(self) -> str:
        me = self.me
        return (f"interaction={self.interaction.__name__}, num_embeddings={me.num_embeddings}, "
                f"aggregate={me.aggregate!r}, shared_interaction={me.shared_interaction}, "
                f"nonlinear={me.nonlinear}")


def _resolve_me(me: MEConfig | None) -> MEConfig:
    if me is None:
        return MEConfig()
    if not isinstance(me, MEConfig):
        raise TypeError(f"me must be an MEConfig or None, got {me!r}")
    return me


def _resolve_interaction(interaction: str | type) -> type:
    """An SE model class, or its ``name`` (``"dcnv2"``) -> the class (it has interaction_block)."""
    if isinstance(interaction, type) and issubclass(interaction, SingleEmbeddingModel):
        return interaction
    known = {cls.name: cls for cls in _subclasses(SingleEmbeddingModel) if cls.name}
    if interaction not in known:
        raise ValueError(f"unknown interaction {interaction!r}; choose one of {', '.join(known)}")
    return known[interaction]


def _subclasses(cls: type) -> list[type]:
    """Every subclass of ``cls``, depth first."""
    return [c for sub in cls.__subclasses__() for c in (sub, *_subclasses(sub))]
