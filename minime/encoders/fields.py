"""Plug an encoder into a model as one of its fields.

A model's embedding table (:class:`~minime.embedding.FusedEmbedding` or
:class:`~minime.embedding.MultiEmbedding`) looks every field up by id. :func:`encode_field` gives
one field an encoder instead: the field's column of the batch (int64 values, e.g. an age, a
bucketised price, a HashID or a similarity bucket) goes through the encoder, whose
``(B, width)`` output takes the place of the looked-up row in every embedding set (a
MultiEmbedding's ``width`` is ``sum(dims)``, split into its sets as usual). The field's own
table rows stay in the table, unused; the id check still applies (values ``0 .. V_f − 1``).

Example:
    >>> from minime.embedding import FusedEmbedding
    >>> from minime.encoders import MNSE
    >>> emb = FusedEmbedding([5, 100], 4, field_names=["gender", "age"])
    >>> mnse = encode_field(emb, "age", MNSE(99, 4, combine="sum"))
    >>> out = emb(torch.tensor([[1, 51], [1, 50]]))
    >>> out.shape, torch.equal(out[:, 1], mnse(torch.tensor([51, 50])))
    (torch.Size([2, 2, 4]), True)
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["encode_field"]


def encode_field(embedding: nn.Module, field: int | str, encoder: nn.Module) -> nn.Module:
    """Make ``embedding`` encode ``field`` with ``encoder`` (``(B,)`` int64 -> ``(B, width)``).

    Args:
        embedding: a model's table (``model.embedding``), a FusedEmbedding or MultiEmbedding.
        field: the field, by index or by name.
        encoder: e.g. :class:`~minime.encoders.MNSE`; its ``output_dim`` must equal the table's
            width (``sum(embedding.dims)``).

    Returns:
        ``encoder``, now a submodule of ``embedding`` (its parameters train with the model).
    """
    if not hasattr(embedding, "field_encoders"):
        raise TypeError(f"{type(embedding).__name__} has no field encoders: pass a model's "
                        "FusedEmbedding or MultiEmbedding (model.embedding)")
    index = embedding.field_index(field)
    width = sum(embedding.dims)
    out = getattr(encoder, "output_dim", None)
    if out != width:
        raise ValueError(f"field {field!r}: the encoder's output_dim is {out}, the table's width "
                         f"is {width}; build the encoder with that width (MNSE: embedding_dim = "
                         f"{width} with combine='sum', or {width} // len(bases) with 'concat')")
    max_value = getattr(encoder, "max_value", None)
    if max_value is not None and max_value != embedding.field_dims[index] - 1:
        raise ValueError(f"field {field!r} has cardinality {embedding.field_dims[index]} but "
                         f"the encoder takes values 0..{max_value}: make them agree")
    embedding.field_encoders[str(index)] = encoder
    return encoder
