"""Feature encoders that keep a feature's prior: order (MNSE), visual neighbourhoods (HashID),
a pre-trained geometry (Similarity Encoding) — P1 §3.1.

Submodules: ``numeric`` (:class:`MNSE`, digits, :func:`bucketize`), ``hashing`` (:class:`HashID`,
random-hyperplane LSH; :func:`hamming`), ``similarity`` (:class:`SimilarityEncoding`), ``fields``
(:func:`encode_field`: a model's field encoded by one of them instead of looked up by id).

Example:
    >>> from minime import encoders
    >>> encoders.MNSE(99, 4)(torch.tensor([51])).shape
    torch.Size([1, 8])
"""

import torch

from minime.encoders.fields import encode_field
from minime.encoders.hashing import HashID, hamming
from minime.encoders.numeric import MNSE, bucketize, digits, num_digits
from minime.encoders.similarity import SimilarityEncoding, similarity_buckets

__all__ = ["HashID", "MNSE", "SimilarityEncoding", "bucketize", "digits", "encode_field",
           "hamming", "num_digits", "similarity_buckets"]
