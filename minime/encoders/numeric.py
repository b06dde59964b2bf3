"""Numeric features with their order kept: Multiple Numeral Systems Encoding (MNSE).

An ordinal value ``v`` (an age, a price bucket, a HashID, a similarity bucket) is written in
several bases; each (base ``b``, digit position ``k``, digit ``d``) owns one learnable row
``X_b[k·b + d]`` — *position-aware*, so a 1 in position 3 is not a 1 in position 5 — and a base's
rows are summed over positions (P1 §3.1, "MNS"). Two nearby values share most of their digits,
hence most of their rows: 50 and 51 differ in one of six binary digits, 51 and 60 in four. A value
never seen in training is still the sum of rows that other values trained.

Across bases the paper's formula sums and its authors' slides concatenate: ``combine`` says which.
One table per base: with a single shared table the index ``b·k + d`` of different bases would
collide.

Example:
    >>> digits(torch.tensor([51]), base=2, num_digits=6).tolist()  # least significant first
    [[1, 1, 0, 0, 1, 1]]
    >>> MNSE(max_value=99, embedding_dim=4)(torch.tensor([50, 51])).shape
    torch.Size([2, 8])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from minime.embedding import gather

__all__ = ["MNSE", "bucketize", "digits", "num_digits"]


def num_digits(max_value: int, base: int) -> int:
    """Digits base ``base`` needs for every value in ``[0, max_value]`` (at least one).

    Example:
        >>> num_digits(63, 2), num_digits(64, 2), num_digits(63, 3), num_digits(0, 10)
        (6, 7, 4, 1)
    """
    if base < 2:
        raise ValueError(f"base must be >= 2, got {base}")
    if max_value < 0:
        raise ValueError(f"max_value must be >= 0, got {max_value}")
    count, reach = 1, base
    while reach <= max_value:  # exact in integers (a float log would misjudge powers of the base)
        count, reach = count + 1, reach * base
    return count


def digits(values: Tensor, base: int, num_digits: int) -> Tensor:
    """Base-``base`` digits of non-negative int64 ``values``: ``(...,) -> (..., num_digits)``.

    Position 0 is the least significant digit; values are padded with leading zeros.
    """
    powers = base ** torch.arange(num_digits, device=values.device, dtype=torch.int64)
    return torch.div(values.unsqueeze(-1), powers, rounding_mode="floor") % base


def bucketize(x: Tensor, low: float, high: float, num_buckets: int, *,
              name: str = "value") -> Tensor:
    """Uniform buckets of ``[low, high]``: float ``(...,)`` -> int64 ``(...,)`` in ``[0, num_buckets)``.

    Values outside the range go to the first or last bucket; NaN is refused with an error that
    names ``name`` (a NaN has no order to keep).

    Example:
        >>> bucketize(torch.tensor([-1.0, 0.0, 0.99, 1.0]), -1, 1, 20).tolist()
        [0, 10, 19, 19]
    """
    if not torch.is_floating_point(x):
        raise TypeError(f"{name}: bucketize takes floating-point values, got {x.dtype}")
    if num_buckets < 1 or not high > low:
        raise ValueError(f"{name}: need num_buckets >= 1 and high > low, got {num_buckets}, "
                         f"[{low}, {high}]")
    bad = torch.isnan(x)
    if bool(bad.any()):
        raise ValueError(f"{name}: {int(bad.sum())} NaN value(s), first at flat index "
                         f"{int(bad.flatten().nonzero()[0])}; impute or drop them first")
    scaled = (x.double() - low) / (high - low) * num_buckets
    return scaled.floor().clamp_(0, num_buckets - 1).to(torch.int64)


class MNSE(nn.Module):
    """Multiple Numeral Systems Encoding of integers in ``[0, max_value]``.

    Args:
        max_value: the largest value the feature may take (it fixes each base's digit count).
        embedding_dim: width ``D`` of every row.
        bases: the numeral systems, e.g. ``(2, 3)`` (the paper's example).
        combine: ``"concat"`` (output ``D·len(bases)``, the slides) or ``"sum"`` (output ``D``,
            the paper's formula) across bases.
        name: the feature's name, for error messages.

    Attributes: ``tables`` one ``nn.Embedding(K_b·b, D)`` per base, ``num_digits`` the ``K_b``.

    Returns:
        int64 ``(...,) -> (..., output_dim)``; bad values (negative, above ``max_value``,
        not integer) raise a ValueError naming the feature.

    Example:
        >>> enc = MNSE(99, 4, bases=(2, 3), combine="sum")
        >>> enc(torch.tensor([[7, 8]])).shape, enc.num_digits, enc.output_dim
        (torch.Size([1, 2, 4]), (7, 5), 4)
    """

    def __init__(self, max_value: int, embedding_dim: int, bases: Sequence[int] = (2, 3),
                 combine: str = "concat", name: str = "value"):
        super().__init__()
        if combine not in ("concat", "sum"):
            raise ValueError(f"combine must be 'concat' or 'sum', got {combine!r}")
        if not bases or len(set(bases)) != len(bases):
            raise ValueError(f"bases must be distinct and non-empty, got {tuple(bases)}")
        self.max_value, self.bases, self.combine, self.name = max_value, tuple(bases), combine, name
        self.num_digits = tuple(num_digits(max_value, b) for b in self.bases)
        self.tables = nn.ModuleList(nn.Embedding(k * b, embedding_dim)
                                    for b, k in zip(self.bases, self.num_digits))
        for table in self.tables:  # the rows of a value are summed over K_b positions
            nn.init.normal_(table.weight, std=1 / embedding_dim ** 0.5)
        self.output_dim = embedding_dim * (len(self.bases) if combine == "concat" else 1)

    def indices(self, values: Tensor) -> list[Tensor]:
        """Per base, the rows ``k·b + d_k`` of every value: ``(...,) -> (..., K_b)`` int64."""
        self._check(values)
        return [torch.arange(k, device=values.device) * b + digits(values, b, k)
                for b, k in zip(self.bases, self.num_digits)]

    def forward(self, values: Tensor) -> Tensor:
        pooled = [gather(table, index).sum(dim=-2) for table, index in zip(self.tables,
                                                                    self.indices(values))]
        return torch.cat(pooled, dim=-1) if self.combine == "concat" else torch.stack(pooled).sum(0)

    def _check(self, values: Tensor) -> None:
        if values.dtype != torch.int64:
            raise ValueError(f"{self.name}: MNSE takes int64 values, got {values.dtype} "
                             "(bucketize floats first: minime.encoders.bucketize)")
        if values.numel() and (int(values.min()) < 0 or int(values.max()) > self.max_value):
            raise ValueError(f"{self.name}: values must lie in [0, {self.max_value}], got "
                             f"[{int(values.min())}, {int(values.max())}]")

    def extra_repr(self) -> str:
        return (f"name={self.name!r}, max_value={self.max_value}, bases={self.bases}, "
                f"num_digits={self.num_digits}, combine={self.combine!r}")
