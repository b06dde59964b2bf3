"""The entanglement study of chapters 5 and 6: multi-task models against single-task ones; cached.

:func:`entanglement_study` trains, for every seed, one single-task model per task and every
multi-task model asked for on the same ``(train, valid, test)`` split, and records what chapters
5 and 6 plot: test AUC per task on every bucket of test rows (all rows; the conflict rows and the
others when the data flags them; the split by relative positive feedback), the transfer against
the single-task models of the same seed, the validation curve, the user–item distances of every
embedding set on distinct test pairs (RecScope's tool, read back by
:mod:`minime.studies.geometry`), and the mean gate weights per bucket. It runs on any two-task
:class:`~minime.data.TensorData`: the user and item fields and the conflict flag are arguments,
with the synthetic world's names as defaults.

Example:
    >>> import shutil, tempfile
    >>> from minime import data, train
    >>> split = data.make_world("tiny", num_rows=600, seed=0).split()
    >>> folder = tempfile.mkdtemp()
    >>> runs = entanglement_study(split, {"MMoE": ("mmoe", {})}, config="small",
    ...                           train_config=train.TrainConfig(epochs=1, progress=False),
    ...                           cache=folder, progress=False)
    >>> runs.unique("label")
    ['single task 1', 'single task 2', 'MMoE']
    >>> list(runs[2]["auc"])  # every row; the planted buckets; the feedback buckets
    ['all', 'conflict', 'other', 'click-dominated', 'comparable', 'convert-dominated']
    >>> list(runs[2]["distances"]), len(runs[2]["gates"]["all"])  # one set; T rows of gates
    (['one set'], 2)
    >>> shutil.rmtree(folder)
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch

from minime import analysis, models, train
from minime.data import Split, TensorData
from minime.studies.cache import code_version, data_fingerprint, stable
from minime.studies.common import (add_measured, fit_model, per_arm, resolve_device, run_all,
                                   seeded, train_key)
from minime.studies.results import EPOCHS, Results

__all__ = ["SPECS", "as_history", "bucket_means", "bucket_table", "entanglement_study", "set_names",
           "single_label", "task_value", "user_gradient_cosines"]

#: The book's multi-task models: label -> (name in ``models.MTL_MODELS``, build keywords).
SPECS = {
    "SharedBottom": ("shared_bottom", {}),
    "MMoE": ("mmoe", {}),
    "PLE": ("ple", {}),
    "ME-MMoE": ("me_mmoe", {}),
    "STEM": ("stem", {}),
    "STEM, no stop-gradient": ("stem", {"aftb": False}),
    "STEM-AL": ("stem_al", {"main_tasks": (1,)}),  # task 2 (conversion) main, task 1 auxiliary
    "AME": ("ame", {}),  # sets of widths 16 / 32 / 64, gates read every set
    "AME, constant gates": ("ame", {"gate_input": "const"}),
}


def single_label(task: int) -> str:
    """The record label of the single-task model of task ``task`` (0-based): ``"single task 1"``."""
    return f"single task {task + 1}"


def set_names(net: torch.nn.Module, num_tasks: int) -> dict[str, int | None]:
    """Name -> ``embedding_set`` of every embedding set a model's distances are measured in.

    STEM-Net: ``"task 1" … "task T"`` and ``"shared"`` (its sets, in that order); every other
    model: ``"one set"`` (a single embedding, or ME-MMoE's sets side by side, as RecScope
    measures it).
    """
    if isinstance(net, models.STEMNet):
        return {**{f"task {t + 1}": t for t in range(num_tasks)}, "shared": num_tasks}
    return {"one set": None}


def task_value(key: str, bucket: str, task: int):
    """A :class:`~minime.studies.Results` key: ``record[key][bucket]`` of task ``task``.

    Single-task records hold one value (``record["tasks"]`` says which task); a record that
    does not predict ``task`` raises KeyError, so tables leave its cell blank.

    Example:
        >>> task_value("auc", "all", 1)({"tasks": [1], "auc": {"all": [0.7]}})
        0.7
    """
    def read(record: dict) -> float:
        if task not in record["tasks"]:
            raise KeyError(f"{record['label']!r} does not predict task {task}")
        return record[key][bucket][record["tasks"].index(task)]

    return read


def entanglement_study(split: Split, specs: Mapping[str, tuple[str, dict]], *,
                       config: models.MTLConfig | str | None = None,
                       train_config: train.TrainConfig | Mapping[str, train.TrainConfig] | None = None,
                       seeds: Sequence[int] = (0,), user_field: str = "user_id",
                       item_field: str = "item_id", conflict: str | None = "conflict",
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
        split: rows with T ≥ 2 tasks, e.g. ``make_world("multitask").split()`` or any table.
        specs: label -> ``(model name, build keywords)``, e.g. ``{"STEM": ("stem", {})}``.
        config: the MTLConfig (or preset name) of every model, single-task ones included.
        train_config: how to train (default ``TrainConfig()``), or ``{label: TrainConfig}`` for
            every label of ``specs`` and every single-task label (:func:`single_label`) to train
            each model its own way, e.g. with its tuned learning rate
            (:func:`minime.studies.tune`); ``seed`` is replaced per seed.
        seeds: one run of every model per seed.
        user_field, item_field: the fields whose embeddings the distances compare (and, for
            the user, whose rows the feedback split groups).
        conflict: a bool meta column flagging the rows of users whose tasks disagree: adds the
            buckets "conflict" and "other", and the distances use those users' pairs; None: no
            such buckets, and the distances use every distinct test pair.
        feedback: ``(low, high)`` thresholds of the split by relative positive feedback on tasks
            1 and 2 (:func:`minime.analysis.feedback_buckets`, rates from ``split.train``), whose
            buckets ``"<task 1>-dominated"``, ``"comparable"``, ``"<task 2>-dominated"`` join
            the others; None: no such buckets.
        measure: ``measure(model, split) -> dict`` of plain values added to every multi-task
            record (e.g. :func:`user_gradient_cosines`); part of the cache key by name and source.
        cache: True: the default cache folder; a path: that folder; False: always train.
        progress: a text bar over the runs.
        device: where to train; default :func:`minime.train.device`.

    Returns:
        :class:`~minime.studies.Results`, one record per (seed, model), single-task models
        first: label, model, options, seed, tasks (the task indices it predicts), seconds, epochs,
        best_epoch, history (per-epoch train loss and validation AUC; :func:`as_history` wraps
        it), auc and logloss (bucket -> per task it predicts), transfer (bucket -> AUC − single-task AUC
        per task; multi-task models only), distances (set name, :func:`set_names` -> distances
        of the distinct test pairs, in :func:`minime.analysis.distinct_pairs` order), gates
        (bucket -> (T, E) mean gate weights, for every bucket with rows; multi-task models
        only), owners (each expert's
        task, T = shared).

    Raises:
        ValueError: fewer than two tasks, or a field or meta column the split does not have
            (the message names it).
    """
    test = split.test
    _check_columns(test, user_field, item_field, conflict)
    buckets = {"all": np.ones(test.num_rows, dtype=bool)}
    if conflict is not None:
        buckets.update(analysis.conflict_buckets(test, conflict))
    if feedback is not None:
        buckets.update(analysis.feedback_buckets(test, group=user_field, low=feedback[0],
                                                 high=feedback[1], history=split.train))
    pairs = analysis.distinct_pairs(test, user_field, item_field, mask=conflict)
    config, dev = models.resolve_mtl_config(config), resolve_device(device)
    fields = dict(user_field=user_field, item_field=item_field, field_names=test.field_names)
    shared = {"study": "entanglement", "config": stable(config), "device": dev.type,
              "data": data_fingerprint(split), "code": code_version(),
              "fields": [user_field, item_field], "conflict": conflict,
              "feedback": stable(feedback), "measure": stable(measure)}
    runs = [(seed, single_label(t), "single_task", {}, [t])
            for seed in seeds for t in range(test.num_tasks)]
    runs += [(seed, label, name, dict(options), list(range(test.num_tasks)))
             for seed in seeds for label, (name, options) in specs.items()]
    trainers = per_arm(train_config, dict.fromkeys(run[1] for run in runs), "label")

    def key(run) -> dict:
        seed, label, name, options, tasks = run
        return {**shared, "model": name, "label": label, "options": stable(options), "seed": seed,
                "tasks": tasks, "train": train_key(seeded(trainers[label], seed))}

    def compute(run) -> dict:
        seed, label, name, options, tasks = run
        net, rows, part = fit_model(name, options, split, config, seeded(trainers[label], seed),
                                    dev, tasks)
        logits = models.predict(net, rows.test)
        record = {"label": label, "model": name, "options": stable(options), "seed": seed,
                  "tasks": tasks, **part, "auc": analysis.bucket_auc(logits, rows.test, buckets),
                  "logloss": analysis.bucket_logloss(logits, rows.test, buckets),
                  "distances": {table: analysis.user_item_distances(net, pairs, embedding_set=k,
                                                                    **fields)
                                for table, k in set_names(net, len(tasks)).items()}}
        if name == "single_task":
            return record
        record["gates"] = {b: analysis.gate_weights(net, rows.test, mask=m)
                           for b, m in buckets.items() if m.any()}  # an empty bucket has none
        record["owners"] = net.expert_owners()
        return add_measured(record, measure(net, split) if measure is not None else {})

    results = run_all(runs, key, compute, cache=cache, progress=progress,
                      desc="entanglement study")
    for record in results:
        if record["model"] != "single_task":
            reference = [_single_auc(results, record["seed"], t) for t in record["tasks"]]
            record["transfer"] = analysis.transfer(record["auc"], reference)
    return results


