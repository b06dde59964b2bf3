"""The result cache of the studies: one JSON file per trained model, named by what made it.

A study builds a *key* for every run: a plain dict of everything the result depends on (the
configurations by :func:`stable`, the data by :func:`data_fingerprint`, the code by
:func:`code_version`, the device type). :func:`cached` loads the record stored under that key, or
computes, stores and returns it. A rerun with the same code, configuration and data loads instead
of training; any change retrains. Files hold plain JSON (numbers, strings, lists; NaN as Python
writes it), never a model, in ``$MINIME_CACHE`` (default ``~/.cache/minime/results``).

Example:
    >>> import tempfile
    >>> folder, calls = tempfile.mkdtemp(), []
    >>> def compute():
    ...     calls.append(1)
    ...     return {"auc": 0.75}
    >>> key = {"study": "demo", "model": "m", "seed": 0}
    >>> cached(key, folder, compute), cached(key, folder, compute), len(calls)
    (({'auc': 0.75}, False), ({'auc': 0.75}, True), 1)
    >>> clear_cache(folder)
    1
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import json
import numbers
import os
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from minime.data import Split

__all__ = ["CACHE_ENV", "CODE_MODULES", "cache_dir", "cached", "clear_cache", "code_version",
           "data_fingerprint", "folder", "plain", "stable"]

CACHE_ENV = "MINIME_CACHE"  # the environment variable naming the cache directory
#: The parts of minime a trained result depends on (files, or packages hashed whole).
CODE_MODULES = ("analysis", "data", "models", "studies", "blocks.py", "embedding.py",
                "experts.py", "interaction.py", "metrics.py", "optimizers.py", "train.py")


def cache_dir() -> Path:
    """The result cache: ``$MINIME_CACHE`` if set, else ``~/.cache/minime/results``."""
    return Path(os.environ.get(CACHE_ENV) or "~/.cache/minime/results").expanduser()


def folder(cache: bool | str | os.PathLike) -> Path | None:
    """A study's ``cache`` argument as a folder: True -> :func:`cache_dir`, False -> None."""
    return None if cache is False else cache_dir() if cache is True else Path(cache).expanduser()


def clear_cache(where: str | os.PathLike | None = None) -> int:
    """Delete every stored study result in ``where`` (default :func:`cache_dir`); count them."""
    files = list(Path(where or cache_dir()).expanduser().glob("*-seed*-*.json"))
    for path in files:
        path.unlink(missing_ok=True)
    return len(files)


def code_version() -> str:
    """A hash of the source of the minime modules results depend on (:data:`CODE_MODULES`).

    Example:
        >>> len(code_version())
        16
    """
    root = Path(__file__).parent.parent
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
        if part.label_mask is not None:
            digest.update(part.label_mask.detach().cpu().contiguous().numpy())
    return digest.hexdigest()


def cached(key: dict, where: Path | str | None,
           compute: Callable[[], dict]) -> tuple[dict, bool]:
    """The record stored under ``key`` in ``where``, else ``compute()``'s, made plain and stored.

    Args:
        key: a plain dict with at least ``study``, ``model`` and ``seed`` (they name the file).
        where: the cache folder, or None to compute without storing.
        compute: makes the record (trains a model) when none is stored.

    Returns:
        ``(record, loaded)``: the record as plain JSON values, and whether it came from the cache.
    """
    record = load(key, where) if where is not None else None
    if record is not None:
        return record, True
    record = plain(compute())
    if where is not None:
        store(key, record, Path(where))
    return record, False


def load(key: dict, where: Path | str) -> dict | None:
    """The stored record of ``key``, or None (absent, unreadable or another key)."""
    try:
        stored = json.loads(_path(key, Path(where)).read_text())
    except (OSError, ValueError):
        return None
    return stored.get("record") if stored.get("key") == key else None


def store(key: dict, record: dict, where: Path) -> None:
    """Write ``{"key", "record"}`` atomically: a temporary file in the same folder, renamed."""
    path = _path(key, where)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(handle, "w") as f:
            json.dump({"key": key, "record": record}, f, indent=1)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _path(key: dict, where: Path) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    sizes = f"-s{key['scale']}-K{key['base_dim']}" if "scale" in key else ""
    model = str(key["model"]).replace("/", "_")
    return where / f"{key['study']}-{model}{sizes}-seed{key['seed']}-{digest}.json"


def plain(obj, strict: bool = True):
    """``obj`` as plain JSON values (dict order kept).

    Tensors and arrays become lists, numpy scalars Python numbers. Anything else raises a
    TypeError if ``strict``; otherwise it gets a stable description (see :func:`stable`).

    Example:
        >>> plain({"b": np.float32(0.5), "a": torch.tensor([1, 2])})
        {'b': 0.5, 'a': [1, 2]}
    """
    if isinstance(obj, (torch.Tensor, np.ndarray)):
        obj = obj.tolist()
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (numbers.Integral, numbers.Real)):
        return int(obj) if isinstance(obj, numbers.Integral) else float(obj)
    if isinstance(obj, dict):
        return {str(k): plain(v, strict) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v, strict) for v in obj]
    if strict:
        raise TypeError(f"a {type(obj).__name__} in the results; they hold plain numbers only")
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
        return plain({"type": type(obj).__qualname__, **fields}, strict)
    if isinstance(obj, functools.partial):
        return plain({"partial": obj.func, "args": obj.args, "keywords": obj.keywords}, strict)
    return _callable_name(obj) if callable(obj) else repr(obj)


def stable(obj):
    """A JSON-able description of a configuration value that is the same in every process.

    Dataclasses field by field, ``functools.partial`` by function, args and keywords, callables
    by qualified name and a hash of their source (a lambda, a notebook cell's function).

    Example:
        >>> stable(functools.partial(max, 1))
        {'partial': 'builtins.max', 'args': [1], 'keywords': {}}
    """
    return plain(obj, strict=False)


def _callable_name(fn) -> str:
    """``module.qualname`` plus a hash of the source where it can be read (a lambda, a cell)."""
    name = f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', type(fn).__qualname__)}"
    try:
        source = inspect.getsource(fn)
    except (OSError, TypeError):
        return name
    return f"{name}#{hashlib.sha256(source.encode()).hexdigest()[:12]}"
