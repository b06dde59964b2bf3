"""Feature encoders that keep a feature's prior: order (MNSE), visual neighbourhoods (HashID),
a pre-trained geometry (Similarity Encoding), the semantic and temporal relation of a history to
the target (TIM) — P1 §3.1.

Submodules: ``numeric`` (:class:`MNSE`, digits, :func:`bucketize`), ``hashing`` (:class:`HashID`,
random-hyperplane LSH; :func:`hamming`), ``similarity`` (:class:`SimilarityEncoding`), ``sequence``
(:class:`TargetAttention`: TIM, DIN-style attention, mean pooling of a history), ``fields``
(:func:`encode_field`, :func:`encode_sequence`: a model's field encoded by one of them
instead of looked up by id).

Example:
    >>> from minime import encoders
    >>> encoders.MNSE(99, 4)(torch.tensor([51])).shape
    torch.Size([1, 8])
"""

import torch

from minime.encoders.fields import Recoded, encode_field, encode_sequence, silence_field
from minime.encoders.hashing import HashID, hamming
from minime.encoders.numeric import MNSE, bucketize, digits, num_digits
from minime.encoders.sequence import KINDS, TargetAttention, relative_positions
from minime.encoders.similarity import SimilarityEncoding, similarity_buckets

__all__ = ["HashID", "KINDS", "MNSE", "Recoded", "SimilarityEncoding", "TargetAttention", "bucketize",
           "digits", "encode_field", "encode_sequence", "hamming", "num_digits", "relative_positions",
           "silence_field", "similarity_buckets"]
