"""Training: seeds, device, and the one loop every chapter uses.

``fit`` trains any minime model (``(B, F)`` ids -> ``(B, T)`` logits) with binary cross-entropy on
logits, one loss per task, selects the epoch with the best mean validation AUC (early stopping
with patience) and returns a :class:`History`. Optimisers, devices and loops live here, never in
the models (as in minGPT's trainer).

Example:
    >>> from minime import data, models, train
    >>> world = data.make_world("tiny", seed=0)
    >>> split = world.split()
    >>> model = models.build("fm", world.field_dims, "small", num_tasks=world.num_tasks)
    >>> history = train.fit(model, split.train, split.valid,
    ...                     train.TrainConfig(epochs=2, progress=False))
    >>> len(history.epochs) <= 2 and history.best_epoch >= 1
    True
"""

from __future__ import annotations

import copy
import random
import time
import warnings
from dataclasses import asdict, dataclass, field
from types import MappingProxyType
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as nnf

from minime import metrics
from minime.data import TensorData
from minime.data.fit_inputs import check_fit_inputs
from minime.models import device_of, predict
from minime.models.config import Presets
from minime.optimizers import OPTIMIZERS, make_optimizers
from minime.progress import bar

__all__ = ["Callback", "History", "StillImprovingWarning", "TRAIN_PRESETS", "TrainConfig", "device", "evaluate",
           "fit", "set_seed"]