def _single_auc(results: Results, seed: int, task: int) -> dict:
    """The ``auc`` of the single-task model of ``task`` trained with ``seed``."""
    return results.select(label=single_label(task), seed=seed)[0]["auc"]


def _check_columns(test: TensorData, user_field: str, item_field: str,
                   conflict: str | None) -> None:
    """A clear ValueError for a study on rows that lack what it needs."""
    if test.num_tasks < 2:
        raise ValueError(f"the entanglement study needs ≥ 2 tasks; the test rows have "
                         f"{test.num_tasks} ({', '.join(test.task_names)})")
    for what, field in (("user_field", user_field), ("item_field", item_field)):
        if field not in test.field_names and not isinstance(field, int):
            raise ValueError(f"{what}={field!r} is not a field of the data; its fields are "
                             f"{', '.join(test.field_names)}")
    if conflict is not None and conflict not in test.meta:
        raise ValueError(f"conflict={conflict!r} is not a meta column of the data (it has "
                         f"{', '.join(test.meta) or 'none'}); pass conflict=None for data "
                         "without a conflict flag")


def user_gradient_cosines(net: torch.nn.Module, split: Split, *, rows: int = 32_768,
                          user_field: str = "user_id", conflict: str = "conflict") -> dict:
    """A ``measure`` for :func:`entanglement_study`: do the tasks agree on a user's shared row?

    On the first ``rows`` test rows, :func:`minime.analysis.row_gradient_cosines` of tasks 1 and
    2 on every user's row of the one embedding set, averaged over the conflict users (those whose
    rows carry ``conflict``) and over the other users present. Models with several embedding
    sets (STEM-Net, ME-MMoE) give ``{}``.

    Returns:
        ``{"grad_cos_conflict": mean, "grad_cos_other": mean}`` or ``{}``.
    """
    embedding = getattr(net, "embedding", None)
    if embedding is None or embedding.num_embeddings != 1:
        return {}
    part = split.test.subset(torch.arange(min(rows, split.test.num_rows)))
    field = part.field_index(user_field)
    cos = analysis.row_gradient_cosines(net, part.x, part.y, field=field)  # (V_user,)
    users = part.column(field).cpu().numpy()
    flagged = np.zeros(len(cos), dtype=bool)
    flagged[users[part.meta[conflict].cpu().numpy().astype(bool)]] = True
    seen = ~np.isnan(cos)
    return {"grad_cos_conflict": float(cos[seen & flagged].mean()),
            "grad_cos_other": float(cos[seen & ~flagged].mean())}


