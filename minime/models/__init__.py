"""Assembled CTR models returning logits ``(B, T)``, a registry and :func:`build`.

Single-embedding models: :class:`DNN`, :class:`FM`, :class:`FwFM`, :class:`IPNN`,
:class:`DCNv2` and the orthogonality-regularised :class:`RestrictedDCNv2`; sizes come from a
:class:`CTRConfig` (presets in :data:`PRESETS`).

Example:
    >>> import torch
    >>> from minime import models
    >>> model = models.build("dcnv2", field_dims=[3, 7, 20], config="small", num_tasks=2)
    >>> model(torch.tensor([[0, 6, 19]])).shape
    torch.Size([1, 2])
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Sequence

from torch import nn

from .config import PRESETS, CTRConfig, resolve_config
from .restricted import FieldWeightedCrossNet, RestrictedDCNv2
from .single import DCNv2, DNN, FM, FwFM, IPNN, LinearTerm, SingleEmbeddingModel

__all__ = [
    "CTRConfig", "PRESETS", "resolve_config", "MODELS", "build",
    "SingleEmbeddingModel", "DNN", "FM", "FwFM", "IPNN", "DCNv2", "LinearTerm",
    "RestrictedDCNv2", "FieldWeightedCrossNet",
]

#: Model name -> class; every class takes ``(field_dims, config=None, *, num_tasks=1)``.
MODELS: MappingProxyType = MappingProxyType({
    "dnn": DNN,
    "fm": FM,
    "fwfm": FwFM,
    "ipnn": IPNN,
    "dcnv2": DCNv2,
    "restricted_dcnv2": RestrictedDCNv2,  # build() gives the default reg_weight = 1e-5
})


def build(name: str, field_dims: Sequence[int], config: CTRConfig | str | None = None,
          num_tasks: int = 1) -> nn.Module:
    """Build the model registered as ``name`` (see :data:`MODELS`).

    Args:
        name: a key of :data:`MODELS`, e.g. ``"dcnv2"``.
        field_dims: cardinality of every field.
        config: a :class:`CTRConfig`, a preset name, or ``None`` for the default.
        num_tasks: number of logits ``T``.

    Returns:
        The model; ``model(ids)`` maps ``(B, F)`` ids to ``(B, T)`` logits.
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name](field_dims, config, num_tasks=num_tasks)
