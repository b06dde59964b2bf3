"""Hyper-parameters of the CTR models: one frozen dataclass and named presets.

Example:
    >>> CTRConfig.preset("paper").hidden_units
    (400, 400)
    >>> CTRConfig.preset("small", embedding_dim=8).embedding_dim
    8
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from functools import partial
from types import MappingProxyType
from typing import Callable, ClassVar, Mapping, Optional

from torch import Tensor, nn

__all__ = ["CRITEO_VOCABULARY", "CRITEO_XAVIER_BOUND", "CTRConfig", "PRESETS", "Presets",
           "from_presets", "resolve", "resolve_config"]


class Presets:
    """Mixin of the frozen configs: ``Config.preset(name, **overrides)`` from ``Config.presets``.

    Example:
        >>> CTRConfig.preset("small", dropout=0.1).dropout
        0.1
    """

    presets: ClassVar[Mapping] = MappingProxyType({})  # set beside each config's named presets

    @classmethod
    def preset(cls, name: str, **overrides):
        """A named preset of ``cls.presets``, with some fields overridden."""
        return from_presets(cls.presets, name, **overrides)


@dataclass(frozen=True)
class CTRConfig(Presets):
    """Sizes of an embedding + interaction + MLP model (single- or multi-embedding).

    Build one with keywords, or from a preset: ``CTRConfig.preset("paper", dropout=0.0)``.
    """

    embedding_dim: int = 16  # D: width of every field's embedding (per set for multi-embedding)
    hidden_units: tuple[int, ...] = (256, 128)  # MLP widths after the interaction
    dropout: float = 0.0  # dropout after every hidden activation
    batch_norm: bool = False  # BatchNorm1d after every hidden Linear
    num_cross_layers: int = 3  # DCNv2: number of cross layers L
    low_rank: Optional[int] = None  # DCNv2: rank of each W_l = U Vᵀ; None = full rank
    embedding_init: Optional[Callable[[Tensor], object]] = None  # None = xavier_uniform_
    sparse_embedding: bool = False  # sparse gradients (torch.optim.SparseAdam) for tables

    def __post_init__(self):
        object.__setattr__(self, "hidden_units", tuple(int(u) for u in self.hidden_units))
        if self.embedding_dim < 1 or min(self.hidden_units, default=1) < 1:
            raise ValueError(f"embedding_dim and hidden_units must be positive: {self}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.num_cross_layers < 0 or (self.low_rank is not None and self.low_rank < 1):
            raise ValueError(f"num_cross_layers >= 0 and low_rank >= 1 (or None): {self}")



#: Criteo's vocabulary under Guo et al.'s preprocessing (39 fields, min count 10, OOV buckets).
CRITEO_VOCABULARY = 1_086_810
#: The bound of xavier-uniform over a (CRITEO_VOCABULARY, 10) table: the scale Guo et al.'s tables
#: start at (std bound / √3 ≈ 1.36e-3). Xavier over a small vocabulary starts far larger.
CRITEO_XAVIER_BOUND = math.sqrt(6.0 / (CRITEO_VOCABULARY + 10))

#: Named configurations. ``paper`` is the official multi-embedding code's setting
#: (thuml/Multi-Embedding ``main.py``: embed 10, MLP (400, 400), 4 cross layers, BN, dropout 0.2),
#: its tables drawn at the scale its xavier init gives on Criteo, whatever this world's vocabulary.
PRESETS: MappingProxyType = MappingProxyType({
    "default": CTRConfig(),
    "paper": CTRConfig(embedding_dim=10, hidden_units=(400, 400), num_cross_layers=4,
                       batch_norm=True, dropout=0.2,
                       embedding_init=partial(nn.init.uniform_, a=-CRITEO_XAVIER_BOUND,
                                              b=CRITEO_XAVIER_BOUND)),
    "small": CTRConfig(embedding_dim=4, hidden_units=(16, 8), num_cross_layers=2),  # CI, tests
})
CTRConfig.presets = PRESETS  # what CTRConfig.preset reads


def from_presets(presets, name: str, **overrides):
    """Preset ``name`` of ``presets`` with some fields replaced; a clear error for unknown names."""
    if name not in presets:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(presets)}")
    return dataclasses.replace(presets[name], **overrides)


def resolve(config, presets, kind: type):
    """``None`` -> ``presets["default"]``, a string -> that preset, a ``kind`` -> itself."""
    if config is None:
        return presets["default"]
    if isinstance(config, str):
        return from_presets(presets, config)
    if not isinstance(config, kind):
        raise TypeError(f"config must be a {kind.__name__}, a preset name or None, got {config!r}")
    return config


def resolve_config(config: CTRConfig | str | None) -> CTRConfig:
    """``None`` -> the default config, a string -> that preset, a ``CTRConfig`` -> itself."""
    return resolve(config, PRESETS, CTRConfig)
