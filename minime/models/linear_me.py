"""Why multi-embedding needs a non-linearity: a linear ME model *is* a single-embedding model.

With ``MEConfig(nonlinear=False)`` set ``k``'s first layer is a plain ``Linear(W_k, b_k)`` and
the aggregate is linear, so (``h^(k)`` = set ``k``'s interaction output)::

    z = Σ_k A_k (W_k h^(k) + b_k)          A_k = I/M (mean), I (sum), or E_k (concat: the
                                            rows k·h0 .. (k+1)·h0 of an (M·h0, h0) identity)
      = W h + b,   W = [A_1 W_1 | ... | A_M W_M],  b = Σ_k A_k b_k,  h = [h^(1) ‖ ... ‖ h^(M)].

This folds into ONE model on the concatenated embedding ``e_f = [e_f^(1) ‖ ... ‖ e_f^(M)]``
(width ``D = Σ_k d_k``; the :class:`~minime.embedding.MultiEmbedding` table already stores the
sets side by side, so the SE table is the same matrix) whenever the SE interaction of ``e`` is
the per-set interactions laid side by side (in a fixed order):

* DNN: ``flatten(e)`` holds ``e_f^(k)`` at columns ``f·D + s_k ..``, ``s_k = d_1 + ... + d_{k-1}``.
  Composing ``W`` with the head's first Linear ``(H, c)`` gives ``(H W) flatten(e) + H b + c``:
  a plain :class:`~minime.models.DNN` with ``hidden_units[1:]``, one MLP layer fewer (the paper
  drops one layer of the ME head for a fair comparison, the same bookkeeping).
* FM: ``⊙`` is coordinate-wise, so ``Σ_{i<j} e_i ⊙ e_j = [p^(1) ‖ ... ‖ p^(M)]``. The SE
  model is a one-set, linear ME-FM of width ``D`` (a "neural FM": pair vector -> Linear(W, b)
  -> head); the SE :class:`~minime.models.FM` has no MLP head, so it cannot be the target.
* FwFM: as FM when every set has the same pair weights ``r_ij`` (at initialisation, or with
  ``shared_interaction=True``); one FwFM has one ``r``.

Other interactions do not fold (see :data:`NOT_FOLDABLE`), and with ``nonlinear=True``
``mean_k ReLU(W_k h^(k) + b_k)`` is not a function of ``W h`` at all: the ReLU is what lets
the sets act as different models.
"""

from __future__ import annotations

import dataclasses
from types import MappingProxyType

import torch
from torch import Tensor, nn

from .multi_embedding import MEConfig, MultiEmbeddingModel
from .restricted import RestrictedDCNv2
from .single import DCNv2, DNN, FM, IPNN, FwFM

__all__ = ["as_single_embedding", "fold_first_layers", "NOT_FOLDABLE"]

#: Why an interaction's linear ME model is not rebuilt as an SE model.
NOT_FOLDABLE = MappingProxyType({
    IPNN: "the SE inner product <e_i, e_j> = Σ_k <e_i^(k), e_j^(k)> only sees the SUM of the "
          "sets' products, while the ME model weighs each set's products with its own W_k",
    DCNv2: "a cross layer x_0 ⊙ (W x_l + b) + x_l on the concatenated sets reproduces the "
           "per-set cross nets only when W, its coordinates grouped by set, is "
           "block-diagonal (no set mixes with another): a constrained DCNv2, not a plain "
           "SE one, so it is not built",
    RestrictedDCNv2: "the cross nets only fold with W block-diagonal over sets and equal field "
                     "weights N_l in every set: a constrained model, not a plain SE one",
})


def as_single_embedding(model: MultiEmbeddingModel) -> nn.Module:
    """The single-embedding model (width ``D = Σ d_k``) that computes what a linear ME model does.

    ``z = Σ_k A_k (W_k h^(k) + b_k) = W h + b`` (see the module docstring): the sets' tables
    are laid side by side and the per-set first layers and the aggregate fold into one Linear.

    Args:
        model: a :class:`MultiEmbeddingModel` with ``me.nonlinear=False`` and interaction DNN,
            FM or FwFM (FwFM: all sets with equal pair weights).

    Returns:
        DNN: a :class:`~minime.models.DNN` (``embedding_dim=D``, ``hidden_units[1:]``);
        FM / FwFM: a one-set linear :class:`MultiEmbeddingModel` of width ``D`` whose first
        layer has ``M·h0`` units for concat. Both map ``(B, F)`` ids to the same ``(B, T)``
        logits as ``model`` (in eval mode; dropout draws differ in training), on its device.

    Raises:
        ValueError: ``nonlinear=True``, an interaction that does not fold, or FwFM sets with
            different pair weights; the message says why.

    Example:
        >>> me = MultiEmbeddingModel([3, 7, 20], "small", interaction="dnn",
        ...                          me=MEConfig(num_embeddings=3, nonlinear=False)).eval()
        >>> se = as_single_embedding(me).eval()
        >>> type(se).__name__, se.embedding.embedding_dim
        ('DNN', 12)
        >>> ids = torch.tensor([[0, 6, 19], [2, 1, 0]])
        >>> torch.allclose(me(ids), se(ids), atol=1e-6)
        True
    """
    _check_foldable(model)
    weight, bias = fold_first_layers(model)  # (A, G*D), (A,)
    build = _dnn_from if model.interaction is DNN else _neural_fm_from
    se = build(model, weight, bias)
    se.train(model.training)
    return se


