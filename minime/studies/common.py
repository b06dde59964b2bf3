"""What every study does around one run: the device, the cached loop, training one model.

Example:
    >>> import tempfile
    >>> runs = run_all([0, 1], lambda seed: {"study": "demo", "model": "m", "seed": seed},
    ...                lambda seed: {"seed": seed, "auc": 0.5}, cache=tempfile.mkdtemp(),
    ...                progress=False)
    >>> [r["seed"] for r in runs], runs.cached
    ([0, 1], 0)
"""

from __future__ import annotations

import dataclasses
import os
from typing import Callable, Iterable, Mapping, Sequence

import torch

from minime import models, train
from minime.data import Split
from minime.progress import bar
from minime.studies.cache import cached, folder, stable
from minime.studies.results import Results

__all__ = ["add_measured", "assert_converged", "fit_model", "per_arm", "resolve_device", "run_all", "seeded",
           "train_key"]


def resolve_device(device: torch.device | str | None) -> torch.device:
    """``device`` as a torch.device; None: :func:`minime.train.device` (CUDA when present)."""
    return torch.device(device) if device is not None else train.device()


def run_all(runs: Sequence, make_key: Callable[..., dict], compute: Callable[..., dict], *,
            cache: bool | str | os.PathLike = True, progress: bool = True,
            desc: str = "study") -> Results:
    """``compute(run)`` for every run, or its record from the cache under ``make_key(run)``.

    Args:
        runs: one item per model to train (e.g. ``(seed, label)`` tuples).
        make_key: the run's cache key (a plain dict with ``study``, ``model`` and ``seed``).
        compute: trains and measures the run; returns its record.
        cache: True: the default folder; a path: that folder; False: always compute.
        progress: a text bar over the runs.
        desc: the bar's label.

    Returns:
        :class:`~minime.studies.results.Results` in the order of ``runs``, ``cached`` set.
    """
    where, results = folder(cache), Results()
    for run in bar(runs, desc=desc, unit="model", enabled=progress):
        record, loaded = cached(make_key(run), where, lambda: compute(run))
        results.cached += loaded
        results.append(record)
    return results


def add_measured(record: dict, measured: dict, reserved: Iterable[str] = ()) -> dict:
    """``record`` with the entries of a ``measure`` added; a clear error on a name clash."""
    for key, value in measured.items():
        if key in record or key in reserved:
            raise ValueError(f"measure returned {key!r}, which the study already records")
        record[key] = value
    return record


def fit_model(name: str, options: dict, split: Split, config, trainer: train.TrainConfig,
              device: torch.device, tasks: Sequence[int] | None = None):
    """Seed, build and train one model on ``split`` (on ``tasks`` only, if given).

    Returns:
        ``(net, rows, part)``: the trained net in eval mode, its ``(train, valid, test)`` rows
        (with only ``tasks``' labels) and the record's training part: seconds, epochs,
        best_epoch and history (:class:`minime.train.History` epochs).
    """
    train.set_seed(trainer.seed)
    rows = split if tasks is None or len(tasks) == split.train.num_tasks else \
        split.with_tasks(list(tasks))
    net = models.build(name, rows.train.field_dims, config, num_tasks=rows.train.num_tasks,
                       **options)
    history = train.fit(net, rows.train, rows.valid, trainer, device=device)
    net.eval()
    return net, rows, {"seconds": history.seconds, "epochs": len(history.epochs),
                       "best_epoch": history.best_epoch, "history": history.epochs}


def seeded(train_config: train.TrainConfig | None, seed: int) -> train.TrainConfig:
    """The train config with ``seed`` (default ``TrainConfig()``)."""
    return dataclasses.replace(train_config or train.TrainConfig(), seed=seed)


def train_key(trainer: train.TrainConfig) -> dict:
    """The train config as a cache key: every field but ``progress`` (a bar changes nothing)."""
    return stable(dataclasses.replace(trainer, progress=False))


def per_arm(train_config, arms: Iterable[str], what: str = "arm") -> dict:
    """``{arm: TrainConfig or None}`` from one config (every arm) or a dict with one per arm.

    Example:
        >>> fast = train.TrainConfig(lr=1e-2)
        >>> per_arm({"SE": fast, "ME": fast}, ("SE",))["SE"].lr
        0.01
    """
    arms = list(arms)
    if not isinstance(train_config, Mapping):
        return {arm: train_config for arm in arms}
    missing = [arm for arm in arms if arm not in train_config]
    if missing or not all(isinstance(c, train.TrainConfig) for c in train_config.values()):
        raise ValueError(f"train_config as a dict needs a TrainConfig for every {what} "
                         f"{tuple(arms)}; missing {missing}, got {train_config!r}")
    return {arm: train_config[arm] for arm in arms}


def assert_converged(*runs, cap: int) -> int:
    """The most epochs any run trained; an ``AssertionError`` if a run reached ``cap``.

    A run that trains ``cap`` epochs was stopped by the cap, not by its validation AUC, and may
    still have been improving. Each argument is a :class:`Results` (records with ``"epochs"``;
    the message names a record by its label, kind, world, scale and seed where it has them), a
    :class:`minime.train.History`, or a dict of histories by name.

    Example:
        >>> assert_converged(Results([{"label": "A", "epochs": 7}, {"label": "B", "epochs": 9}]), cap=30)
        9
        >>> assert_converged(Results([{"label": "A", "epochs": 30}]), cap=30)
        Traceback (most recent call last):
        ...
        AssertionError: A trained 30 epochs, the cap (30): stopped while it may still improve
    """
    trained: list[tuple[str, int]] = []
    for item in runs:
        if isinstance(item, Mapping):  # {name: History}
            trained += [(str(name), len(h.epochs)) for name, h in item.items()]
        elif hasattr(item, "best_epoch"):  # one History
            trained.append(("the run", len(item.epochs)))
        else:
            trained += [(_run_name(r), int(r["epochs"])) for r in item]
    if not trained:
        raise ValueError("assert_converged needs at least one run")
    name, longest = max(trained, key=lambda t: t[1])
    assert longest < cap, \
        f"{name} trained {longest} epochs, the cap ({cap}): stopped while it may still improve"
    return longest


def _run_name(record: Mapping) -> str:
    """``"A, seed 1"``: a record's label and whichever of kind, world, scale, seed it has."""
    parts = [str(record["label"])] if "label" in record else []
    parts += [f"{k} {record[k]}" for k in ("kind", "world", "scale", "seed") if k in record]
    return ", ".join(parts) or "a run"
