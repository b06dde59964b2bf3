"""Assembled CTR models returning logits ``(B, T)``, a registry and :func:`build`.

Single-embedding models: :class:`DNN`, :class:`FM`, :class:`FwFM`, :class:`IPNN`,
:class:`DCNv2` and the orthogonality-regularised :class:`RestrictedDCNv2`; sizes come from a
:class:`CTRConfig` (presets in :data:`PRESETS`). Their multi-embedding versions are one class,
:class:`MultiEmbeddingModel` (options in :class:`MEConfig`), registered as ``"me_<name>"`` in
:data:`MULTI_MODELS`; :func:`as_single_embedding` rebuilds a linear ME model as an SE one.
Multi-task models (:class:`SharedBottom`, :class:`MMoE`, :class:`PLE`, :class:`MEMMoE`,
:class:`STEMNet`, and beyond STEM :class:`AMENet`, :class:`STEMALNet`, :class:`MultiScenarioNet`)
take an :class:`MTLConfig` (presets in :data:`MTL_PRESETS`) and are registered in
:data:`MTL_MODELS`. The registries, :func:`build`, :func:`num_parameters` and :func:`predict`
live in :mod:`minime.models.registry`. Files: ``single.py`` and ``restricted.py`` (SE models),
``multi_embedding.py`` and ``linear_me.py`` (ME), ``multi_task.py`` (the base, SharedBottom),
``mixtures.py`` (MMoE, PLE, STEM-Net, ME-MMoE), ``multi_table.py`` (AME, STEM-AL, scenarios).

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

from .config import CRITEO_VOCABULARY, CRITEO_XAVIER_BOUND, PRESETS, CTRConfig, resolve_config
from .linear_me import NOT_FOLDABLE, as_single_embedding, fold_first_layers
from .mtl_config import MTL_PRESETS, MTLConfig, resolve_mtl_config
from .multi_embedding import AGGREGATES, MEConfig, MultiEmbeddingModel
from .multi_table import AMENet, MultiScenarioNet, STEMALNet
from .mixtures import MEMMoE, MMoE, PLE, MixtureModel, STEMNet
from .multi_task import MultiTaskModel, SharedBottom, SingleTask
from .registry import MODELS, MTL_MODELS, MULTI_MODELS, build, device_of, num_parameters, predict
from .restricted import RestrictedDCNv2
from .single import DCNv2, DNN, FM, FwFM, IPNN, LinearTerm, SingleEmbeddingModel

__all__ = [
    "CRITEO_VOCABULARY", "CRITEO_XAVIER_BOUND", "CTRConfig", "PRESETS", "resolve_config", "MODELS", "build", "device_of", "num_parameters",
    "predict",
    "SingleEmbeddingModel", "DNN", "FM", "FwFM", "IPNN", "DCNv2", "LinearTerm",
    "RestrictedDCNv2",
    "MULTI_MODELS", "MEConfig", "MultiEmbeddingModel", "AGGREGATES",
    "as_single_embedding", "fold_first_layers", "NOT_FOLDABLE",
    "MTL_MODELS", "MTLConfig", "MTL_PRESETS", "resolve_mtl_config", "MultiTaskModel",
    "SharedBottom", "SingleTask", "MixtureModel", "MMoE", "PLE", "MEMMoE", "STEMNet",
    "AMENet", "STEMALNet", "MultiScenarioNet",
]
