"""Behaviour sequences against a target ad: TIM, with DIN-style attention and mean pooling as
the baselines.

A history is ``(B, L)`` int64 behaviour ids (here: categories) in chronological order, padded at
the end, with ``(B,)`` lengths; behaviour ``j`` sits at target-relative position
``p_j = length − j`` (1 = the most recent). The Temporal Interest Module (P1 §3.1, from TIN):

``ẽ_j = e_j + P[p_j]``,  ``ṽ = v + P[0]``,  ``α_j = softmax_j(⟨ẽ_j, ṽ⟩ / √D)``,
``u = Σ_j α_j (ẽ_j ⊙ ṽ)``

— target-aware temporal encoding (a learned row per relative position, added as in the official
TIN code), target-aware attention with √D scaling over the real behaviours only, and the
target-aware representation ``ẽ_j ⊙ ṽ``. The baselines: ``"din"`` weighs ``e_j`` by an MLP of
``[e_j, v, e_j − v, e_j ⊙ v]`` (DIN's activation unit, no softmax, no position); ``"mean"``
averages ``e_j``. Behaviour and target share one embedding table, as in TIN.

Example:
    >>> tim = TargetAttention(num_ids=5, embedding_dim=4, max_len=3)
    >>> seq, lengths = torch.tensor([[1, 2, 0], [3, 0, 0]]), torch.tensor([2, 1])
    >>> tim(torch.tensor([1, 3]), seq, lengths).shape
    torch.Size([2, 4])
    >>> weights = tim.attention(torch.tensor([1, 3]), seq, lengths)
    >>> bool(torch.allclose(weights.sum(1), torch.ones(2))), weights[1, 1:].tolist()
    (True, [0.0, 0.0])
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from minime.embedding import gather

__all__ = ["KINDS", "TargetAttention", "relative_positions"]

KINDS = ("tim", "din", "mean")


def relative_positions(lengths: Tensor, max_len: int) -> Tensor:
    """``(B,)`` lengths -> ``(B, max_len)`` positions ``length − j`` (≤ 0 on the padding).

    Example:
        >>> relative_positions(torch.tensor([2, 0]), 3).tolist()
        [[2, 1, 0], [0, -1, -2]]
    """
    return lengths.unsqueeze(1) - torch.arange(max_len, device=lengths.device)


class TargetAttention(nn.Module):
    """Pool a behaviour sequence against the target: ``(B,), (B, L), (B,) -> (B, D)``.

    Args:
        num_ids: behaviour / target ids ``0 .. num_ids − 1`` (a padding id among them is fine:
            padded slots are masked by ``lengths``, never read).
        embedding_dim: ``D``.
        max_len: the longest history ``L`` the module accepts (TIM learns ``L + 1`` position rows).
        kind: ``"tim"``, ``"din"`` or ``"mean"``.
        din_units: hidden width of DIN's activation unit.
        name: the feature's name, for error messages.
    """

    def __init__(self, num_ids: int, embedding_dim: int, max_len: int, kind: str = "tim", *,
                 din_units: int = 32, name: str = "history"):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        self.num_ids, self.max_len, self.kind, self.name = num_ids, max_len, kind, name
        self.embedding = nn.Embedding(num_ids, embedding_dim)
        nn.init.normal_(self.embedding.weight, std=embedding_dim ** -0.5)
        self.output_dim = embedding_dim
        if kind == "tim":
            self.position = nn.Embedding(max_len + 1, embedding_dim)  # p = 0 (target) .. L
            nn.init.normal_(self.position.weight, std=embedding_dim ** -0.5)
        if kind == "din":
            self.unit = nn.Sequential(nn.Linear(4 * embedding_dim, din_units), nn.PReLU(),
                                      nn.Linear(din_units, 1))

    def check(self, target: Tensor, seq: Tensor, lengths: Tensor) -> None:
        """Raise a ValueError naming the feature on shapes, dtypes, ids or lengths it cannot take."""
        n = self.name
        if seq.ndim != 2 or target.shape != seq.shape[:1] or lengths.shape != seq.shape[:1]:
            raise ValueError(f"{n}: expected target (B,), sequence (B, L) and lengths (B,), got "
                             f"{tuple(target.shape)}, {tuple(seq.shape)}, {tuple(lengths.shape)}")
        if seq.shape[1] > self.max_len:
            raise ValueError(f"{n}: sequences of length {seq.shape[1]} are longer than max_len="
                             f"{self.max_len}; truncate them to the most recent {self.max_len}")
        for what, t in (("target", target), ("sequence", seq), ("lengths", lengths)):
            if t.dtype != torch.int64:
                raise ValueError(f"{n}: {what} must be int64, got {t.dtype}")
        if seq.numel() and (int(seq.min()) < 0 or int(seq.max()) >= self.num_ids
                            or int(target.min()) < 0 or int(target.max()) >= self.num_ids):
            raise ValueError(f"{n}: ids must lie in [0, {self.num_ids - 1}]")
        if lengths.numel() and (int(lengths.min()) < 0 or int(lengths.max()) > seq.shape[1]):
            raise ValueError(f"{n}: lengths must lie in [0, {seq.shape[1]}] (a negative length or "
                             f"gap has no position), got [{int(lengths.min())}, "
                             f"{int(lengths.max())}]")

    def _parts(self, target: Tensor, seq: Tensor, lengths: Tensor):
        self.check(target, seq, lengths)
        position = relative_positions(lengths, seq.shape[1])  # (B, L)
        real = position >= 1
        e, v = gather(self.embedding, seq), gather(self.embedding, target)  # (B, L, D), (B, D)
        if self.kind == "tim":
            e = e + gather(self.position, position.clamp(min=0))
            v = v + self.position.weight[0]
        return e, v, real

    def attention(self, target: Tensor, seq: Tensor, lengths: Tensor) -> Tensor:
        """``(B, L)`` weights of the behaviours: TIM's softmax (rows sum to 1 over the real
        behaviours, 0 on padding), DIN's unnormalised unit outputs, or ``1 / length``."""
        e, v, real = self._parts(target, seq, lengths)
        return self._weights(e, v, real)

    def _weights(self, e: Tensor, v: Tensor, real: Tensor) -> Tensor:
        if self.kind == "tim":
            scores = (e * v.unsqueeze(1)).sum(-1) / e.shape[-1] ** 0.5  # (B, L)
            weights = scores.masked_fill(~real, float("-inf")).softmax(dim=1)
            return weights.nan_to_num(0.0)  # an empty history: all zeros
        if self.kind == "din":
            vv = v.unsqueeze(1).expand_as(e)
            return self.unit(torch.cat([e, vv, e - vv, e * vv], -1)).squeeze(-1) * real
        return real / real.sum(1, keepdim=True).clamp(min=1)

    def forward(self, target: Tensor, seq: Tensor, lengths: Tensor) -> Tensor:
        e, v, real = self._parts(target, seq, lengths)
        weights = self._weights(e, v, real).unsqueeze(-1)  # (B, L, 1)
        if self.kind == "tim":
            return (weights * e * v.unsqueeze(1)).sum(1)  # Σ α_j (ẽ_j ⊙ ṽ)
        return (weights * e).sum(1)

    def correlation_map(self, target: int, ids, positions) -> Tensor:
        """The learned correlation of behaviour ``ids`` × ``positions`` with ``target``: ``(I, P)``.

        TIM: ``exp(⟨ẽ, ṽ⟩ / √D) · ‖ẽ ⊙ ṽ‖₂`` (RecScope's formula) with ``ẽ = e_id + P[p]``;
        DIN: the activation unit's weight times ``‖e_id‖₂``; mean: ``‖e_id‖₂`` (no target, no
        position). Compare against :func:`minime.analysis.ctc_map` (min-max normalise both).
        """
        with torch.no_grad():
            ids_t = torch.as_tensor(list(ids), dtype=torch.int64, device=self.embedding.weight.device)
            pos = torch.as_tensor(list(positions), dtype=torch.int64, device=ids_t.device)
            e = self.embedding(ids_t)[:, None, :].expand(-1, len(pos), -1)  # (I, P, D)
            v = self.embedding.weight[target]
            if self.kind == "tim":
                e, v = e + self.position(pos)[None], v + self.position.weight[0]
                return torch.exp((e * v).sum(-1) / e.shape[-1] ** 0.5) * (e * v).norm(dim=-1)
            if self.kind == "din":
                vv = v.expand_as(e)
                return self.unit(torch.cat([e, vv, e - vv, e * vv], -1)).squeeze(-1) * e.norm(dim=-1)
            return e.norm(dim=-1)

    def extra_repr(self) -> str:
        return f"name={self.name!r}, kind={self.kind!r}, num_ids={self.num_ids}, max_len={self.max_len}"