def bucket_table(results: Results, task_names: Sequence[str], key: str = "auc",
                 buckets: Sequence[str] = ("all", "conflict", "other")):
    """A table of ``mean ± std`` over seeds of ``key`` ("auc", "logloss", "transfer"): one row per
    model, a column per task and bucket, then the best epoch and the epochs trained (every
    comparison says how long its models trained). Single-task models fill only their own task's
    columns.

    Example:
        >>> from minime.studies.results import Results
        >>> runs = Results([{"label": "M", "tasks": [0, 1], "auc": {"all": [0.7, 0.6]},
        ...                  "best_epoch": 2, "epochs": 4}])
        >>> bucket_table(runs, ("click", "buy"), buckets=("all",)).rows
        [['M', '0.7000 ± 0.0000', '0.6000 ± 0.0000', '2.0 ± 0.0', '4.0 ± 0.0']]
    """
    columns = {f"{name}: {b}": task_value(key, b, t)
               for t, name in enumerate(task_names) for b in buckets}
    return results.table({**columns, **EPOCHS}, digits={k: 1 for k in EPOCHS})


def bucket_means(results: Results, task_names: Sequence[str], key: str = "transfer",
                 buckets: Sequence[str] = ("conflict", "other")) -> dict[str, dict[str, float]]:
    """``{label: {"<task>: <bucket>": mean over seeds of key}}`` for every multi-task model: the
    input of :func:`minime.plots.bucket_bars` (single-task models, which lack ``key``, are left out).

    Example:
        >>> from minime.studies.results import Results
        >>> runs = Results([{"label": "M", "seed": s, "tasks": [0, 1],
        ...                  "transfer": {"all": [0.01 * s, -0.02]}} for s in (1, 3)])
        >>> bucket_means(runs, ("click", "buy"), buckets=("all",))
        {'M': {'click: all': 0.02, 'buy: all': -0.02}}
    """
    labels = [label for label in results.unique("label")
              if all(key in r for r in results.select(label=label))]
    return {label: {f"{name}: {b}": results.stat(task_value(key, b, t), label=label).mean
                    for t, name in enumerate(task_names) for b in buckets} for label in labels}


def as_history(record: dict) -> train.History:
    """A record's training log as a :class:`minime.train.History` (for ``plots.training_curves``)."""
    return train.History(epochs=record["history"], best_epoch=record["best_epoch"],
                         best_valid_auc=record["history"][record["best_epoch"] - 1]["valid_auc_mean"],
                         seconds=record["seconds"])
