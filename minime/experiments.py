"""Experiments chapters run more than once: a scaling study of single vs multi-embedding, cached.

:func:`scaling_study` trains, for every seed and scale s, a single-embedding model of width
``s·K`` (SE) and a multi-embedding model of ``s`` sets of width ``K`` (ME): the same embedding
parameters (Guo et al., ICML 2024, §6). Each run is one JSON file in a cache folder
(``$MINIME_CACHE``, default ``~/.cache/minime/results``) named by a hash of the configuration
(every field of the CTRConfig / MEConfig / TrainConfig but ``progress``; callables by qualified
name and source hash, a ``functools.partial`` by function, args and keywords), the data
(:func:`data_fingerprint`), the code (:func:`code_version`) and the device type. A rerun with the
same code, configuration and data loads instead of training; any change retrains. Files hold plain
JSON (numbers, strings, lists; NaN as Python writes it), never a model.

Example:
    >>> import shutil, tempfile
    >>> from minime import data, experiments, models, train
    >>> folder = tempfile.mkdtemp()  # chapters use the default cache_dir() (cache=True)
    >>> split = data.make_world("tiny", num_rows=400).split()
    >>> study = dict(model="dnn", kinds=("SE",), scales=(1, 2), seeds=(0,), base_dim=4,
    ...              config="small", train_config=train.TrainConfig(epochs=1, progress=False),
    ...              cache=folder, progress=False)
    >>> runs = experiments.scaling_study(split, **study)
    >>> [(r["kind"], r["scale"], r["embedding_dim"]) for r in runs], runs.cached
    ([('SE', 1, 4), ('SE', 2, 8)], 0)
    >>> again = experiments.scaling_study(split, **study)  # loaded, not trained
    >>> again == runs, again.cached
    (True, 2)
    >>> shutil.rmtree(folder)
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import itertools
import json
import numbers
import os
import tempfile
import warnings
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from minime import analysis, models, train
from minime.data.batches import Split

__all__ = ["Results", "cache_dir", "clear_cache", "code_version", "data_fingerprint",
           "scaling_study"]

CACHE_ENV = "MINIME_CACHE"  # the environment variable naming the cache directory
KINDS = ("SE", "ME")
STUDIES = ("scaling", "entanglement", "routing")  # the studies whose records share the cache folder
#: The parts of minime a trained result depends on (files, or packages hashed whole).
CODE_MODULES = ("analysis", "data", "models", "embedding.py", "experiments.py",
                "interaction.py", "metrics.py", "train.py", "experts.py", "mtl_study.py")

Measure = Callable[[torch.nn.Module, Split], dict]


class Results(list):
    """The records of a study: a list of plain dicts, one per trained model, with grouping helpers.

    ``cached`` counts the records loaded from the cache instead of trained.

    Example:
        >>> runs = Results([{"kind": "SE", "scale": 1, "test_auc": 0.5},
        ...                 {"kind": "SE", "scale": 1, "test_auc": 1.0}])
        >>> len(runs.by("SE", 1)), runs.summary("test_auc")[("SE", 1)]
        (2, (0.75, 0.3535533905932738))
    """

    cached: int = 0

    def by(self, kind: str | None = None, scale: int | None = None) -> "Results":
        """The records of one kind ("SE"/"ME") and/or one scale, in order."""
        return Results(r for r in self if kind in (None, r["kind"]) and scale in (None, r["scale"]))

    def summary(self, key: str = "test_auc") -> dict[tuple[str, int], tuple[float, float]]:
        """``{(kind, scale): (mean, std)}`` of ``key`` over seeds (sample std, ddof=1; 0 for one)."""
        groups: dict[tuple[str, int], list[float]] = {}
        for r in self:
            groups.setdefault((r["kind"], r["scale"]), []).append(r[key])
        return {g: (float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0)
                for g, v in groups.items()}

    def table(self, keys: Sequence[str] = ("test_auc", "ia")) -> str:
        """A text table: one line per (kind, scale), ``mean ± std`` over seeds of every key."""
        stats = [self.summary(k) for k in keys]
        lines = [f"{'kind':<5}{'scale':>6}" + "".join(f"{k:>21}" for k in keys)]
        for kind, scale in stats[0]:
            cells = "".join(f"{s[(kind, scale)][0]:>12.4f} ± {s[(kind, scale)][1]:<6.4f}"
                            for s in stats)
            lines.append(f"{kind:<5}{scale:>6}{cells}")
        return "\n".join(lines)


def scaling_study(split: Split, *, model: str = "dcnv2", base_dim: int = 4,
                  scales: Sequence[int] = (1, 2, 4), seeds: Sequence[int] = (0, 1, 2),
                  config: models.CTRConfig | str | None = None,
                  train_config: train.TrainConfig | None = None, me_options=None,
                  measure: Measure | None = None, group: str | None = None,
                  kinds: Sequence[str] = KINDS, cache: bool | str | os.PathLike = True,
                  progress: bool = True, device: torch.device | str | None = None,
                  se_model: str | None = None) -> Results:
    """Train SE (width s·K) and ME (s sets of width K) for every scale s and seed; cached.

    For each run: ``train.set_seed(seed)``, build (``models.build(model, ...)`` with
    ``embedding_dim = s·K``, or ``models.build("me_" + model, ..., me=MEConfig(num_embeddings=s))``
    with ``embedding_dim = K``), ``train.fit`` on ``split.train`` / ``split.valid`` with the
    train config's ``seed`` set to ``seed`` too, then measure. At s = 1 both kinds are trained:
    ME with one set has SE's architecture (me_dcnv2 reproduces dcnv2's numbers at the same seed),
    which checks the pairing at the cost of the cheapest run.

    Args:
        split: ``(train, valid, test)`` TensorData, e.g. ``world.split()``.
        model: a single-embedding name of :data:`minime.models.MODELS` (``"me_" + model`` must
            exist for ME).
        base_dim: K, the width of one set.
        scales: the scale factors s.
        seeds: one run per seed and configuration.
        config: the CTRConfig (or preset name) whose ``embedding_dim`` is replaced.
        train_config: how to train (default ``TrainConfig()``); ``seed`` is replaced by each seed.
        me_options: the rest of the ME config: a dict of ``MEConfig`` keywords, or an
            ``MEConfig`` whose ``num_embeddings`` is replaced by s.
        measure: ``measure(model, split) -> dict`` of plain numbers added to every record.
        group: a field name: adds the test GAUC grouped by it (e.g. ``"user_id"``).
        kinds: which of ``("SE", "ME")`` to train.
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
    config = dataclasses.replace(models.resolve_config(config), embedding_dim=base_dim)
    train_config = train_config or train.TrainConfig()
    dev = torch.device(device) if device is not None else train.device()
    shared = {"study": "scaling", "base_dim": base_dim, "group": group, "device": dev.type,
              "measure": _stable(measure), "data": data_fingerprint(split), "code": code_version()}
    folder, results = _folder(cache), Results()
    for scale, seed, kind in _bar(list(itertools.product(scales, seeds, kinds)), progress):
        name, ctr, me = _configs(kind, se_model or model, model, scale, config, me_options)
        trainer = dataclasses.replace(train_config, seed=seed)
        key = {**shared, "kind": kind, "model": name, "scale": scale, "seed": seed,
               "config": _stable(ctr), "me": _stable(me),
               "train": _stable(dataclasses.replace(trainer, progress=False))}  # bar aside
        results.append(_cached(results, key, folder, lambda: {
            **{k: key[k] for k in ("kind", "model", "scale", "seed", "base_dim")},
            **_run(name, ctr, me, trainer, split, measure, group, dev)}))
    return results