def fold_first_layers(model: MultiEmbeddingModel) -> tuple[Tensor, Tensor]:
    """``W = [A_1 W_1 | ... | A_M W_M]`` interleaved to the SE order, and ``b = Σ_k A_k b_k``.

    Set ``k``'s interaction output ``(B, G·d_k)`` is ``G`` groups of ``d_k`` (DNN: ``G = F``
    fields; FM: ``G = 1``); in the SE model group ``g`` holds all sets side by side.

    Args:
        model: a linear :class:`MultiEmbeddingModel` (``me.nonlinear=False``).

    Returns:
        ``W`` ``(A, G·D)`` and ``b`` ``(A,)``, ``A = h0`` (``M·h0`` for concat), detached.
    """
    mats = _aggregation_matrices(model)  # M × (A, h0)
    pieces, bias = [], 0
    for k, (a_k, d_k) in enumerate(zip(mats, model.embedding.dims)):
        layer = model.set_modules(k)[1]
        w = (a_k @ layer.weight.detach())  # (A, h0) @ (h0, G*d_k) -> (A, G*d_k)
        pieces.append(w.view(w.shape[0], -1, d_k))  # (A, G*d_k) -> (A, G, d_k)
        bias = bias + a_k @ layer.bias.detach()  # (A, h0) @ (h0,) -> (A,)
    weight = torch.cat(pieces, dim=2)  # M × (A, G, d_k) -> (A, G, D)
    return weight.flatten(1), bias  # (A, G, D) -> (A, G*D)


def _aggregation_matrices(model: MultiEmbeddingModel) -> list[Tensor]:
    """``A_k`` ``(A, h0)``: ``I/M`` for mean, ``I`` for sum, identity column blocks for concat."""
    h0, m = model.config.hidden_units[0], model.num_embeddings
    like = model.first_layers[0].weight
    if model.me.aggregate == "concat":
        eye = torch.eye(m * h0, dtype=like.dtype, device=like.device)
        return list(eye.split(h0, dim=1))  # (M*h0, M*h0) -> M × (M*h0, h0)
    scale = 1.0 / m if model.me.aggregate == "mean" else 1.0
    return [scale * torch.eye(h0, dtype=like.dtype, device=like.device)] * m


def _check_foldable(model: MultiEmbeddingModel) -> None:
    if not isinstance(model, MultiEmbeddingModel):
        raise ValueError(f"as_single_embedding needs a MultiEmbeddingModel, "
                         f"got {type(model).__name__}")
    if model.me.nonlinear:
        raise ValueError("as_single_embedding needs MEConfig(nonlinear=False): with BN/ReLU after "
                         "each set's first layer, mean_k ReLU(W_k h^(k) + b_k) is not a linear "
                         "function of the concatenated sets, and no single-embedding model "
                         "reproduces it")
    kind = model.interaction
    if kind not in (DNN, FM, FwFM):
        why = NOT_FOLDABLE.get(kind, "its interaction is not known to fold")
        raise ValueError(f"{kind.__name__}: a linear ME model does not fold into an SE "
                         f"model: {why}")
    states = [block.state_dict() for block in model.blocks]
    if any(not torch.equal(first, other[name]) for other in states[1:]
           for name, first in states[0].items()):
        raise ValueError(f"{kind.__name__}: the sets have different pair weights r_ij^(k); one "
                         "FwFM has one r, so the sets only fold when all r are equal (at "
                         "initialisation, or with shared_interaction=True)")


def _dnn_from(model: MultiEmbeddingModel, weight: Tensor, bias: Tensor) -> DNN:
    """A DNN of width ``D``: the folded layer composed with the head's first Linear."""
    config = dataclasses.replace(model.config, embedding_dim=sum(model.embedding.dims),
                                 hidden_units=model.config.hidden_units[1:])
    se = DNN(model.embedding.field_dims, config, num_tasks=model.num_tasks).to(weight.device)
    head = dict(model.head.state_dict())
    first = model.head[0]  # Linear(A, ·): no non-linearity between it and the folded layer
    head["0.weight"] = first.weight.detach() @ weight  # (·, A) @ (A, F*D) -> (·, F*D)
    head["0.bias"] = first.weight.detach() @ bias + first.bias.detach()
    se.head.load_state_dict(head)
    se.embedding.load_state_dict(model.embedding.state_dict())
    return se


def _neural_fm_from(model: MultiEmbeddingModel, weight: Tensor,
                    bias: Tensor) -> MultiEmbeddingModel:
    """A one-set linear ME-FM/FwFM of width ``D``: pair vector -> folded Linear -> same head."""
    hidden = (weight.shape[0], *model.config.hidden_units[1:])
    config = dataclasses.replace(model.config, embedding_dim=sum(model.embedding.dims),
                                 hidden_units=hidden)
    se = MultiEmbeddingModel(model.embedding.field_dims, config, num_tasks=model.num_tasks,
                             interaction=model.interaction,
                             me=MEConfig(num_embeddings=1, nonlinear=False)).to(weight.device)
    se.embedding.load_state_dict(model.embedding.state_dict())
    se.blocks[0].load_state_dict(model.blocks[0].state_dict())
    se.first_layers[0].load_state_dict({"weight": weight, "bias": bias})
    se.head.load_state_dict(model.head.state_dict())
    return se
