"""The scaling study of chapter 4: single- against multi-embedding at equal embedding size; cached.

:func:`scaling_study` trains, for every seed and scale s, a single-embedding model of width
``s·K`` (SE) and a multi-embedding model of ``s`` sets of width ``K`` (ME): the same embedding
parameters (Guo et al., ICML 2024, §6). Each run is cached (:mod:`minime.studies.cache`) under a
key of every field of the CTRConfig / MEConfig / TrainConfig but ``progress``, the data, the code
and the device type.

Example:
    >>> import shutil, tempfile
    >>> from minime import data, train
    >>> folder = tempfile.mkdtemp()  # chapters use the default cache_dir() (cache=True)
    >>> split = data.make_world("tiny", num_rows=400).split()
    >>> study = dict(model="dnn", kinds=("SE",), scales=(1, 2), seeds=(0,), base_dim=4,
    ...              config="small", train_config=train.TrainConfig(epochs=1, progress=False),
    ...              cache=folder, progress=False)
    >>> runs = scaling_study(split, **study)
    >>> [(r["kind"], r["scale"], r["embedding_dim"]) for r in runs], runs.cached
    ([('SE', 1, 4), ('SE', 2, 8)], 0)
    >>> again = scaling_study(split, **study)  # loaded, not trained
    >>> again == runs, again.cached
    (True, 2)
    >>> shutil.rmtree(folder)
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import warnings
from typing import Callable, Mapping, Sequence

import numpy as np
import torch

from minime import analysis, models, train
from minime.data import Split
from minime.studies.cache import code_version, data_fingerprint, stable
from minime.studies.common import (add_measured, fit_model, per_arm, resolve_device, run_all,
                                   seeded, train_key)
from minime.studies.results import Results

__all__ = ["KINDS", "Measure", "scaling_study"]

KINDS = ("SE", "ME")
#: ``measure(model, split) -> dict`` of plain values a study adds to every record.
Measure = Callable[[torch.nn.Module, Split], dict]


def scaling_study(split: Split, *, model: str = "dcnv2", base_dim: int = 4,
                  scales: Sequence[int] = (1, 2, 4), seeds: Sequence[int] = (0, 1, 2),
                  config: models.CTRConfig | str | None = None,
                  train_config: train.TrainConfig | Mapping[str, train.TrainConfig] | None = None,
                  me_options=None, measure: Measure | None = None, group: str | None = None,
                  kinds: Sequence[str] = KINDS, me_at_one: bool = True,
                  cache: bool | str | os.PathLike = True, progress: bool = True,
                  device: torch.device | str | None = None,
                  se_model: str | None = None) -> Results:
    """Train SE (width s·K) and ME (s sets of width K) for every scale s and seed; cached.

    For each run: ``train.set_seed(seed)``, build (``models.build(model, ...)`` with
    ``embedding_dim = s·K``, or ``models.build("me_" + model, ..., me=MEConfig(num_embeddings=s))``
    with ``embedding_dim = K``), ``train.fit`` on ``split.train`` / ``split.valid`` with the
    train config's ``seed`` set to ``seed`` too, then measure. At s = 1 both kinds are trained:
    ME with one set has SE's architecture (me_dcnv2 reproduces dcnv2's numbers at the same seed),
    which checks the pairing at the cost of the cheapest run (``me_at_one=False`` skips it).

    Args:
        split: ``(train, valid, test)`` TensorData, e.g. ``world.split()``.
        model: a single-embedding name of :data:`minime.models.MODELS` (``"me_" + model`` must
            exist for ME).
        base_dim: K, the width of one set.
        scales: the scale factors s.
        seeds: one run per seed and configuration.
        config: the CTRConfig (or preset name) whose ``embedding_dim`` is replaced.
        train_config: how to train (default ``TrainConfig()``), or ``{kind: TrainConfig}`` to
            train each kind its own way (e.g. with its own tuned learning rate, see
            :func:`minime.studies.tune`); ``seed`` is replaced by each seed.
        me_options: the rest of the ME config: a dict of ``MEConfig`` keywords, or an
            ``MEConfig`` whose ``num_embeddings`` is replaced by s.
        measure: ``measure(model, split) -> dict`` of plain numbers added to every record.
        group: a field name: adds the test GAUC grouped by it (e.g. ``"user_id"``).
        kinds: which of ``("SE", "ME")`` to train.
        me_at_one: also train ME at s = 1 (one set: SE's architecture, SE's numbers).
        cache: True: load and store results in :func:`cache_dir`; a path: in that folder;
            False: always train, store nothing.
        progress: a text progress bar over the configurations.
        device: where to train; default :func:`minime.train.device`.
        se_model: the model trained as SE (default ``model``). A ``"me_..."`` name is built with
            one set, e.g. ``se_model="me_fm"``: an FM with the same per-set first layer as the
            ME model, since the plain SE ``"fm"`` has no MLP at all.

    Returns:
        :class:`Results`, one record per (scale, seed, kind): kind, model, scale, base_dim,
        embedding_dim (per set), total_dim (s·K), num_embeddings, seed, num_params,
        test_auc (mean over tasks), test_auc_tasks, test_logloss_tasks, (test_gauc,
        test_gauc_tasks), valid_auc (best epoch), best_epoch, epochs, seconds (training), ia (mean
        over fields of the IA of all sets side by side, table mode on rows seen in training,
        row-normalised), ia_fields, ia_set (mean over sets and fields of each set's own IA; SE is
        one set), ia_set_fields, and the keys ``measure`` returns.
    """
    if not set(kinds) <= set(KINDS):
        raise ValueError(f"kinds must be among {KINDS}, got {tuple(kinds)}")
    trainers = per_arm(train_config, kinds, "kind")
    config = dataclasses.replace(models.resolve_config(config), embedding_dim=base_dim)
    dev = resolve_device(device)
    shared = {"study": "scaling", "base_dim": base_dim, "group": group, "device": dev.type,
              "measure": stable(measure), "data": data_fingerprint(split), "code": code_version()}
    runs = [(scale, seed, kind, *_configs(kind, se_model or model, model, scale, config, me_options))
            for scale, seed, kind in itertools.product(scales, seeds, kinds)
            if me_at_one or not (kind == "ME" and scale == 1)]

    def key(run) -> dict:
        scale, seed, kind, name, ctr, me = run
        return {**shared, "kind": kind, "model": name, "scale": scale, "seed": seed,
                "config": stable(ctr), "me": stable(me),
                "train": train_key(seeded(trainers[kind], seed))}

    def compute(run) -> dict:
        scale, seed, kind, name, ctr, me = run
        return {"kind": kind, "model": name, "scale": scale, "seed": seed, "base_dim": base_dim,
                **_run(name, ctr, me, seeded(trainers[kind], seed), split, measure, group, dev)}

    return run_all(runs, key, compute, cache=cache, progress=progress, desc="scaling study")


def _configs(kind: str, se_model: str, model: str, scale: int, config, me_options) -> tuple:
    """(model name, CTRConfig, MEConfig or None) of one kind at one scale; config has width K."""
    if kind == "SE":
        wide = dataclasses.replace(config, embedding_dim=config.embedding_dim * scale)
        one_set = _me_config(1, me_options) if se_model.startswith("me_") else None
        return se_model, wide, one_set
    return f"me_{model}", config, _me_config(scale, me_options)


def _me_config(scale: int, me_options):
    """``MEConfig(num_embeddings=scale, ...)`` from a dict of keywords or an MEConfig."""
    if isinstance(me_options, models.MEConfig):
        return dataclasses.replace(me_options, num_embeddings=scale)
    return models.MEConfig(num_embeddings=scale, **(me_options or {}))


def _run(name, ctr, me, trainer, split: Split, measure, group, dev) -> dict:
    """Seed, build, train, evaluate and measure one configuration: its results."""
    net, _, part = fit_model(name, {} if me is None else {"me": me}, split, ctr, trainer, dev)
    test = train.evaluate(net, split.test, group=group)
    sets = 1 if me is None else me.num_embeddings
    record = {"embedding_dim": ctr.embedding_dim, "total_dim": ctr.embedding_dim * sets,
              "num_embeddings": sets, "num_params": models.num_parameters(net),
              "test_auc": test["auc_mean"], "test_auc_tasks": test["auc"],
              "test_logloss_tasks": test["logloss"],
              "valid_auc": part["history"][part["best_epoch"] - 1]["valid_auc_mean"],
              "best_epoch": part["best_epoch"], "epochs": part["epochs"],
              "seconds": part["seconds"], **_ia_record(net, split.train)}
    if group is not None:
        record.update(test_gauc=float(np.mean(test["gauc"])), test_gauc_tasks=test["gauc"])
    measured = measure(net, split) if measure is not None else {}
    return add_measured(record, measured, ("kind", "model", "scale", "seed", "base_dim"))


def _ia_record(net, train_data) -> dict:
    """Mean IA over fields of all sets side by side, and of each set alone (mean over sets)."""
    whole = analysis.field_spectra(net, data=train_data)
    sets = analysis.set_spectra(net, data=train_data)
    per_field = np.stack([r.ia for r in sets])  # (M, F)
    with warnings.catch_warnings():  # "Mean of empty slice" where every IA is nan
        warnings.simplefilter("ignore", RuntimeWarning)
        return {"ia": float(np.nanmean(whole.ia)), "ia_fields": whole.as_dict(),
                "ia_set": float(np.nanmean(per_field)),
                "ia_set_fields": dict(zip(whole.field_names, np.nanmean(per_field, 0).tolist()))}