def _configs(kind: str, se_model: str, model: str, scale: int, config, me_options) -> tuple:
    """(model name, CTRConfig, MEConfig or None) of one kind at one scale; config has width K."""
    if kind == "SE":
        wide = dataclasses.replace(config, embedding_dim=config.embedding_dim * scale)
        one_set = _me_config(1, me_options) if se_model.startswith("me_") else None
        return se_model, wide, one_set
    return f"me_{model}", config, _me_config(scale, me_options)


def _me_config(scale: int, me_options):
    """``MEConfig(num_embeddings=scale, ...)`` from a dict of keywords or an MEConfig."""
    MEConfig = getattr(models, "MEConfig", None)
    if MEConfig is None:
        raise RuntimeError("minime.models has no MEConfig: multi-embedding models are missing")
    if isinstance(me_options, MEConfig):
        return dataclasses.replace(me_options, num_embeddings=scale)
    return MEConfig(num_embeddings=scale, **(me_options or {}))


def _run(name, ctr, me, trainer, split: Split, measure, group, dev) -> dict:
    """Seed, build, train, evaluate and measure one configuration: its results."""
    train.set_seed(trainer.seed)
    extra = {} if me is None else {"me": me}
    net = models.build(name, split.train.field_dims, ctr, num_tasks=split.train.num_tasks, **extra)
    history = train.fit(net, split.train, split.valid, trainer, device=dev)
    test = train.evaluate(net, split.test, group=group)
    sets = 1 if me is None else me.num_embeddings
    record = {"embedding_dim": ctr.embedding_dim, "total_dim": ctr.embedding_dim * sets,
              "num_embeddings": sets, "num_params": models.num_parameters(net),
              "test_auc": test["auc_mean"], "test_auc_tasks": test["auc"],
              "test_logloss_tasks": test["logloss"], "valid_auc": history.best_valid_auc,
              "best_epoch": history.best_epoch, "epochs": len(history.epochs),
              "seconds": history.seconds, **_ia_record(net, split.train)}
    if group is not None:
        record.update(test_gauc=float(np.mean(test["gauc"])), test_gauc_tasks=test["gauc"])
    for key, value in (measure(net, split) if measure is not None else {}).items():
        if key in record or key in ("kind", "model", "scale", "seed", "base_dim"):
            raise ValueError(f"measure returned {key!r}, which the study already records")
        record[key] = value
    return record


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


