"""Pre-trained embeddings across a semantic gap: Similarity Encoding.

A GNN's or a language model's user and item vectors live in a geometry of their own (cosine
distances, not a ranker's inner products), so feeding them raw makes the ranker learn that
geometry again. P1 instead computes one number per (user, item) pair, the cosine similarity of the
two pre-trained vectors, and feeds it as an ordinal feature through MNSE. How the cosine is made
an integer was not published: here uniform buckets of ``[−1, 1]``.

Example:
    >>> enc = SimilarityEncoding(num_buckets=20, embedding_dim=4)
    >>> u, v = torch.randn(3, 16), torch.randn(3, 16)
    >>> enc(u, v).shape, similarity_buckets(u, u, 20).tolist()
    (torch.Size([3, 8]), [19, 19, 19])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from minime.encoders.numeric import MNSE, bucketize

__all__ = ["SimilarityEncoding", "similarity_buckets"]


def similarity_buckets(user: Tensor, item: Tensor, num_buckets: int, *,
                       name: str = "similarity") -> Tensor:
    """Cosine similarity of paired rows ``(B, d), (B, d)``, bucketised: ``(B,)`` int64 in ``[0, num_buckets)``.

    A zero vector has no direction: the error names the row (and NaN rows likewise).
    """
    if user.shape != item.shape or user.ndim != 2:
        raise ValueError(f"{name}: expected two (B, d) tensors of one shape, got "
                         f"{tuple(user.shape)} and {tuple(item.shape)}")
    for side, x in (("user", user), ("item", item)):
        norm = x.norm(dim=1)
        bad = ~(norm > 0)  # zero or NaN
        if bool(bad.any()):
            raise ValueError(f"{name}: {int(bad.sum())} {side} vector(s) of zero or NaN norm, "
                             f"first row {int(bad.nonzero()[0])}")
    cosine = torch.nn.functional.cosine_similarity(user.double(), item.double(), dim=1)
    return bucketize(cosine, -1.0, 1.0, num_buckets, name=name)


class SimilarityEncoding(nn.Module):
    """``cos(user, item)`` bucketised, then :class:`~minime.encoders.MNSE`: ``(B, d), (B, d) -> (B, output_dim)``.

    Args:
        num_buckets: uniform buckets of the cosine on ``[−1, 1]``.
        embedding_dim: width ``D`` of MNSE's rows.
        bases, combine: as :class:`~minime.encoders.MNSE`.
        name: the feature's name, for error messages.
    """

    def __init__(self, num_buckets: int, embedding_dim: int, bases: Sequence[int] = (2, 3),
                 combine: str = "concat", name: str = "similarity"):
        super().__init__()
        self.num_buckets, self.name = num_buckets, name
        self.mnse = MNSE(num_buckets - 1, embedding_dim, bases, combine, name=name)
        self.output_dim = self.mnse.output_dim

    def forward(self, user: Tensor, item: Tensor) -> Tensor:
        return self.mnse(similarity_buckets(user, item, self.num_buckets, name=self.name))
