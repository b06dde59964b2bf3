"""One setting tuned per arm on validation, so that each arm of a comparison gets its best shot.

A fair comparison does not train every arm with one learning rate picked for one of them: each
arm (SE and ME, MMoE and STEM ...) gets the value of a small grid that gives it the best mean
validation AUC. :func:`tune` runs a study once per value and reads off the best value per arm;
the test data is never looked at.

Example:
    >>> def study(lr):  # stands in for a real study: arm A likes a small rate, B a large one
    ...     return Results([{"label": "A", "seed": 0, "valid_auc": 0.7 - lr},
    ...                     {"label": "B", "seed": 0, "valid_auc": 0.7 + lr}])
    >>> tuned = tune(study, (1e-3, 3e-3))
    >>> tuned.best
    {'A': 0.001, 'B': 0.003}
    >>> len(tuned.results), tuned.results[0]["lr"]
    (4, 0.001)
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from minime.studies.results import Key, Results, read

__all__ = ["Tuned", "rates_text", "tune", "valid_auc"]


def valid_auc(record: dict) -> float:
    """A study record's mean validation AUC at its best epoch (the score :func:`tune` uses).

    Reads ``record["valid_auc"]`` where the study stores it, else the best epoch of its
    ``history`` (``record["history"][best_epoch - 1]["valid_auc_mean"]``).

    Example:
        >>> valid_auc({"best_epoch": 2, "history": [{"valid_auc_mean": 0.6},
        ...                                         {"valid_auc_mean": 0.7}]})
        0.7
    """
    if "valid_auc" in record:
        return float(record["valid_auc"])
    try:
        return float(record["history"][record["best_epoch"] - 1]["valid_auc_mean"])
    except (KeyError, IndexError, TypeError) as error:
        raise KeyError(f"the record has neither 'valid_auc' nor a 'history' with 'best_epoch' "
                       f"(it has {sorted(record)})") from error


class Tuned(NamedTuple):
    """What :func:`tune` found: the best value per arm and every tuning record."""

    best: dict  # {arm: the grid value with the best mean score}
    scores: dict  # {arm: {value: mean score}}
    results: Results  # every record of every run, with the tuned value under the setting's name


def tune(run: Callable[[Any], Results], grid: Sequence, *, by: str = "label",
         score: Key = valid_auc, name: str = "lr") -> Tuned:
    """``run(value)`` for every value of ``grid``; for each arm, the value with the best score.

    Args:
        run: trains (or loads from the cache) a study with one value of the setting and
            returns its :class:`Results`, e.g.
            ``lambda lr: studies.scaling_study(..., train_config=TrainConfig(lr=lr))``.
        grid: the values to try, e.g. learning rates ``(1e-3, 3e-3)``. On a tie the earlier
            value wins.
        by: the record field naming the arms (``"kind"`` for the scaling study).
        score: what to maximise, averaged over an arm's records at one value (default: the
            validation AUC at the best epoch; never a test metric).
        name: the key under which each tuning record stores its value.

    Returns:
        :class:`Tuned`. An arm whose score is NaN at every value gets the first value.

    Raises:
        ValueError: for an empty grid, a run that returns no records, or records that already
            hold a different ``name``.
    """
    grid = list(grid)
    if not grid:
        raise ValueError("tune needs at least one value in grid")
    records = Results()
    for value in grid:
        rows = run(value)
        if not rows:
            raise ValueError(f"run({name}={value!r}) returned no records")
        for r in rows:
            if name in r and r[name] != value:
                raise ValueError(f"a record of run({name}={value!r}) already has {name}="
                                 f"{r[name]!r}; pass another name=")
            records.append({**r, name: value})
        records.cached += getattr(rows, "cached", 0)
    best, scores = {}, {}
    for arm, rows in records.group(by).items():
        scores[arm] = {v: float(np.mean([read(r, score) for r in rows if r[name] == v]))
                       if any(r[name] == v for r in rows) else math.nan for v in grid}
        finite = [v for v in grid if not math.isnan(scores[arm][v])]
        best[arm] = max(finite, key=lambda v: scores[arm][v]) if finite else grid[0]
    return Tuned(best, scores, records)


def rates_text(lrs: Sequence[float], full_lrs: Sequence[float], *, arm: str = "arm",
               how: str = "on the first seed") -> str:
    """How a chapter chose each arm's learning rate, in words that match what its run did.

    With several rates the arms were tuned; with one (a scale whose time allows one rate), every
    arm got it, and the sentence says what ``MINIME_SCALE=full`` tunes over instead.

    Example:
        >>> rates_text((1e-3, 3e-3), (1e-3, 3e-3), arm="model")
        'each model gets the one of 0.001, 0.003 with the best validation AUC on the first seed'
        >>> rates_text((3e-3,), (1e-3, 3e-3))
        '0.003 for every arm, the one rate this scale has time for (`MINIME_SCALE=full` gives each arm the one of 0.001, 0.003 with the best validation AUC on the first seed)'
    """
    def best_of(grid):
        return f"the one of {', '.join(f'{lr:g}' for lr in grid)} with the best validation AUC {how}"

    if len(lrs) > 1:
        return f"each {arm} gets {best_of(lrs)}"
    return (f"{lrs[0]:g} for every {arm}, the one rate this scale has time for "
            f"(`MINIME_SCALE=full` gives each {arm} {best_of(full_lrs)})")