def _bar(runs: list, progress: bool, desc: str = "scaling study"):
    """The runs, under a text tqdm bar (stderr) when ``progress``."""
    if not progress:
        return runs
    from tqdm.std import tqdm
    return tqdm(runs, desc=desc, unit="model", leave=False)


# --- the cache ------------------------------------------------------------------------------------

def cache_dir() -> Path:
    """The result cache: ``$MINIME_CACHE`` if set, else ``~/.cache/minime/results``."""
    return Path(os.environ.get(CACHE_ENV) or "~/.cache/minime/results").expanduser()


def clear_cache(folder: str | os.PathLike | None = None) -> int:
    """Delete every stored study result in ``folder`` (default :func:`cache_dir`); count them."""
    root = Path(folder or cache_dir()).expanduser()
    files = [p for study in STUDIES for p in root.glob(f"{study}-*.json")]
    for path in files:
        path.unlink(missing_ok=True)
    return len(files)


def code_version() -> str:
    """A hash of the source of the minime modules results depend on (:data:`CODE_MODULES`).

    Example:
        >>> len(code_version())
        16
    """
    root = Path(__file__).parent
    digest = hashlib.sha256()
    for name in CODE_MODULES:
        path = root / name
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            digest.update(str(file.relative_to(root)).encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()[:16]


def data_fingerprint(split: Split) -> str:
    """A sha256 of the shapes, names, ids and labels of every part of a split (meta aside).

    Hashes the raw bytes: about 0.06 s for 1M rows of 6 fields on one CPU core.

    Example:
        >>> from minime import data
        >>> split = data.make_world("tiny", num_rows=200).split()
        >>> data_fingerprint(split) == data_fingerprint(split), len(data_fingerprint(split))
        (True, 64)
    """
    digest = hashlib.sha256()
    for part in split:
        names = (part.field_dims, part.field_names, part.task_names)
        digest.update(repr((tuple(part.x.shape), tuple(part.y.shape), names)).encode())
        for tensor in (part.x, part.y):
            digest.update(tensor.detach().cpu().contiguous().numpy())  # raw bytes, no copy
    return digest.hexdigest()


def _path(key: dict, folder: Path) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    sizes = f"-s{key['scale']}-K{key['base_dim']}" if "scale" in key else ""
    name = f"{key['study']}-{key['model']}{sizes}-seed{key['seed']}"
    return folder.expanduser() / f"{name}-{digest}.json"


def _folder(cache: bool | str | os.PathLike) -> Path | None:
    """A study's ``cache`` argument as a folder: True -> :func:`cache_dir`, False -> None."""
    return None if cache is False else cache_dir() if cache is True else Path(cache)


def _cached(results: Results, key: dict, folder: Path | None, compute: Callable[[], dict]) -> dict:
    """The stored record of ``key`` (counted in ``results.cached``), else ``compute()``'s,
    made plain and stored."""
    record = _load(key, folder) if folder else None
    results.cached += record is not None
    if record is None:
        record = _plain(compute())
        if folder:
            _store(key, record, folder)
    return record


def _load(key: dict, folder: Path) -> dict | None:
    """The stored record of ``key``, or None (absent, unreadable or another key)."""
    try:
        stored = json.loads(_path(key, folder).read_text())
    except (OSError, ValueError):
        return None
    return stored.get("record") if stored.get("key") == key else None


def _store(key: dict, record: dict, folder: Path) -> None:
    """Write ``{"key", "record"}`` atomically: a temporary file in the same folder, renamed."""
    path = _path(key, folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(handle, "w") as f:
            json.dump({"key": key, "record": record}, f, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _plain(obj, strict: bool = True):
    """``obj`` as plain JSON values, dict keys sorted; TypeError for anything else if ``strict``,
    else a stable description: dataclasses field by field, callables by :func:`_callable_name`."""
    if isinstance(obj, (torch.Tensor, np.ndarray)):
        obj = obj.tolist()
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (numbers.Integral, numbers.Real)):
        return int(obj) if isinstance(obj, numbers.Integral) else float(obj)
    if isinstance(obj, dict):
        return {str(k): _plain(obj[k], strict) for k in sorted(obj, key=str)}
    if isinstance(obj, (list, tuple)):
        return [_plain(v, strict) for v in obj]
    if strict:
        raise TypeError(f"a {type(obj).__name__} in the results; they hold plain numbers only")
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
        return _plain({"type": type(obj).__qualname__, **fields}, strict)
    if isinstance(obj, functools.partial):
        return _plain({"partial": obj.func, "args": obj.args, "keywords": obj.keywords}, strict)
    return _callable_name(obj) if callable(obj) else repr(obj)


def _stable(obj):
    """A JSON-able description of a config value that is the same in every process."""
    return _plain(obj, strict=False)


def _callable_name(fn) -> str:
    """``module.qualname`` plus a hash of the source where it can be read (a lambda, a cell)."""
    name = f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', type(fn).__qualname__)}"
    try:
        source = inspect.getsource(fn)
    except (OSError, TypeError):
        return name
    return f"{name}#{hashlib.sha256(source.encode()).hexdigest()[:12]}"

