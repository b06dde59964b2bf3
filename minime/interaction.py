"""Feature-interaction modules: they take embeddings ``(B, F, D)`` and hold no embeddings.

* :class:`FMInteraction` -- factorization machine, sum-square trick.
* :class:`FwFMInteraction` -- field-weighted FM, one learnable weight per field pair.
* :class:`InnerProductInteraction` -- IPNN: all pairwise inner products.
* :class:`CrossNetV2` -- DCNv2 cross network on the flattened embeddings, full or low rank.
* :class:`MLP` -- Linear (+BatchNorm) + activation (+Dropout) blocks, optional output layer.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor, nn

__all__ = ["FMInteraction", "FwFMInteraction", "InnerProductInteraction", "CrossNetV2", "MLP"]


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
        self.input_dim, self.low_rank = input_dim, low_rank
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

    @property
    def num_layers(self) -> int:
        """Number of cross layers ``L``."""
        return len(self.layers)

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


class MLP(nn.Sequential):
    """Blocks ``Linear → [BatchNorm1d] → activation → [Dropout]``, then an optional Linear.

    Args:
        input_dim: input width.
        hidden_units: width of every block, e.g. ``(400, 400)``; may be empty.
        dropout: dropout after every activation (0 for none).
        batch_norm: BatchNorm1d after every hidden Linear.
        activation: module class (factory) for the activation, called once per block.
        output_dim: if given, a final ``Linear(hidden_units[-1], output_dim)`` with no
            activation (e.g. the logits of ``T`` tasks).

    Returns:
        ``(B, input_dim) -> (B, output_dim)``; ``self.output_dim`` is the last width.

    Example:
        >>> mlp = MLP(8, (16, 4), output_dim=3)
        >>> mlp(torch.randn(5, 8)).shape, mlp.output_dim
        (torch.Size([5, 3]), 3)
    """

    def __init__(self, input_dim: int, hidden_units: Sequence[int], *, dropout: float = 0.0,
                 batch_norm: bool = False, activation: Callable[[], nn.Module] = nn.ReLU,
                 output_dim: int | None = None):
        layers: list[nn.Module] = []
        width = input_dim
        for units in hidden_units:
            layers.append(nn.Linear(width, units))
            layers += [nn.BatchNorm1d(units)] if batch_norm else []
            layers.append(activation())
            layers += [nn.Dropout(dropout)] if dropout > 0 else []
            width = units
        if output_dim is not None:
            layers.append(nn.Linear(width, output_dim))
            width = output_dim
        super().__init__(*layers)
        self.input_dim, self.output_dim = input_dim, width