def set_seed(seed: int) -> None:
    """Seed Python's, numpy's and torch's generators (CPU and CUDA).

    Args:
        seed: any non-negative integer.

    Example:
        >>> set_seed(0); a = torch.rand(1); set_seed(0); bool(a == torch.rand(1))
        True
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def device() -> torch.device:
    """The device chapters train on: CUDA when present, else CPU.

    Example:
        >>> device().type in ("cpu", "cuda")
        True
    """
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


PRECISIONS = ("fp32", "bf16")


@dataclass(frozen=True)
class TrainConfig(Presets):
    """How :func:`fit` trains; every field has a default that suits the book's small worlds.

    ``TrainConfig.preset("multi_embedding")`` is the official multi-embedding code's recipe
    (thuml/Multi-Embedding ``main.py``): Adam at 1e-3 with weight decay 1e-6 on every parameter,
    batches of 2048, early stopping on validation AUC with patience 3, at most 100 epochs.
    ``TrainConfig.preset("stem")`` is the official STEM code's (``model_config.yaml``): Adam at
    1e-3, batches of 4096, patience 1, at most 20 epochs; its L2 of 1e-6 on the embedding tables
    alone has no counterpart here (``weight_decay`` decays every parameter) and is left out.

    Example:
        >>> TrainConfig.preset("multi_embedding", lr=3e-3).patience
        3
    """

    epochs: int = 10  # at most this many passes over the training rows
    batch_size: int = 2048  # rows per step
    lr: float = 1e-3  # learning rate of every optimiser
    weight_decay: float = 0.0  # Adam's L2 on dense parameters (decays the whole table if dense)
    optimizer: str = "adam"  # "adam": dense Adam on everything; "sparse_adam": SparseAdam on
    #                          sparse embedding tables (config.sparse_embedding) + Adam on the rest
    patience: int = 2  # stop after this many epochs in a row without a better mean valid AUC
    task_weights: tuple[float, ...] | None = None  # loss weight per task; None = all 1
    eval_batch_size: int = 16384  # rows per forward when evaluating
    seed: int = 0  # seeds the shuffling of the training rows
    restore_best: bool = True  # load the best epoch's weights at the end
    precision: str = "fp32"  # "bf16": forward passes under bfloat16 autocast (weights, gradients,
    #                          optimiser state and evaluation stay float32); fast where the CPU or
    #                          GPU has bf16 matrix units, and not bit-equal to "fp32"
    progress: bool = True  # a tqdm bar over the steps (closes when done)

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        for name in ("epochs", "batch_size", "eval_batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.lr <= 0 or self.patience < 1 or self.weight_decay < 0:
            raise ValueError(f"need lr > 0, patience >= 1, weight_decay >= 0: {self}")


#: Named training recipes (``TrainConfig.preset(name, **overrides)``).
TRAIN_PRESETS: MappingProxyType = MappingProxyType({
    "default": TrainConfig(),
    "multi_embedding": TrainConfig(epochs=100, batch_size=2048, lr=1e-3, weight_decay=1e-6,
                                   patience=3),
    "stem": TrainConfig(epochs=20, batch_size=4096, lr=1e-3, patience=1),
})
TrainConfig.presets = TRAIN_PRESETS  # what TrainConfig.preset reads


@dataclass
class History:
    """What :func:`fit` did: one record per epoch, the best epoch, the optimiser, the time."""

    epochs: list[dict] = field(default_factory=list)  # epoch, train_loss, valid_auc, ...
    best_epoch: int = 0  # 1-based epoch whose weights the model holds (restore_best)
    best_valid_auc: float = float("nan")  # mean over tasks
    optimizer: str = ""  # e.g. "Adam(lr=0.001, weight_decay=0.0, fused), dense gradients, 7 tensors"
    stopped_early: bool = False
    seconds: float = 0.0
    config: dict = field(default_factory=dict)

    def series(self, key: str) -> list:
        """One value per epoch, e.g. ``history.series("valid_auc_mean")``."""
        return [record[key] for record in self.epochs]

    @property
    def still_improving(self) -> bool:
        """True when the best epoch is the last and training stopped at the epoch cap."""
        return not self.stopped_early and self.best_epoch == len(self.epochs) > 0


class StillImprovingWarning(UserWarning):
    """:func:`fit` reached its epoch cap while the validation AUC was still improving."""


Callback = Callable[[nn.Module, dict], None]


def evaluate(model: nn.Module, data: TensorData, *, group: str | None = None,
             batch_size: int = 16384) -> dict:
    """AUC and log loss per task (and GAUC grouped by field ``group``, e.g. the user id).

    Args:
        model: any minime model.
        data: rows to score.
        group: a field name; adds impression-weighted GAUC per task grouped by its ids.
        batch_size: rows per forward.

    Returns:
        ``{"auc": [T floats], "logloss": [...], "auc_mean": float, ("gauc": [...])}``, each task
        on the rows where its label is observed (all rows without a ``label_mask``).
    """
    logits = predict(model, data, batch_size=batch_size).numpy()
    y = data.y.cpu().numpy()
    rows = [data.observed(t).cpu().numpy() for t in range(data.num_tasks)]  # observed labels
    for t, m in enumerate(rows):
        positives = int(y[m, t].sum())
        if positives in (0, int(m.sum())):
            raise ValueError(f"{data.name!r}: task {data.task_names[t]!r} has {positives} positive "
                             f"label(s) among its {int(m.sum())} observed rows; AUC needs both "
                             "classes (use more rows or a larger validation share)")
    out = {"auc": [metrics.auc(y[m, t], logits[m, t]) for t, m in enumerate(rows)],
           "logloss": [metrics.logloss(y[m, t], logits[m, t], logits=True)
                       for t, m in enumerate(rows)]}
    out["auc_mean"] = float(np.mean(out["auc"]))
    if group is not None:
        ids = data.column(group).cpu().numpy()
        out["gauc"] = [metrics.gauc(y[m, t], logits[m, t], ids[m]) for t, m in enumerate(rows)]
    return out


def fit(model: nn.Module, train: TensorData, valid: TensorData, config: TrainConfig | None = None,
        *, callbacks: Sequence[Callback] = (), device: torch.device | str | None = None) -> History:
    """Train ``model`` on ``train``, select the epoch with the best mean AUC on ``valid``.

    Loss: ``Σ_t w_t · BCEWithLogits(logit_t, y_t)`` averaged over the batch (unobserved labels,
    ``train.label_mask``, count as 0), plus
    ``model.regularization()`` when the model defines it (a scalar tensor; the reported
    ``train_loss`` includes it). After every epoch the
    model is evaluated on ``valid``; each callback is then called as ``callback(model, record)``
    and may add entries to ``record`` (e.g. IA per field). Training stops after
    ``config.patience`` epochs without improvement; with ``restore_best`` the model ends with
    its best epoch's weights. When the last epoch is still the best (the cap was reached while
    improving), a :class:`StillImprovingWarning` says so (``history.still_improving``).

    Args:
        model: maps ``(B, F)`` ids to ``(B, T)`` logits; trained in place.
        train: training rows (``T`` label columns).
        valid: validation rows, used for early stopping only.
        config: a :class:`TrainConfig`; None uses the defaults.
        callbacks: functions ``(model, record) -> None`` run after each epoch's evaluation.
        device: where to train; default: the device of the model's parameters. The data is
            moved there once.

    Returns:
        The :class:`History`.
    """
    config = config or TrainConfig()
    check_fit_inputs(model, train, valid, config)
    dev = torch.device(device) if device is not None else device_of(model)
    model.to(dev)
    train, valid = train.to(dev), valid.to(dev)
    optimizers, description = make_optimizers(model, config)
    weights = torch.tensor(config.task_weights or [1.0] * train.num_tasks, device=dev)
    history = History(optimizer=description, config=asdict(config))
    best_state, stale, start = None, 0, time.perf_counter()
    bar = _progress(config, train)
    generator = torch.Generator().manual_seed(config.seed)
    for epoch in range(1, config.epochs + 1):
        loss = _train_epoch(model, train, optimizers, weights, config, generator, bar)
        record = {"epoch": epoch, "train_loss": loss, **_valid_record(model, valid, config)}
        for callback in callbacks:
            callback(model, record)
        history.epochs.append(record)
        if bar is not None:
            bar.set_postfix(epoch=epoch, loss=f"{loss:.4f}", valid_auc=f"{record['valid_auc_mean']:.4f}")
        if not record["valid_auc_mean"] <= history.best_valid_auc:  # first epoch, or better
            history.best_epoch, history.best_valid_auc = epoch, record["valid_auc_mean"]
            best_state, stale = copy.deepcopy(model.state_dict()), 0
        else:
            stale += 1
            if stale >= config.patience:
                history.stopped_early = True
                break
    if bar is not None:
        bar.close()
    if config.restore_best and best_state is not None:
        model.load_state_dict(best_state)
    history.seconds = time.perf_counter() - start
    if history.still_improving and config.epochs > 1:
        warnings.warn(f"{type(model).__name__}: the best validation AUC is at the last epoch "
                      f"({config.epochs}, the cap): the model may still improve; raise "
                      "TrainConfig.epochs", StillImprovingWarning, stacklevel=2)
    return history


def _train_epoch(model, train, optimizers, weights, config, generator, bar) -> float:
    model.train()
    regularizer = getattr(model, "regularization", None)
    total, rows = 0.0, 0
    for batch in train.batches(config.batch_size, shuffle=True, generator=generator):
        with torch.autocast(batch.x.device.type, torch.bfloat16, enabled=config.precision == "bf16"):
            logits = model(batch.x)  # (B, F) -> (B, T)
        per_task = nnf.binary_cross_entropy_with_logits(logits.float(), batch.y, reduction="none")
        if batch.mask is not None:  # unobserved labels add nothing; still divided by B
            per_task = per_task * batch.mask
        loss = (per_task.mean(dim=0) * weights).sum()  # (B, T) -> (T,) -> ()
        if regularizer is not None:
            loss = loss + regularizer()  # e.g. the orthogonality penalty of a restricted DCNv2
        for opt in optimizers:
            opt.zero_grad(set_to_none=True)
        loss.backward()
        for opt in optimizers:
            opt.step()
        total += float(loss.detach()) * len(batch.y)
        rows += len(batch.y)
        if bar is not None:
            bar.update(1)
    return total / rows


def _valid_record(model, valid, config) -> dict:
    result = evaluate(model, valid, batch_size=config.eval_batch_size)
    return {"valid_auc": result["auc"], "valid_auc_mean": result["auc_mean"],
            "valid_logloss": result["logloss"]}


def _progress(config: TrainConfig, train: TensorData):
    steps = -(-train.num_rows // config.batch_size) * config.epochs
    return bar(total=steps, desc="training", unit="step", enabled=config.progress)
