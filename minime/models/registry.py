"""The model registries, :func:`build`, and what every model shares: parameter counts, predictions.

Example:
    >>> import torch
    >>> model = build("fm", [3, 5], "small", num_tasks=2)
    >>> num_parameters(model) > 0, tuple(model(torch.tensor([[0, 4]])).shape)
    (True, (1, 2))
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Sequence

import torch
from torch import nn

from minime.data import TensorData

from .config import CTRConfig
from .mtl_config import MTLConfig
from .multi_embedding import MultiEmbeddingModel
from .multi_table import AMENet, MultiScenarioNet, STEMALNet
from .mixtures import MEMMoE, MMoE, PLE, STEMNet
from .multi_task import SharedBottom, SingleTask
from .restricted import RestrictedDCNv2
from .single import DCNv2, DNN, FM, FwFM, IPNN

__all__ = ["MODELS", "MTL_MODELS", "MULTI_MODELS", "build", "device_of", "num_parameters",
           "predict"]

#: Model name -> class; every class takes ``(field_dims, config=None, *, num_tasks=1)``.
MODELS: MappingProxyType = MappingProxyType({  # restricted_dcnv2: default reg_weight = 1e-5
    cls.name: cls for cls in (DNN, FM, FwFM, IPNN, DCNv2, RestrictedDCNv2)})

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


def predict(model: nn.Module, data: TensorData, *, batch_size: int = 16384) -> torch.Tensor:
    """Logits of ``model`` on every row of ``data``, in order: ``(N, T)`` float32 on the CPU.

    Runs in eval mode on the model's device (the model's mode is restored after).

    Example:
        >>> from minime import data
        >>> world = data.make_world("tiny", seed=0)
        >>> model = build("dnn", world.field_dims, "small", num_tasks=world.num_tasks)
        >>> predict(model, world.data).shape == (len(world.data), world.num_tasks)
        True
    """
    was_training, device = model.training, device_of(model)
    model.eval()
    with torch.no_grad():
        out = [model(b.x.to(device)).float().cpu() for b in data.batches(batch_size)]
    model.train(was_training)
    return torch.cat(out)


def device_of(module: nn.Module) -> torch.device:
    """The device of a module's first parameter (the CPU for a module without parameters).

    Example:
        >>> device_of(nn.Linear(2, 1)).type
        'cpu'
    """
    param = next(module.parameters(), None)
    return param.device if param is not None else torch.device("cpu")
