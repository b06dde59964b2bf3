"""minime.metrics: AUC and GAUC against sklearn, logloss against sklearn, input handling."""

import doctest

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import log_loss, roc_auc_score

from minime import metrics

FAST = settings(max_examples=60, deadline=None)

# rows of (label, score from a small set so ties abound, group from a small set)
SCORES = [-1.0, 0.0, 0.25, 0.5, 0.5001, 3.0]
row = st.tuples(st.integers(0, 1), st.sampled_from(SCORES), st.integers(0, 5))
rows = st.lists(row, min_size=1, max_size=60)


def _columns(data):
    """Hypothesis rows -> (labels, scores, groups) arrays of shape (N,)."""
    y, s, g = (np.array(c) for c in zip(*data))
    return y, s, g


def _gauc_by_loop(y, s, g, weight):
    """GAUC as FuxiCTR computes it: a Python loop over groups calling sklearn."""
    num, den = 0.0, 0.0
    for group in np.unique(g):
        yg, sg = y[g == group], s[g == group]
        if 0 < yg.sum() < len(yg):
            w = {"impressions": len(yg), "positives": yg.sum(), "uniform": 1}[weight]
            num, den = num + w * roc_auc_score(yg, sg), den + w
    return num / den if den else None


# ---------------------------------------------------------------- AUC


@FAST
@given(rows)
def test_auc_equals_sklearn_with_ties(data):
    y, s, _ = _columns(data)
    if 0 < y.sum() < len(y):
        assert metrics.auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_auc_equals_sklearn_on_random_data(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 5000)
    s = rng.normal(size=5000) + 0.5 * y
    assert metrics.auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-9)


def test_auc_extremes_and_all_ties():
    assert metrics.auc([0, 0, 1, 1], [1, 2, 3, 4]) == 1.0
    assert metrics.auc([0, 0, 1, 1], [4, 3, 2, 1]) == 0.0
    assert metrics.auc([0, 1, 0, 1], [7, 7, 7, 7]) == 0.5


# ---------------------------------------------------------------- GAUC


@FAST
@given(rows, st.sampled_from(["impressions", "positives", "uniform"]))
def test_gauc_equals_per_group_sklearn_loop(data, weight):
    y, s, g = _columns(data)
    expected = _gauc_by_loop(y, s, g, weight)
    if expected is None:  # no group holds both classes
        with pytest.raises(ValueError, match="no group"):
            metrics.gauc(y, s, g, weight=weight)
    else:
        assert metrics.gauc(y, s, g, weight=weight) == pytest.approx(expected, abs=1e-9)


@FAST
@given(rows)
def test_group_auc_lists_two_class_groups_with_counts(data):
    y, s, g = _columns(data)
    r = metrics.group_auc(y, s, g)
    two_class = [k for k in np.unique(g) if 0 < y[g == k].sum() < (g == k).sum()]
    assert r.groups.tolist() == two_class
    for k, a, n, p in zip(*r):
        assert a == pytest.approx(roc_auc_score(y[g == k], s[g == k]), abs=1e-9)
        assert (n, p) == ((g == k).sum(), y[g == k].sum())


def test_gauc_weights_on_a_worked_example():
    # group a: AUC 0.5 over 4 rows with 2 positives; group b: AUC 1 over 2 rows with 1 positive
    y, s = [0, 1, 1, 0, 0, 1], [0.2, 0.9, 0.1, 0.3, 0.3, 0.6]
    g = ["a", "a", "a", "a", "b", "b"]
    assert metrics.gauc(y, s, g) == pytest.approx((4 * 0.5 + 2 * 1) / 6)
    assert metrics.gauc(y, s, g, weight="positives") == pytest.approx((2 * 0.5 + 1 * 1) / 3)
    assert metrics.gauc(y, s, g, weight="uniform") == pytest.approx(0.75)


def test_gauc_with_one_group_is_auc():
    rng = np.random.default_rng(0)
    y, s = rng.integers(0, 2, 1000), rng.normal(size=1000)
    assert metrics.gauc(y, s, np.zeros(1000)) == pytest.approx(metrics.auc(y, s), abs=1e-12)


# ---------------------------------------------------------------- logloss


def test_logloss_equals_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 1000)
    p = rng.uniform(1e-3, 1 - 1e-3, 1000)
    assert metrics.logloss(y, p) == pytest.approx(log_loss(y, p), rel=1e-12)


@FAST
@given(st.lists(st.tuples(st.integers(0, 1), st.floats(-12, 12)), min_size=1, max_size=40))
def test_logloss_from_logits_equals_from_probabilities(data):
    y, z = (np.array(c) for c in zip(*data))
    p = 1 / (1 + np.exp(-z))
    expected = metrics.logloss(y, p, eps=0)
    assert metrics.logloss(y, z, logits=True) == pytest.approx(expected, rel=1e-9)


def test_logloss_clips_probabilities_and_handles_infinite_logits():
    assert metrics.logloss([1, 0], [0.0, 1.0]) == pytest.approx(-np.log(1e-7))
    assert metrics.logloss([1, 0], [0.0, 1.0], eps=1e-3) == pytest.approx(-np.log(1e-3))
    assert metrics.logloss([1, 0], [np.inf, -np.inf], logits=True) == 0.0
    assert metrics.logloss([0], [np.inf], logits=True) == np.inf


# ---------------------------------------------------------------- inputs


