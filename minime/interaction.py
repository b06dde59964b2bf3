"""Feature-interaction modules: they take embeddings ``(B, F, D)`` and hold no embeddings.

* :class:`FMInteraction` -- factorization machine, sum-square trick.
* :class:`FwFMInteraction` -- field-weighted FM, one learnable weight per field pair.
* :class:`InnerProductInteraction` -- IPNN: all pairwise inner products.
* :class:`CrossNetV2` -- DCNv2 cross network on the flattened embeddings, full or low rank.
* :class:`FieldWeightedCrossNet` -- a cross network with a weight per field pair and an
  orthogonality penalty on its blocks (the restricted DCNv2 of Guo et al., ICML 2024, §3.5).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as nnf

__all__ = ["CrossNetV2", "FMInteraction", "FieldWeightedCrossNet", "FwFMInteraction",
           "InnerProductInteraction"]


class FMInteraction(nn.Module):
    """Factorization-machine interaction ``Σ_{i<j} e_i ⊙ e_j`` by the sum-square identity.

    ``Σ_{i<j} e_i ⊙ e_j = ½ ((Σ_f e_f)² − Σ_f e_f²)`` (element-wise), O(F·D) instead of O(F²·D).

    Args:
        reduce_sum: also sum over ``D``, giving the FM score ``Σ_{i<j} ⟨e_i, e_j⟩``.

    Returns:
        ``(B, 1)`` if ``reduce_sum`` else ``(B, D)``.

    Example:
        >>> e = torch.ones(2, 3, 4)   # 3 pairs of inner product 4
        >>> FMInteraction()(e)
        tensor([[12.],
                [12.]])
    """

    def __init__(self, reduce_sum: bool = True):
        super().__init__()
        self.reduce_sum = reduce_sum

    def forward(self, embeddings: Tensor) -> Tensor:
        """``(B, F, D) -> (B, 1)`` or ``(B, D)``."""
        square_of_sum = embeddings.sum(dim=1).pow(2)  # (B, F, D) -> (B, D)
        sum_of_square = embeddings.pow(2).sum(dim=1)  # (B, F, D) -> (B, D)
        out = 0.5 * (square_of_sum - sum_of_square)
        return out.sum(dim=1, keepdim=True) if self.reduce_sum else out  # (B, D) -> (B, 1)

    def extra_repr(self) -> str:
        return f"reduce_sum={self.reduce_sum}"


def _pair_indices(num_fields: int) -> Tensor:
    """Row/column indices of the field pairs ``i < j``: ``(2, F(F-1)/2)``, row-major order."""
    if num_fields < 2:
        raise ValueError(f"pairwise interactions need at least 2 fields, got {num_fields}")
    return torch.triu_indices(num_fields, num_fields, offset=1)


class FwFMInteraction(nn.Module):
    """Field-weighted FM: ``Σ_{i<j} r_ij e_i ⊙ e_j`` with a learnable weight per field pair.

    ``r`` is initialised to 1, so a fresh FwFM equals an FM. Computed without the
    ``(B, F², D)`` pair tensor: with ``R`` the strictly upper-triangular ``(F, F)`` matrix of
    the ``r_ij``, the result is ``Σ_i e_i ⊙ (R e)_i``.

    Args:
        num_fields: number of fields ``F``.
        reduce_sum: also sum over ``D``, giving ``Σ_{i<j} r_ij ⟨e_i, e_j⟩``.

    Returns:
        ``(B, 1)`` if ``reduce_sum`` else ``(B, D)``.

    Example:
        >>> fwfm = FwFMInteraction(3)
        >>> fwfm.pair_weight.shape   # one weight per pair (0,1), (0,2), (1,2)
        torch.Size([3])
        >>> fwfm(torch.ones(2, 3, 4)).squeeze(1).tolist()   # r = 1: equals FM at init
        [12.0, 12.0]
    """

    def __init__(self, num_fields: int, reduce_sum: bool = True):
        super().__init__()
        self.num_fields, self.reduce_sum = num_fields, reduce_sum
        self.register_buffer("pairs", _pair_indices(num_fields), persistent=False)
        self.pair_weight = nn.Parameter(torch.ones(self.pairs.shape[1]))
        self.register_buffer("pair_mask", torch.ones(self.pairs.shape[1]))  # 0: pair switched off

    def field_weights(self) -> Tensor:
        """The ``(F, F)`` matrix ``R``: ``R[i, j] = r_ij`` for ``i < j``, zero elsewhere."""
        matrix = self.pair_weight.new_zeros(self.num_fields, self.num_fields)
        weights = self.pair_weight * self.pair_mask  # switched-off pairs: weight and gradient 0
        return matrix.index_put((self.pairs[0], self.pairs[1]), weights)

    def restrict_pairs(self, pairs) -> None:
        """Let only ``pairs`` interact; every other pair's ``r_ij`` is fixed at 0 (no gradient).

        A controlled experiment's knob, e.g. a field that meets some fields and not others
        (chapter 3). Calling it again replaces the allowed set.

        Args:
            pairs: field index pairs ``(i, j)`` in either order.

        Example:
            >>> fwfm = FwFMInteraction(3)
            >>> fwfm.restrict_pairs([(1, 0)])
            >>> fwfm.field_weights().tolist()
            [[0.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
        """
        allowed = {tuple(sorted((int(i), int(j)))) for i, j in pairs}
        known = {(int(i), int(j)) for i, j in self.pairs.T.tolist()}
        if not allowed <= known:
            raise ValueError(f"not field pairs of {self.num_fields} fields: {sorted(allowed - known)}")
        mask = [float((int(i), int(j)) in allowed) for i, j in self.pairs.T.tolist()]
        self.pair_mask.copy_(torch.tensor(mask))

    def forward(self, embeddings: Tensor) -> Tensor:
        """``(B, F, D) -> (B, 1)`` or ``(B, D)``."""
        mixed = torch.matmul(self.field_weights(), embeddings)  # (F, F) @ (B, F, D) -> (B, F, D)
        out = (embeddings * mixed).sum(dim=1)  # (B, F, D) -> (B, D)
        return out.sum(dim=1, keepdim=True) if self.reduce_sum else out  # (B, D) -> (B, 1)

    def extra_repr(self) -> str:
        return f"num_fields={self.num_fields}, reduce_sum={self.reduce_sum}"


class InnerProductInteraction(nn.Module):
    """IPNN product layer: the inner products ``⟨e_i, e_j⟩`` of all field pairs ``i < j``.

    Args:
        num_fields: number of fields ``F``.

    Returns:
        ``(B, F(F-1)/2)``, pairs in row-major order ``(0,1), (0,2), ..., (F-2,F-1)``.

    Example:
        >>> e = torch.arange(6.).reshape(1, 3, 2)   # e_0=(0,1), e_1=(2,3), e_2=(4,5)
        >>> InnerProductInteraction(3)(e)
        tensor([[ 3.,  5., 23.]])
    """

    def __init__(self, num_fields: int):
        super().__init__()
        self.num_fields = num_fields
        self.register_buffer("pairs", _pair_indices(num_fields), persistent=False)

    @property
    def output_dim(self) -> int:
        """Number of pairs ``F(F-1)/2``."""
        return self.pairs.shape[1]

    def forward(self, embeddings: Tensor) -> Tensor:
        """``(B, F, D) -> (B, F(F-1)/2)``."""
        gram = torch.bmm(embeddings, embeddings.transpose(1, 2))  # (B, F, D) -> (B, F, F)
        return gram[:, self.pairs[0], self.pairs[1]]  # (B, F, F) -> (B, F(F-1)/2)

    def extra_repr(self) -> str:
        return f"num_fields={self.num_fields}"


class CrossNetV2(nn.Module):
    """DCNv2 cross network: ``x_{l+1} = x_0 ⊙ (W_l x_l + b_l) + x_l``, ``l = 0..L-1``.

    Full rank: ``W_l ∈ R^{d×d}`` (Xavier-uniform, ``b_l = 0``, as the official DCNv2 code).
    Low rank ``r``: ``W_l = U_l V_lᵀ`` with ``U_l, V_l ∈ R^{d×r}``, computed as ``U_l (V_lᵀ x_l)``.

    Args:
        input_dim: width ``d`` of ``x_0`` (``F·D`` for flattened embeddings).
        num_layers: number of cross layers ``L``.
        low_rank: rank ``r`` of every ``W_l``; ``None`` for full rank.

    Returns:
        ``(B, d) -> (B, d)``.

    Example:
        >>> net = CrossNetV2(6, num_layers=2, low_rank=2)
        >>> net(torch.randn(4, 6)).shape, net.layer_weight(0).shape
        (torch.Size([4, 6]), torch.Size([6, 6]))
    """

    def __init__(self, input_dim: int, num_layers: int, low_rank: int | None = None):
        super().__init__()
        self.input_dim, self.low_rank, self.num_layers = input_dim, low_rank, num_layers  # L
        self.layers = nn.ModuleList(self._make_layer() for _ in range(num_layers))

    def _make_layer(self) -> nn.Module:
        d, r = self.input_dim, self.low_rank
        layer = nn.Linear(d, d) if r is None else nn.Sequential(
            nn.Linear(d, r, bias=False), nn.Linear(r, d))  # V_lᵀ, then U_l with bias b_l
        for module in layer.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        return layer

    def layer_weight(self, layer: int) -> Tensor:
        """The full ``(d, d)`` matrix ``W_l`` of one layer (``U_l V_lᵀ`` when low rank).

        Its ``(D, D)`` blocks ``W_l[iD:(i+1)D, jD:(j+1)D]`` are the field-pair interactions.
        """
        module = self.layers[layer]
        return module.weight if self.low_rank is None else module[1].weight @ module[0].weight

    def forward(self, x0: Tensor) -> Tensor:
        """``(B, d) -> (B, d)``."""
        x = x0
        for layer in self.layers:
            x = x0 * layer(x) + x
        return x

    def extra_repr(self) -> str:
        return f"input_dim={self.input_dim}, low_rank={self.low_rank}"


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

    Attributes: ``weight`` ``(L, F*D, F*D)`` the raw ``W_l`` (what the penalty acts on),
    ``bias`` ``(L, F*D)`` the ``b_l``, ``field_weight`` ``(L, F, F)`` the ``N_l``.

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
        self.num_fields, self.embedding_dim, self.num_layers = num_fields, embedding_dim, num_layers
        width = num_fields * embedding_dim
        self.weight = nn.Parameter(torch.empty(num_layers, width, width))
        self.bias = nn.Parameter(torch.zeros(num_layers, width))
        self.field_weight = nn.Parameter(torch.ones(num_layers, num_fields, num_fields))
        for w in self.weight.data:  # Xavier per (FD, FD) layer, not over the stacked tensor
            nn.init.xavier_uniform_(w)

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
