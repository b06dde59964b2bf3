"""Plug an encoder into a model as one of its fields.

A model's embedding table (:class:`~minime.embedding.FusedEmbedding` or
:class:`~minime.embedding.MultiEmbedding`) looks every field up by id. :func:`encode_field` gives
one field an encoder instead: the field's column of the batch (int64 values, e.g. an age, a
bucketised price, a HashID or a similarity bucket) goes through the encoder, whose
``(B, width)`` output takes the place of the looked-up row in every embedding set (a
MultiEmbedding's ``width`` is ``sum(dims)``, split into its sets as usual).
:func:`encode_sequence` does the same for a behaviour history spread over several columns (the
slots and the length, as :func:`minime.data.make_encoding_world` lays them out): the pooled
history takes the length column's place and the slot columns contribute zeros, so a model sees
one history field whatever the history's length. The encoded fields' own table rows stay in the
table, unused; the id checks still apply (values ``0 .. V_f − 1``).

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

from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["Recoded", "encode_field", "encode_sequence", "silence_field"]


class _Column(nn.Module):
    """One column of the ids through an encoder: ``(B, F) -> (B, width)``."""

    def __init__(self, field: int, encoder: nn.Module):
        super().__init__()
        self.field, self.encoder = field, encoder

    def forward(self, ids: Tensor) -> Tensor:
        return self.encoder(ids[:, self.field])


class _History(nn.Module):
    """Target, slots and length columns through a :class:`~minime.encoders.TargetAttention`."""

    def __init__(self, attention: nn.Module, target: int, slots: Sequence[int], length: int):
        super().__init__()
        self.attention, self.target, self.slots, self.length = attention, target, list(slots), length

    def forward(self, ids: Tensor) -> Tensor:
        return self.attention(ids[:, self.target], ids[:, self.slots], ids[:, self.length])


class _Zeros(nn.Module):
    """A field that contributes nothing: ``(B, F) -> (B, width)`` zeros."""

    def __init__(self, width: int):
        super().__init__()
        self.width = width

    def forward(self, ids: Tensor) -> Tensor:
        return torch.zeros(len(ids), self.width, device=ids.device)


class Recoded(nn.Module):
    """Ids through a fixed code book, then an encoder: ``(B,)`` ids -> ``encoder(codes[ids])``.

    E.g. an ad's id to its visual HashID (``codes = HashID(...)(visual_vectors)``), then MNSE over
    the code, so that :func:`encode_field` can give the ad-id field its HashID encoding.

    Args:
        codes: ``(V,)`` int64, the code of every id ``0 .. V − 1``.
        encoder: takes the codes, e.g. ``MNSE(max_value=hashid.max_value, ...)``.

    Example:
        >>> from minime.encoders import MNSE
        >>> enc = Recoded(torch.tensor([5, 5, 2]), MNSE(7, 3, bases=(2,)))
        >>> torch.equal(enc(torch.tensor([0, 1])), enc.encoder(torch.tensor([5, 5]))), enc.max_value
        (True, 2)
    """

    def __init__(self, codes: Tensor, encoder: nn.Module):
        super().__init__()
        if codes.dtype != torch.int64 or codes.ndim != 1:
            raise ValueError(f"codes must be a (V,) int64 tensor, got {codes.dtype} "
                             f"{tuple(codes.shape)}")
        self.register_buffer("codes", codes.clone())
        self.encoder = encoder
        self.output_dim, self.max_value = encoder.output_dim, len(codes) - 1

    def forward(self, ids: Tensor) -> Tensor:
        return self.encoder(self.codes[ids])


def _checked(embedding: nn.Module, field, encoder: nn.Module) -> int:
    if not hasattr(embedding, "field_encoders"):
        raise TypeError(f"{type(embedding).__name__} has no field encoders: pass a model's "
                        "FusedEmbedding or MultiEmbedding (model.embedding)")
    index, width = embedding.field_index(field), sum(embedding.dims)
    out = getattr(encoder, "output_dim", None)
    if out != width:
        raise ValueError(f"field {field!r}: the encoder's output_dim is {out}, the table's width "
                         f"is {width}; build the encoder with that width (MNSE: embedding_dim = "
                         f"{width} with combine='sum', or {width} // len(bases) with 'concat')")
    return index


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
    index = _checked(embedding, field, encoder)
    max_value = getattr(encoder, "max_value", None)
    if max_value is not None and max_value != embedding.field_dims[index] - 1:
        raise ValueError(f"field {field!r} has cardinality {embedding.field_dims[index]} but "
                         f"the encoder takes values 0..{max_value}: make them agree")
    embedding.field_encoders[str(index)] = _Column(index, encoder)
    return encoder


def encode_sequence(embedding: nn.Module, attention: nn.Module, *, target: int | str,
                    slots: Sequence[int | str], length: int | str) -> nn.Module:
    """Make ``embedding`` pool a history with ``attention`` into the ``length`` field's place.

    Args:
        embedding: a model's table (``model.embedding``).
        attention: a :class:`~minime.encoders.TargetAttention` whose ``output_dim`` is the
            table's width and whose ids cover the slot fields' (padding included).
        target: the field of the target's id (e.g. the ad's ``category``).
        slots: the history's fields, oldest slot first (``seq_0 .. seq_{L−1}``).
        length: the field of the history's length; the pooled history goes in its place, and
            every slot field contributes zeros.

    Returns:
        ``attention``, now a submodule of ``embedding``.
    """
    index = _checked(embedding, length, attention)
    slot_index = [embedding.field_index(f) for f in slots]
    too_many = [embedding.field_dims[i] for i in slot_index if embedding.field_dims[i] >
                attention.num_ids]
    if too_many or len(slot_index) > attention.max_len:
        raise ValueError(f"history fields: {len(slot_index)} slots with up to "
                         f"{max(embedding.field_dims[i] for i in slot_index)} ids, but the "
                         f"attention takes max_len={attention.max_len} and {attention.num_ids} ids")
    embedding.field_encoders[str(index)] = _History(attention, embedding.field_index(target),
                                                    slot_index, index)
    for i in slot_index:
        embedding.field_encoders[str(i)] = _Zeros(sum(embedding.dims))
    return attention


def silence_field(embedding: nn.Module, field: int | str) -> None:
    """Make ``field`` contribute zeros: the model keeps its shape and learns nothing from it.

    The baseline "feed nothing" of a comparison (e.g. no pre-trained similarity), without
    building a model on other columns.
    """
    index = embedding.field_index(field)
    embedding.field_encoders[str(index)] = _Zeros(sum(embedding.dims))
