"""The routing study of chapter 7: where each task's gate sends its rows, and how well it scores.

:func:`routing_study` trains every model of ``specs`` once per seed on rows that each carry some
tasks' labels (the ``multicvr`` world: one head task and a long tail of small ones, each row
labelled for one task) and records every task's AUC on its own test rows and its gate mass
(:func:`minime.analysis.task_gate_mass`), cached like the other studies. Nothing in it is specific
to the synthetic world: any :class:`~minime.data.TensorData` with two or more tasks will do.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import torch

from minime import analysis, models, train
from minime.data import Split
from minime.studies.cache import code_version, data_fingerprint, stable
from minime.studies.common import fit_model, resolve_device, run_all, seeded, train_key
from minime.studies.results import Results

__all__ = ["routing_study"]


def routing_study(split: Split, specs: Mapping[str, tuple[str, dict]], *,
                  config: models.MTLConfig | str | None = None,
                  train_config: train.TrainConfig | None = None, seeds: Sequence[int] = (0,),
                  cache: bool | str = True, progress: bool = True,
                  device: torch.device | str | None = None) -> Results:
    """Multi-task models on rows that each carry some tasks' labels: AUC and gate mass per task.

    For the ``multicvr`` world (every row belongs to one task, ``label_mask``) and chapter 7:
    every model of ``specs`` is trained once per seed on ``split`` (as
    :func:`~minime.studies.entanglement.entanglement_study`: ``train.set_seed(seed)``, build, ``train.fit`` with early
    stopping on the mean validation AUC) and measured on ``split.test``, each task on its own
    rows. Records are cached in the same folder and by the same keys as the other studies.

    Args:
        split: ``(train, valid, test)`` rows; tasks without a ``label_mask`` use every row.
        specs: label -> ``(model name, build keywords)``, e.g. ``{"AME": ("ame", {})}``.
        config, train_config, seeds, cache, progress, device: as :func:`~minime.studies.entanglement.entanglement_study`.

    Returns:
        :class:`~minime.studies.Results`, one record per (seed, model): label, model,
        options, seed, seconds, epochs, best_epoch, history, auc and logloss (per task, on its
        observed test rows), gates (``(T, E)``: task t's mean gate over ITS test rows,
        :func:`minime.analysis.task_gate_mass`), owners (each expert's task, T = shared),
        parameters (``{"embedding": n, "total": n}``), rows and positives (per task, in
        ``split.train``'s observed labels).

    Example:
        >>> from minime import data, train
        >>> split = data.make_world("multicvr", num_rows=60_000, seed=0).split((0.4, 0.3, 0.3))
        >>> runs = routing_study(split, {"AME": ("ame", {"dims": (2, 4, 8)})}, config="small",
        ...                      train_config=train.TrainConfig(epochs=1, progress=False),
        ...                      cache=False, progress=False)
        >>> r = runs[0]
        >>> len(r["auc"]), len(r["gates"]), len(r["gates"][0]), r["rows"][0] > 9 * r["rows"][1]
        (5, 5, 3, True)
    """
    config, dev = models.resolve_mtl_config(config), resolve_device(device)
    num_tasks = split.train.num_tasks
    observed = [split.train.observed(t) for t in range(num_tasks)]
    rows = [int(m.sum()) for m in observed]
    positives = [int(split.train.y[m, t].sum()) for t, m in enumerate(observed)]
    shared = {"study": "routing", "config": stable(config), "device": dev.type,
              "data": data_fingerprint(split), "code": code_version()}
    runs = [(seed, label, name, dict(options))
            for seed in seeds for label, (name, options) in specs.items()]

    def key(run) -> dict:
        seed, label, name, options = run
        return {**shared, "model": name, "label": label, "options": stable(options), "seed": seed,
                "train": train_key(seeded(train_config, seed))}

    def compute(run) -> dict:
        seed, label, name, options = run
        net, parts, fitted = fit_model(name, options, split, config, seeded(train_config, seed),
                                       dev)
        scores = train.evaluate(net, parts.test)
        return {"label": label, "model": name, "options": stable(options), "seed": seed,
                **fitted, "auc": scores["auc"], "logloss": scores["logloss"],
                "gates": analysis.task_gate_mass(net, parts.test), "owners": net.expert_owners(),
                "parameters": {"embedding": models.num_parameters(net.embedding),
                               "total": models.num_parameters(net)},
                "rows": rows, "positives": positives}

    return run_all(runs, key, compute, cache=cache, progress=progress, desc="routing study")
