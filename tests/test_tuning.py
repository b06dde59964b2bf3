"""minime.studies.tune: the best value per arm on validation, checked against a direct computation."""

import math

import numpy as np
import pytest

from minime import studies
from minime.studies import Results


def _study(table):
    """A study whose valid AUC per (arm, seed) at each lr comes from `table`; counts its calls."""
    calls = []

    def run(lr):
        calls.append(lr)
        return Results({"kind": arm, "seed": seed, "valid_auc": table[arm][lr][seed]}
                       for arm in table for seed in range(len(table[arm][lr])))
    return run, calls


def test_best_value_per_arm_is_the_best_mean_validation_score():
    rng = np.random.default_rng(0)
    grid = (1e-3, 3e-3, 1e-2)
    table = {arm: {lr: rng.uniform(0.6, 0.8, size=3).tolist() for lr in grid} for arm in ("SE", "ME")}
    run, calls = _study(table)
    tuned = studies.tune(run, grid, by="kind")
    assert calls == list(grid) and len(tuned.results) == 2 * 3 * 3
    for arm in ("SE", "ME"):
        means = {lr: float(np.mean(table[arm][lr])) for lr in grid}
        assert tuned.best[arm] == max(means, key=means.get)
        assert tuned.scores[arm] == pytest.approx(means)
    assert {r["lr"] for r in tuned.results} == set(grid)


def test_ties_go_to_the_first_value_and_nan_arms_to_the_first():
    run, _ = _study({"A": {1: [0.7], 2: [0.7]}, "B": {1: [math.nan], 2: [math.nan]}})
    assert studies.tune(run, (2, 1), by="kind").best == {"A": 2, "B": 2}


def test_the_score_falls_back_to_the_history_of_the_best_epoch():
    record = {"label": "STEM", "seed": 0, "best_epoch": 2,
              "history": [{"valid_auc_mean": 0.61}, {"valid_auc_mean": 0.64}]}
    tuned = studies.tune(lambda lr: Results([dict(record)]), (0.1,))
    assert tuned.scores == {"STEM": {0.1: 0.64}}
    with pytest.raises(KeyError, match="neither 'valid_auc' nor a 'history'"):
        studies.valid_auc({"label": "x"})


def test_bad_grids_and_runs_are_clear_errors():
    with pytest.raises(ValueError, match="at least one value"):
        studies.tune(lambda lr: Results(), ())
    with pytest.raises(ValueError, match="returned no records"):
        studies.tune(lambda lr: Results(), (1,))
    with pytest.raises(ValueError, match="already has lr"):
        studies.tune(lambda lr: Results([{"label": "a", "lr": 5, "valid_auc": 0.5}]), (1,))