def test_numpy_lists_torch_and_column_inputs_agree():
    rng = np.random.default_rng(0)
    y, s, g = rng.integers(0, 2, 200), rng.normal(size=200), rng.integers(0, 10, 200)
    forms = [
        (y, s, g),
        (y.tolist(), s.tolist(), g.tolist()),
        (torch.tensor(y, dtype=torch.bool), torch.tensor(s, dtype=torch.float32), torch.tensor(g)),
        (y[:, None], s[:, None].astype(np.float32), g[:, None]),
    ]
    expected = metrics.auc(y, s), metrics.gauc(y, s, g), metrics.logloss(y, s, logits=True)
    for yy, ss, gg in forms:
        got = metrics.auc(yy, ss), metrics.gauc(yy, ss, gg), metrics.logloss(yy, ss, logits=True)
        assert got == pytest.approx(expected, rel=1e-6)  # float32 scores round a little


def test_torch_inputs_needing_grad_are_detached():
    s = torch.tensor([0.5, 0.9, 0.4], requires_grad=True)
    assert metrics.auc(torch.tensor([0, 1, 1]), s) == 0.5


BAD_INPUTS = {  # error message (a regex) -> call that must raise it
    "y_true has 3 elements but y_score has 2": lambda: metrics.auc([0, 1, 1], [0.1, 0.2]),
    "y_true is empty": lambda: metrics.auc([], []),
    "only 0 and 1; found 2.0": lambda: metrics.auc([0, 2, 1], [0.1, 0.2, 0.3]),
    "y_true contains NaN": lambda: metrics.auc([0, np.nan], [0.1, 0.2]),
    "y_score contains NaN": lambda: metrics.auc([0, 1], [0.1, np.nan]),
    "only one class, 1": lambda: metrics.auc([1, 1], [0.1, 0.2]),
    "only one class, 0": lambda: metrics.auc(torch.zeros(3), torch.rand(3)),
    "must be 1-D": lambda: metrics.auc([[0, 1], [1, 0]], [[0.1, 0.2], [0.3, 0.4]]),
    "weight must be one of": lambda: metrics.gauc([0, 1], [0.1, 0.2], [0, 0], weight="clicks"),
    "no group contains both": lambda: metrics.gauc([0, 1], [0.1, 0.2], [0, 1]),
    "y_true has 2 elements but groups has 3": lambda: metrics.gauc([0, 1], [1, 2], [0, 1, 2]),
    "groups contains NaN": lambda: metrics.gauc([0, 1], [0.1, 0.2], [0.0, np.nan]),
    "groups is empty": lambda: metrics.group_auc([0], [0.1], []),
    r"probabilities in \[0, 1\].*logits=True": lambda: metrics.logloss([0, 1], [0.1, 1.5]),
    "eps must be in": lambda: metrics.logloss([0, 1], [0.1, 0.2], eps=0.7),
    "y_true has 2 elements but y_pred has 1": lambda: metrics.logloss([0, 1], [0.1]),
}


@pytest.mark.parametrize("message", BAD_INPUTS)
def test_bad_inputs_raise_clear_errors(message):
    with pytest.raises(ValueError, match=message):
        BAD_INPUTS[message]()


# ---------------------------------------------------------------- documentation


@pytest.mark.parametrize("name", metrics.__all__)
def test_public_names_are_documented(name):
    doc = getattr(metrics, name).__doc__
    assert doc and (name in ("GroupAUC", "Calibration")  # result tuples: fields documented
                    or all(k in doc for k in ("Args:", "Returns:", "Example:")))


def test_docstring_examples_run():
    assert doctest.testmod(metrics, raise_on_error=False).failed == 0


def test_calibration_matches_a_direct_computation_and_logits_agree():
    rng = np.random.default_rng(3)
    p = rng.beta(1, 12, size=1_003)
    y = (rng.random(1_003) < p).astype(int)
    got = metrics.calibration(y, p, bins=7)
    order = np.argsort(p, kind="stable")
    cuts = [round(b * len(p) / 7) for b in range(8)]
    rows = [order[a:b] for a, b in zip(cuts[:-1], cuts[1:])]
    np.testing.assert_allclose(got.predicted, [p[r].mean() for r in rows], rtol=1e-12)
    np.testing.assert_allclose(got.observed, [y[r].mean() for r in rows], rtol=1e-12)
    assert got.count.tolist() == [len(r) for r in rows] and got.count.sum() == len(p)
    ece = sum(len(r) * abs(y[r].mean() - p[r].mean()) for r in rows) / len(p)
    assert got.ece == pytest.approx(ece, rel=1e-12)
    from_logits = metrics.calibration(y, np.log(p / (1 - p)), bins=7, logits=True)
    np.testing.assert_allclose(from_logits.predicted, got.predicted, rtol=1e-9)
    assert from_logits.observed.tolist() == got.observed.tolist()


def test_calibration_sees_a_miscalibrated_model_and_refuses_bad_inputs():
    rng = np.random.default_rng(4)
    p = rng.uniform(0.01, 0.3, size=50_000)
    y = (rng.random(50_000) < p).astype(int)
    calibrated, doubled = metrics.calibration(y, p), metrics.calibration(y, np.minimum(2 * p, 1))
    assert calibrated.ece < 0.01 < doubled.ece  # predicting twice the rate is seen
    with pytest.raises(ValueError, match="bins must be between 1 and the number of rows 3"):
        metrics.calibration([0, 1, 1], [0.1, 0.5, 0.9], bins=4)
    with pytest.raises(ValueError, match="probabilities in \\[0, 1\\]"):
        metrics.calibration([0, 1], [0.1, 1.5])
