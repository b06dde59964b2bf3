"""Assembled CTR models returning logits ``(B, T)``, a registry and :func:`build`.

Single-embedding models: :class:`DNN`, :class:`FM`, :class:`FwFM`, :class:`IPNN`,
:class:`DCNv2` and the orthogonality-regularised :class:`RestrictedDCNv2`; sizes come from a
:class:`CTRConfig` (presets in :data:`PRESETS`). Their multi-embedding versions are one class,
:class:`MultiEmbeddingModel` (options in :class:`MEConfig`), registered as ``"me_<name>"`` in
:data:`MULTI_MODELS`; :func:`as_single_embedding` rebuilds a linear ME model as an SE one.
Multi-task models (:class:`SharedBottom`, :class:`MMoE`, :class:`PLE`, :class:`MEMMoE`,
:class:`STEMNet`, and beyond STEM :class:`AMENet`, :class:`STEMALNet`, :class:`MultiScenarioNet`)
take an :class:`MTLConfig` (presets in :data:`MTL_PRESETS`) and are registered in
:data:`MTL_MODELS`.

Example:
    >>> import torch
    >>> from minime import models
    >>> model = models.build("dcnv2", field_dims=[3, 7, 20], config="small", num_tasks=2)
    >>> model(torch.tensor([[0, 6, 19]])).shape
    torch.Size([1, 2])
    >>> me = models.build("me_dcnv2", [3, 7, 20], "small", me=models.MEConfig(num_embeddings=2))
    >>> me.num_embeddings, len(me.cross_nets), me(torch.tensor([[0, 6, 19]])).shape
    (2, 2, torch.Size([1, 1]))
    >>> stem = models.build("stem", [3, 7, 20], "small", num_tasks=2, gate_input="concat")
    >>> stem(torch.tensor([[0, 6, 19]])).shape, type(stem.embedding).__name__
    (torch.Size([1, 2]), 'MultiEmbedding')
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Sequence

from torch import nn

from .config import PRESETS, CTRConfig, resolve_config
from .linear_me import NOT_FOLDABLE, as_single_embedding, fold_first_layers
from .multi import AGGREGATES, MEConfig, MultiEmbeddingModel
from .mtl_config import MTL_PRESETS, MTLConfig, resolve_mtl_config
from .multitable import AMENet, MultiScenarioNet, STEMALNet
from .multitask import MEMMoE, MMoE, PLE, MultiTaskModel, SharedBottom, SingleTask, STEMNet
from .restricted import FieldWeightedCrossNet, RestrictedDCNv2
from .single import DCNv2, DNN, FM, FwFM, IPNN, LinearTerm, SingleEmbeddingModel

__all__ = [
    "CTRConfig", "PRESETS", "resolve_config", "MODELS", "build", "num_parameters",
    "SingleEmbeddingModel", "DNN", "FM", "FwFM", "IPNN", "DCNv2", "LinearTerm",
    "RestrictedDCNv2", "FieldWeightedCrossNet",
    "MULTI_MODELS", "MEConfig", "MultiEmbeddingModel", "AGGREGATES",
    "as_single_embedding", "fold_first_layers", "NOT_FOLDABLE",
    "MTL_MODELS", "MTLConfig", "MTL_PRESETS", "resolve_mtl_config", "MultiTaskModel",
    "SharedBottom", "SingleTask", "MMoE", "PLE", "MEMMoE", "STEMNet",
    "AMENet", "STEMALNet", "MultiScenarioNet",
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

#: Multi-embedding name -> the SE class whose interaction block every set uses:
#: ``"me_dnn"``, ``"me_fm"``, ..., built as ``MultiEmbeddingModel(..., interaction=cls, me=...)``.
MULTI_MODELS: MappingProxyType = MappingProxyType(
    {f"me_{name}": cls for name, cls in MODELS.items()})

#: Multi-task name -> class; every class takes ``(field_dims, config=None, *, num_tasks=1,
#: **options)`` with an :class:`MTLConfig`. Options: ``shared_gate`` (PLE, STEM),
#: ``aftb`` and ``gate_input`` (STEM), ``num_embeddings`` (ME-MMoE), ``dims``, ``gate_input``,
#: ``owners`` and ``aftb`` (AME), ``main_tasks`` (STEM-AL), ``scenario_field`` and ``combine``
#: (multi-scenario).
MTL_MODELS: MappingProxyType = MappingProxyType({
    "single_task": SingleTask,  # SharedBottom with num_tasks=1: train one per task
    "shared_bottom": SharedBottom,
    "mmoe": MMoE,
    "ple": PLE,
    "me_mmoe": MEMMoE,
    "stem": STEMNet,
    "ame": AMENet,
    "stem_al": STEMALNet,
    "multi_scenario": MultiScenarioNet,
})


def num_parameters(module: nn.Module) -> int:
    """The number of parameter entries of ``module`` (e.g. a model, or ``model.embedding``).

    Example:
        >>> num_parameters(nn.Linear(3, 2))  # 3·2 weights + 2 biases
        8
    """
    return sum(p.numel() for p in module.parameters())


def build(name: str, field_dims: Sequence[int], config: CTRConfig | MTLConfig | str | None = None,
          num_tasks: int = 1, **options) -> nn.Module:
    """Build the model registered as ``name`` (single-embedding, multi-embedding or multi-task).

    Args:
        name: a key of :data:`MODELS` (e.g. ``"dcnv2"``), :data:`MULTI_MODELS` (``"me_dcnv2"``)
            or :data:`MTL_MODELS` (``"stem"``).
        field_dims: cardinality of every field.
        config: a :class:`CTRConfig` (:class:`MTLConfig` for multi-task models), a preset
            name, or ``None`` for the default.
        num_tasks: number of logits ``T``.
        **options: passed to the class, e.g. ``me=MEConfig(num_embeddings=2)`` for an ME
            model, ``reg_weight=1e-4`` for ``"restricted_dcnv2"``, ``shared_gate="all"`` for
            ``"ple"``, ``aftb=False`` for ``"stem"``.

    Returns:
        The model; ``model(ids)`` maps ``(B, F)`` ids to ``(B, T)`` logits.
    """
    if name in MULTI_MODELS:
        return MultiEmbeddingModel(field_dims, config, num_tasks=num_tasks,
                                   interaction=MULTI_MODELS[name], **options)
    if name in MTL_MODELS:
        return MTL_MODELS[name](field_dims, config, num_tasks=num_tasks, **options)
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of "
                         f"{', '.join([*MODELS, *MULTI_MODELS, *MTL_MODELS])}")
    return MODELS[name](field_dims, config, num_tasks=num_tasks, **options)
