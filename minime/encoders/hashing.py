"""Visual semantic HashIDs: dense vectors to integer codes that keep their neighbourhoods.

P1 replaces meaningless, self-incremented ad ids by codes of the ads' creatives: a vision
model's embedding, hashed by locality-sensitive hashing so that similar ads get codes at a small
Hamming distance, then encoded as a numeric feature with MNSE. The vision model, code length and
LSH family were not published; here the LSH is random-hyperplane hashing (SimHash): bit ``k`` of
a vector ``x`` is ``[⟨r_k, x⟩ ≥ 0]`` for a fixed Gaussian ``r_k``, so two vectors at angle ``θ``
differ in each bit with probability ``θ / π``. The bits read as a binary number are the HashID,
and binary MNSE over it gives each (bit position, bit value) a row: near vectors share most rows.

Example:
    >>> lsh = HashID(input_dim=8, num_bits=12, seed=0)
    >>> x = torch.randn(5, 8)
    >>> codes = lsh(x)
    >>> codes.dtype, bool((codes >= 0).all() and (codes < 2 ** 12).all()), lsh.max_value
    (torch.int64, True, 4095)
    >>> bool((hamming(lsh(x), lsh(1.01 * x)) == 0).all())  # a hash of directions
    True
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["HashID", "hamming"]


class HashID(nn.Module):
    """Random-hyperplane LSH of ``(N, input_dim)`` float vectors into ``num_bits``-bit int64 codes.

    Args:
        input_dim: width of the vectors (e.g. a vision model's embedding).
        num_bits: bits per code (at most 62, so that codes stay non-negative int64).
        seed: seed of the hyperplanes (a CPU generator: the same seed, the same codes anywhere).
        name: the feature's name, for error messages.

    Attributes: ``planes`` ``(input_dim, num_bits)`` buffer; ``max_value`` = ``2**num_bits − 1``
    (what an :class:`~minime.encoders.MNSE` over the codes needs).
    """

    def __init__(self, input_dim: int, num_bits: int = 16, *, seed: int = 0,
                 name: str = "vector"):
        super().__init__()
        if not 1 <= num_bits <= 62:
            raise ValueError(f"num_bits must be in [1, 62], got {num_bits}")
        generator = torch.Generator().manual_seed(seed)
        self.register_buffer("planes", torch.randn(input_dim, num_bits, generator=generator))
        self.input_dim, self.num_bits, self.name = input_dim, num_bits, name
        self.max_value = 2 ** num_bits - 1

    def bits(self, vectors: Tensor) -> Tensor:
        """``(N, input_dim)`` -> ``(N, num_bits)`` int64 bits, bit ``k`` = ``[⟨r_k, x⟩ ≥ 0]``."""
        if vectors.ndim != 2 or vectors.shape[1] != self.input_dim:
            raise ValueError(f"{self.name}: expected (N, {self.input_dim}) vectors, got "
                             f"{tuple(vectors.shape)}")
        if not torch.is_floating_point(vectors):
            raise TypeError(f"{self.name}: vectors must be floating point, got {vectors.dtype}")
        bad = ~torch.isfinite(vectors).all(dim=1)
        if bool(bad.any()):
            raise ValueError(f"{self.name}: {int(bad.sum())} row(s) with NaN or inf, first row "
                             f"{int(bad.nonzero()[0])}")
        return (vectors.to(self.planes.dtype) @ self.planes >= 0).to(torch.int64)

    def forward(self, vectors: Tensor) -> Tensor:
        """``(N, input_dim)`` -> ``(N,)`` int64 codes in ``[0, 2**num_bits)``, bit ``k`` worth ``2**k``."""
        weights = 2 ** torch.arange(self.num_bits, device=vectors.device, dtype=torch.int64)
        return (self.bits(vectors) * weights).sum(dim=1)

    def extra_repr(self) -> str:
        return f"name={self.name!r}, input_dim={self.input_dim}, num_bits={self.num_bits}"


def hamming(a: Tensor, b: Tensor) -> Tensor:
    """Bits in which int64 codes ``a`` and ``b`` differ, elementwise (non-negative codes).

    Example:
        >>> hamming(torch.tensor([0b1011, 5]), torch.tensor([0b0010, 5])).tolist()
        [2, 0]
    """
    x, count = torch.bitwise_xor(a, b), torch.zeros_like(a)
    while bool((x != 0).any()):
        count += x & 1
        x = x >> 1
    return count
