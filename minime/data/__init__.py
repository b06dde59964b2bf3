"""Data for minime: in-memory batches and the synthetic *collapsed and entangled world*.

* :mod:`minime.data.batches` -- :class:`TensorData`, rows of int64 ids and float labels kept on a
  device and cut into batches by one ``randperm`` per epoch;
* :mod:`minime.data.synthetic` -- :func:`make_world`, a seeded generator with a planted truth
  (configs and presets in :mod:`minime.data.world_config`, the truth in :mod:`minime.data.truth`);
* :mod:`minime.data.encoding_world` -- :func:`make_encoding_world`, chapter 8's world of ordinal
  ages, ad creatives, pre-trained vectors and behaviour histories.

Example:
    >>> from minime import data
    >>> world = data.make_world("tiny", num_rows=200)
    >>> train, valid, test = world.split()
    >>> len(train), len(valid), len(test)
    (160, 20, 20)
"""

from minime.data import batches, synthetic
from minime.data.batches import LABEL_MASK, Batch, Split, TensorData
from minime.data.encoding_world import EncodingWorld, EncodingWorldConfig, make_encoding_world
from minime.data.synthetic import World, make_world
from minime.data.truth import Truth
from minime.data.world_config import PRESETS, FieldSpec, WorldConfig

__all__ = [
    "Batch",
    "EncodingWorld",
    "EncodingWorldConfig",
    "LABEL_MASK",
    "FieldSpec",
    "PRESETS",
    "Split",
    "TensorData",
    "Truth",
    "World",
    "WorldConfig",
    "batches",
    "make_encoding_world",
    "make_world",
    "synthetic",
]
