"""The studies of chapters 5–7: multi-task models against single-task ones, and AME's routing; cached.

:func:`entanglement_study` trains, for every seed, one single-task model per task and every
multi-task model asked for on the same ``(train, valid, test)`` split, and records what chapters
5 and 6 plot: test AUC per task on every bucket (all rows, the world's conflict users, the other
users), the transfer against the single-task models of the same seed, the validation curve, the
user–item distances of every embedding table on the conflict users' distinct test pairs (the
RecScope tool of :mod:`minime.analysis.entanglement`), and the mean gate weights per bucket.
Records are plain JSON, cached like :func:`minime.experiments.scaling_study` (same folder, same
keys: configuration, data, code, device), so a chapter re-run does not retrain.

:func:`distance_tables` and :func:`conflict_pairs` read one seed's distances back, and
:func:`geometry` turns them into RecScope's two readings: Spearman ρ of every
table's distances against each single-task model's, and the shares of the mode-0 conflict pairs
(near for task 1's single-task model, far for task 2's) in every table's near / middle / far band.

:func:`routing_study` is chapter 7's: models on rows that each belong to one task (the
``multicvr`` world), with every task's AUC and gate mass on its own rows.

Example:
    >>> import shutil, tempfile
    >>> from minime import data, models, train
    >>> split = data.make_world("tiny", num_rows=600, seed=0).split()
    >>> folder = tempfile.mkdtemp()
    >>> runs = entanglement_study(split, {"MMoE": ("mmoe", {})}, config="small",
    ...                           train_config=train.TrainConfig(epochs=1, progress=False),
    ...                           cache=folder, progress=False)
    >>> [r["label"] for r in runs]
    ['single task 1', 'single task 2', 'MMoE']
    >>> sorted(runs[2]["auc"])  # every row; the planted buckets; P3's buckets
    ['all', 'click-dominated', 'comparable', 'conflict', 'convert-dominated', 'other']
    >>> sorted(runs[2]["distances"]), len(runs[2]["gates"]["all"])  # one table; T rows of gates
    (['table'], 2)
    >>> shutil.rmtree(folder)
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

import numpy as np
import torch

from minime import analysis, models, train
from minime.embedding import FusedEmbedding
from minime.data.batches import Split
from minime.experiments import (Results, _bar, _cached, _folder, _stable, code_version,
                                data_fingerprint)

__all__ = ["SPECS", "as_history", "auc_table", "conflict_pairs", "distance_tables",
           "entanglement_study", "geometry", "routing_study", "single_label", "summary",
           "table_names", "user_gradient_cosines"]

BUCKETS = ("all", "conflict", "other")
#: The book's multi-task models: label -> (name in ``models.MTL_MODELS``, build keywords).
SPECS = {
    "SharedBottom": ("shared_bottom", {}),
    "MMoE": ("mmoe", {}),
    "PLE": ("ple", {}),
    "ME-MMoE": ("me_mmoe", {}),
    "STEM": ("stem", {}),
    "STEM, no stop-gradient": ("stem", {"aftb": False}),
    "STEM-AL": ("stem_al", {"main_tasks": (1,)}),  # task 2 (conversion) main, task 1 auxiliary
    "AME": ("ame", {}),  # tables 16 / 32 / 64, gates read every table
    "AME, constant gates": ("ame", {"gate_input": "const"}),
}


def single_label(task: int) -> str:
    """The record label of the single-task model of task ``task`` (0-based): ``"single task 1"``."""
    return f"single task {task + 1}"


def table_names(net: torch.nn.Module, num_tasks: int) -> dict[str, int | None]:
    """Name -> ``embedding_set`` of every table a model's distances are measured in.

    STEM-Net: ``"task 1" … "task T"`` and ``"shared"`` (its sets, in that order); every other
    model: ``"table"`` (its one table; ME-MMoE's sets side by side, as RecScope measures it).
    """
    if isinstance(net, models.STEMNet):
        return {**{f"task {t + 1}": t for t in range(num_tasks)}, "shared": num_tasks}
    return {"table": None}


def entanglement_study(split: Split, specs: Mapping[str, tuple[str, dict]], *,
                       config: models.MTLConfig | str | None = None,
                       train_config: train.TrainConfig | None = None,
                       seeds: Sequence[int] = (0,), user_field: str = "user_id",
                       item_field: str = "item_id", conflict_key: str = "conflict",
                       feedback: tuple[float, float] | None = (0.5, 2.0), measure=None,
                       cache: bool | str = True, progress: bool = True,
                       device: torch.device | str | None = None) -> Results:
    """Single-task models per task, then every multi-task model of ``specs``, for every seed.

    For each run: ``train.set_seed(seed)``, ``models.build(name, ..., **options)``, ``train.fit``
    on ``split.train`` / ``split.valid`` (early stopping and model selection on the mean
    validation AUC over tasks, the train config's ``seed`` set to ``seed``), then measure on
    ``split.test``. A single-task model of task t trains on task t's labels alone
    (``TensorData.with_tasks([t])``).

    Args:
        split: rows with T ≥ 2 tasks and a bool meta column ``conflict_key`` (the multitask world).
        specs: label -> ``(model name, build keywords)``, e.g. ``{"STEM": ("stem", {})}``.
        config: the MTLConfig (or preset name) of every model, single-task ones included.
        train_config: how to train (default ``TrainConfig()``); ``seed`` is replaced per seed.
        seeds: one run of every model per seed.
        user_field, item_field: the fields whose embeddings the distances compare.
        conflict_key: the meta column that flags the conflict users' rows.
        feedback: ``(low, high)`` thresholds of P3's split by relative positive feedback on tasks
            1 and 2 (:func:`minime.analysis.feedback_buckets`, rates from ``split.train``), whose
            buckets ``"<task 1>-dominated"``, ``"comparable"``, ``"<task 2>-dominated"`` join
            the planted ones; None: the planted buckets only.
        measure: ``measure(model, split) -> dict`` of plain values added to every multi-task
            record (e.g. gradient conflict); part of the cache key by name and source.
        cache: True: the default cache folder; a path: that folder; False: always train.
        progress: a text bar over the runs.
        device: where to train; default :func:`minime.train.device`.

    Returns:
        :class:`~minime.experiments.Results`, one record per (seed, model), single-task models
        first: label, model, options, seed, tasks (the task indices it predicts), seconds, epochs,
        best_epoch, history (the per-epoch records of :class:`minime.train.History`: train loss,
        validation AUC per task and mean; :func:`as_history` wraps them for plotting), auc (bucket -> AUC per task it
        predicts; the buckets: "all", "conflict", "other" and, with ``feedback``, P3's three),
        transfer (bucket -> AUC − single-task AUC per task; multi-task models only),
        distances (table -> distances of the conflict users' distinct test pairs, the order of
        :func:`minime.analysis.distinct_pairs`), gates (bucket -> (T, E) mean gate weights;
        multi-task models only), owners (each expert's task, T = shared).
    """
    test, num_tasks = split.test, split.test.num_tasks
    if num_tasks < 2 or conflict_key not in test.meta:
        raise ValueError(f"the study needs ≥ 2 tasks and a {conflict_key!r} meta column; the test "
                         f"rows have {num_tasks} task(s) and meta {sorted(test.meta)}")
    config = models.resolve_mtl_config(config)
    train_config = train_config or train.TrainConfig()
    dev = torch.device(device) if device is not None else train.device()
    buckets = {"all": np.ones(test.num_rows, dtype=bool), **analysis.conflict_buckets(test, conflict_key)}
    if feedback is not None:
        buckets.update(analysis.feedback_buckets(test, group=user_field, low=feedback[0],
                                                 high=feedback[1], history=split.train))
    pairs = analysis.distinct_pairs(test, user_field, item_field, mask=conflict_key)
    fields = dict(user_field=user_field, item_field=item_field, field_names=test.field_names)
    shared = {"study": "entanglement", "config": _stable(config), "device": dev.type,
              "data": data_fingerprint(split), "code": code_version(), "fields": [user_field, item_field],
              "conflict": conflict_key, "feedback": _stable(feedback), "measure": _stable(measure)}
    runs = [(seed, single_label(t), "single_task", {}, [t]) for seed in seeds for t in range(num_tasks)]
    runs += [(seed, label, name, dict(options), list(range(num_tasks)))
             for seed in seeds for label, (name, options) in specs.items()]
    folder, results, singles = _folder(cache), Results(), {}
    for seed, label, name, options, tasks in _bar(runs, progress, "entanglement study"):
        trainer = dataclasses.replace(train_config, seed=seed)
        key = {**shared, "model": name, "label": label, "options": _stable(options), "seed": seed,
               "tasks": tasks, "train": _stable(dataclasses.replace(trainer, progress=False))}
        record = _cached(results, key, folder, lambda: {
            "label": label, "model": name, "options": _stable(options), "seed": seed,
            "tasks": tasks, **_run(name, options, tasks, config, trainer, split, buckets, pairs,
                                   fields, dev, measure)})
        if name == "single_task":
            singles[(seed, tasks[0])] = record["auc"]
        else:
            reference = [singles[(seed, t)] for t in tasks]
            record["transfer"] = analysis.transfer(record["auc"], reference)
        results.append(record)
    return results


def _fit(name, options, tasks, config, trainer, split: Split, dev):
    """Seed, build and train one model: ``(net, its (train, valid, test) rows, record part)``."""
    train.set_seed(trainer.seed)
    rows = [part.with_tasks(tasks) for part in split] if len(tasks) < split.train.num_tasks \
        else list(split)
    net = models.build(name, split.train.field_dims, config, num_tasks=len(tasks), **options)
    history = train.fit(net, rows[0], rows[1], trainer, device=dev)
    net.eval()
    return net, rows, {"seconds": history.seconds, "epochs": len(history.epochs),
                       "best_epoch": history.best_epoch, "history": history.epochs}


def _run(name, options, tasks, config, trainer, split: Split, buckets, pairs, fields, dev,
         measure) -> dict:
    """Seed, build, train and measure one model: its part of the record."""
    net, rows, record = _fit(name, options, tasks, config, trainer, split, dev)
    record["auc"] = analysis.bucket_auc(net, rows[2], buckets)
    record["distances"] = {table: analysis.user_item_distances(net, pairs, embedding_set=k, **fields)
                           for table, k in table_names(net, len(tasks)).items()}
    if name != "single_task":
        record["gates"] = {b: analysis.gate_weights(net, rows[2], mask=m) for b, m in buckets.items()}
        record["owners"] = net.expert_owners()
        for key, value in (measure(net, split) if measure is not None else {}).items():
            if key in record:
                raise ValueError(f"measure returned {key!r}, which the study already records")
            record[key] = value
    return record


def routing_study(split: Split, specs: Mapping[str, tuple[str, dict]], *,
                  config: models.MTLConfig | str | None = None,
                  train_config: train.TrainConfig | None = None, seeds: Sequence[int] = (0,),
                  cache: bool | str = True, progress: bool = True,
                  device: torch.device | str | None = None) -> Results:
    """Multi-task models on rows that each carry some tasks' labels: AUC and gate mass per task.

    For the ``multicvr`` world (every row belongs to one task, ``label_mask``) and chapter 7:
    every model of ``specs`` is trained once per seed on ``split`` (as
    :func:`entanglement_study`: ``train.set_seed(seed)``, build, ``train.fit`` with early
    stopping on the mean validation AUC) and measured on ``split.test``, each task on its own
    rows. Records are cached in the same folder and by the same keys as the other studies.

    Args:
        split: ``(train, valid, test)`` rows; tasks without a ``label_mask`` use every row.
        specs: label -> ``(model name, build keywords)``, e.g. ``{"AME": ("ame", {})}``.
        config, train_config, seeds, cache, progress, device: as :func:`entanglement_study`.

    Returns:
        :class:`~minime.experiments.Results`, one record per (seed, model): label, model,
        options, seed, seconds, epochs, best_epoch, history, auc (per task, on its observed test
        rows), gates (``(T, E)``: task t's mean gate over ITS test rows,
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
    config = models.resolve_mtl_config(config)
    train_config = train_config or train.TrainConfig()
    dev = torch.device(device) if device is not None else train.device()
    num_tasks = split.train.num_tasks
    observed = [split.train.observed(t) for t in range(num_tasks)]
    rows = [int(m.sum()) for m in observed]
    positives = [int(split.train.y[m, t].sum()) for t, m in enumerate(observed)]
    shared = {"study": "routing", "config": _stable(config), "device": dev.type,
              "data": data_fingerprint(split), "code": code_version()}
    runs = [(seed, label, name, dict(options)) for seed in seeds for label, (name, options) in specs.items()]
    folder, results = _folder(cache), Results()
    for seed, label, name, options in _bar(runs, progress, "routing study"):
        trainer = dataclasses.replace(train_config, seed=seed)
        key = {**shared, "model": name, "label": label, "options": _stable(options), "seed": seed,
               "train": _stable(dataclasses.replace(trainer, progress=False))}

        def train_and_measure():
            net, parts, fitted = _fit(name, options, list(range(num_tasks)), config, trainer,
                                      split, dev)
            return {"label": label, "model": name, "options": _stable(options), "seed": seed,
                    **fitted, "auc": train.evaluate(net, parts[2])["auc"],
                    "gates": analysis.task_gate_mass(net, parts[2]), "owners": net.expert_owners(),
                    "parameters": {"embedding": models.num_parameters(net.embedding),
                                   "total": models.num_parameters(net)},
                    "rows": rows, "positives": positives}

        results.append(_cached(results, key, folder, train_and_measure))
    return results


def user_gradient_cosines(net: torch.nn.Module, split: Split, *, rows: int = 32_768,
                          user_field: str = "user_id", conflict_key: str = "conflict") -> dict:
    """A ``measure`` for :func:`entanglement_study`: do the tasks agree on a user's shared row?

    On the first ``rows`` test rows, :func:`minime.analysis.row_gradient_cosines` of tasks 1 and
    2 on every user's row of the shared table, averaged over the conflict users (those whose
    rows carry ``conflict_key``) and over the other users present. Models without one shared
    table (STEM-Net, ME-MMoE) give ``{}``.

    Returns:
        ``{"grad_cos_conflict": mean, "grad_cos_other": mean}`` or ``{}``.
    """
    if not isinstance(getattr(net, "embedding", None), FusedEmbedding):
        return {}
    part = split.test.subset(torch.arange(min(rows, split.test.num_rows)))
    field = part.field_names.index(user_field)
    cos = analysis.row_gradient_cosines(net, part.x, part.y, field=field)  # (V_user,)
    users = part.column(field).cpu().numpy()
    conflict = np.zeros(len(cos), dtype=bool)
    conflict[users[part.meta[conflict_key].cpu().numpy().astype(bool)]] = True
    seen = ~np.isnan(cos)
    return {"grad_cos_conflict": float(cos[seen & conflict].mean()),
            "grad_cos_other": float(cos[seen & ~conflict].mean())}


def summary(results: Results, label: str, key: str = "auc", bucket: str = "all",
            task: int = 0) -> tuple[float, float]:
    """``(mean, std)`` over seeds of ``record[key][bucket][task]`` of one model (std 0 for one seed).

    Example:
        >>> runs = Results([{"label": "M", "auc": {"all": [0.5]}}, {"label": "M", "auc": {"all": [0.7]}}])
        >>> [round(v, 4) for v in summary(runs, "M")]
        [0.6, 0.1414]
    """
    values = [r[key][bucket][task] for r in results if r["label"] == label]
    if not values:
        raise ValueError(f"no record labelled {label!r} holds {key!r}")
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def auc_table(results: Results, task_names: Sequence[str], key: str = "auc") -> str:
    """A text table: one line per model, ``mean ± std`` over seeds per task and bucket.

    Single-task models fill only their own task's columns.
    """
    lines = [f"{'model':<26}" + "".join(f"{f'{t}: {b}':>20}" for t in task_names for b in BUCKETS)]
    for label in dict.fromkeys(r["label"] for r in results):
        first = next(r for r in results if r["label"] == label)
        cells = [f"{'':>20}" if t not in first["tasks"] or key not in first else
                 "{:>12.4f} ± {:.4f}".format(*summary(results, label, key, b, first["tasks"].index(t)))
                 for t in range(len(task_names)) for b in BUCKETS]
        lines.append(f"{label:<26}" + "".join(cells))
    return "\n".join(lines)


def as_history(record: dict) -> train.History:
    """A record's training log as a :class:`minime.train.History` (for ``plots.training_curves``)."""
    return train.History(epochs=record["history"], best_epoch=record["best_epoch"],
                         best_valid_auc=record["history"][record["best_epoch"] - 1]["valid_auc_mean"],
                         seconds=record["seconds"])


def distance_tables(results: Results, seed: int = 0) -> dict[str, np.ndarray]:
    """Every table's distances of one seed: ``{"<label>" or "<label>, <table>": (P,) array}``.

    Single-embedding models are named by their label, STEM's tables ``"STEM, task 2"`` etc.
    """
    return {r["label"] if table == "table" else f"{r['label']}, {table}": np.asarray(d)
            for r in results if r["seed"] == seed for table, d in r["distances"].items()}


def conflict_pairs(results: Results, seed: int = 0, *, reference_tasks: tuple[int, int] = (0, 1),
                   low: float = 40, high: float = 60) -> np.ndarray:
    """RecScope's mode-0 conflict pairs: near in task a's single-task model, far in task b's.

    Returns:
        ``(P,)`` bool over the study's pairs (:func:`minime.analysis.conflict_subset`).
    """
    tables = distance_tables(results, seed)
    refs = [tables.get(single_label(t)) for t in reference_tasks]
    if any(r is None for r in refs):
        raise ValueError(f"seed {seed} lacks the single-task models of tasks {reference_tasks}")
    return analysis.conflict_subset(*refs, low=low, high=high)


def geometry(results: Results, seed: int = 0, *, reference_tasks: tuple[int, int] = (0, 1),
             low: float = 40, high: float = 60) -> dict[str, dict[str, float]]:
    """RecScope's readings of every table of one seed's models.

    Args:
        results: an :func:`entanglement_study`'s records (with both reference single-task models).
        seed: which seed's records.
        reference_tasks: (a, b): mode-0 conflict pairs are near in task a's single-task model and
            far in task b's (:func:`conflict_pairs`).
        low, high: the bands' percentiles.

    Returns:
        ``{name: {"rho_a", "rho_b", "near", "middle", "far"}}`` for every table of
        :func:`distance_tables`: Spearman ρ against task a's and task b's single-task distances,
        and the shares of the mode-0 pairs in the table's own bands.
    """
    mode0 = conflict_pairs(results, seed, reference_tasks=reference_tasks, low=low, high=high)
    tables = distance_tables(results, seed)
    ref_a, ref_b = (tables[single_label(t)] for t in reference_tasks)
    return {name: {"rho_a": analysis.spearman(d, ref_a), "rho_b": analysis.spearman(d, ref_b),
                   **analysis.band_shares(d, mode0, low=low, high=high)}
            for name, d in tables.items()}
