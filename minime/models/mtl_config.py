"""Hyper-parameters of the multi-task models: one frozen dataclass and named presets.

Example:
    >>> MTLConfig.preset("paper").expert_units
    (512, 512, 512)
    >>> MTLConfig.preset("small", num_levels=2).num_levels
    2
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from types import MappingProxyType
from typing import Callable, Optional

from torch import Tensor, nn

from .config import Presets, resolve

__all__ = ["MTLConfig", "MTL_PRESETS", "resolve_mtl_config"]


@dataclass(frozen=True)
class MTLConfig(Presets):
    """Sizes of the multi-task models (SharedBottom, MMoE, PLE, ME-MMoE, STEM-Net).

    Build one with keywords, or from a preset: ``MTLConfig.preset("paper", num_levels=2)``.
    """

    embedding_dim: int = 16  # D: width of every field's embedding (per set for STEM / ME-MMoE)
    expert_units: tuple[int, ...] = (64, 64)  # every expert's ReLU layers (SharedBottom: bottom)
    num_experts: int = 4  # E of MMoE and ME-MMoE
    num_shared_experts: int = 2  # PLE / STEM: experts on the shared input, per level
    num_specific_experts: int = 1  # PLE / STEM: experts per task, per level
    gate_units: tuple[int, ...] = ()  # every gate's hidden layers; () = one Linear, then softmax
    tower_units: tuple[int, ...] = (32,)  # per-task tower's ReLU layers, then Linear -> 1 logit
    dropout: float = 0.0  # after every hidden ReLU (experts, gates, towers)
    num_levels: int = 1  # PLE / STEM: stacked mixture levels (the others need 1)
    embedding_init: Optional[Callable[[Tensor], object]] = None  # None = xavier_uniform_ per set
    sparse_embedding: bool = False  # sparse gradients (torch.optim.SparseAdam) for the table

    def __post_init__(self):
        for name in ("expert_units", "gate_units", "tower_units"):
            object.__setattr__(self, name, tuple(int(u) for u in getattr(self, name)))
        if self.embedding_dim < 1 or not self.expert_units:
            raise ValueError(f"embedding_dim must be positive and expert_units non-empty: {self}")
        if min(self.expert_units + self.gate_units + self.tower_units) < 1:
            raise ValueError(f"expert_units, gate_units and tower_units must be positive: {self}")
        if self.num_experts < 1 or self.num_levels < 1:
            raise ValueError(f"num_experts and num_levels must be at least 1: {self}")
        if min(self.num_shared_experts, self.num_specific_experts) < 0 or \
                self.num_shared_experts + self.num_specific_experts < 1:
            raise ValueError("num_shared_experts and num_specific_experts must be >= 0 and not "
                             f"both 0: {self}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


#: Named configurations. ``default``: the CPU prototype's sizes (experts MLP(64, 64), towers
#: MLP(32), MMoE 4 experts, PLE / STEM 2 shared + 1 specific). ``paper``: the official STEM
#: code's ``model_config.yaml`` (experts (512, 512, 512), MMoE 8 experts, PLE / STEM 8 shared +
#: 1 specific, gates (128, 64), towers (128, 64), embeddings N(0, 1e-4²) as FuxiCTR).
#: ``small``: tests and doctests.
MTL_PRESETS: MappingProxyType = MappingProxyType({
    "default": MTLConfig(),
    "paper": MTLConfig(expert_units=(512, 512, 512), num_experts=8, num_shared_experts=8,
                       num_specific_experts=1, gate_units=(128, 64), tower_units=(128, 64),
                       embedding_init=partial(nn.init.normal_, std=1e-4)),
    "small": MTLConfig(embedding_dim=4, expert_units=(8,), num_experts=3, tower_units=(4,)),
})
MTLConfig.presets = MTL_PRESETS  # what MTLConfig.preset reads


def resolve_mtl_config(config: MTLConfig | str | None) -> MTLConfig:
    """``None`` -> the default config, a string -> that preset, an ``MTLConfig`` -> itself."""
    return resolve(config, MTL_PRESETS, MTLConfig)
