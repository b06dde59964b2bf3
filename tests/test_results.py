"""minime.studies.results: selection, mean ± std, paired differences and tables against numpy."""

import numpy as np
import pytest

from minime.studies import Paired, Results, Stat, Table
from minime.studies.results import read

RNG = np.random.default_rng(0)
AUC = {(label, seed): float(RNG.uniform(0.6, 0.8)) for label in ("A", "B", "C") for seed in range(4)}
RUNS = Results({"label": label, "seed": seed, "auc": {"all": [auc, 1 - auc]}, "flat": auc}
               for (label, seed), auc in AUC.items())


def test_read_by_name_path_and_function():
    record = RUNS[0]
    assert read(record, "flat") == read(record, ("auc", "all", 0)) == read(record, lambda r: r["flat"])


def test_select_by_value_collection_and_predicate():
    assert [r["seed"] for r in RUNS.select(label="B")] == [0, 1, 2, 3]
    assert len(RUNS.select(label=("A", "C"), seed=range(2))) == 4
    assert [r["seed"] for r in RUNS.select(label="A", seed=lambda s: s % 2)] == [1, 3]
    assert RUNS.select(label="Z") == [] and isinstance(RUNS.select(label="A"), Results)
    with pytest.raises(KeyError, match="no record has 'labl'"):
        RUNS.select(labl="A")


def test_stat_and_summary_equal_numpy():
    values = np.array([AUC[("A", s)] for s in range(4)])
    stat = RUNS.stat(("auc", "all", 0), label="A")
    assert stat == Stat(pytest.approx(values.mean()), pytest.approx(values.std(ddof=1)), 4)
    assert str(stat) == f"{values.mean():.4f} ± {values.std(ddof=1):.4f}"
    summary = RUNS.summary("flat")
    assert list(summary) == ["A", "B", "C"] and summary["C"].n == 4
    assert Stat.of([0.5]) == Stat(0.5, 0.0, 1) and np.isnan(Stat.of([]).mean)


def test_paired_difference_matches_a_loop_over_shared_seeds():
    runs = Results(r for r in RUNS if not (r["label"] == "B" and r["seed"] == 2))  # B lacks seed 2
    paired = runs.paired(("auc", "all", 1), "A", "B")
    diffs = np.array([(1 - AUC[("A", s)]) - (1 - AUC[("B", s)]) for s in (0, 1, 3)])
    assert isinstance(paired, Paired) and paired.pairs == (0, 1, 3) and paired.n == 3
    np.testing.assert_allclose(paired.diffs, diffs, rtol=0, atol=1e-15)
    assert paired.mean == pytest.approx(diffs.mean()) and paired.std == pytest.approx(diffs.std(ddof=1))
    assert paired.wins == int((diffs > 0).sum())
    assert str(paired) == f"{diffs.mean():+.4f} ± {diffs.std(ddof=1):.4f} (ahead in {paired.wins} of 3)"
    flipped = runs.paired(("auc", "all", 1), "B", "A")
    np.testing.assert_allclose(flipped.diffs, -diffs)
    assert flipped.wins == 3 - paired.wins


def test_paired_sign_reads_every_pair():
    def sign(diffs):
        runs = Results([{"label": "a", "seed": s, "v": d} for s, d in enumerate(diffs)] +
                       [{"label": "b", "seed": s, "v": 0.0} for s in range(len(diffs))])
        return runs.paired("v", "a", "b").sign

    assert (sign([0.1, 0.2]), sign([-0.1, -0.3]), sign([0.1, -0.1]), sign([0.2, 0.0])) == \
        ("ahead", "behind", "mixed", "mixed")


def test_paired_refuses_ambiguous_or_disjoint_arms():
    doubled = Results(RUNS + [dict(RUNS[0])])
    with pytest.raises(ValueError, match="two records with seed=0"):
        doubled.paired("flat", "A", "B")
    with pytest.raises(ValueError, match="share no seed"):
        Results([RUNS[0], RUNS[5]]).paired("flat", "A", "B")  # A on seed 0, B on seed 1


def test_group_and_unique_keep_first_appearance_order():
    groups = RUNS.group(("label", "seed"))
    assert list(groups)[:2] == [("A", 0), ("A", 1)] and all(len(g) == 1 for g in groups.values())
    assert RUNS.unique("label") == ["A", "B", "C"]


def test_table_cells_are_mean_and_std_and_blank_where_missing():
    runs = Results(RUNS + [{"label": "single", "seed": 0, "flat": 0.5}])  # no "auc"
    table = runs.table({"AUC": ("auc", "all", 0), "flat": "flat"})
    assert isinstance(table, Table) and table.header == ["label", "AUC", "flat"]
    rows = {row[0]: row[1:] for row in table.rows}
    stat = RUNS.stat("flat", label="B")
    assert rows["B"] == [f"{stat.mean:.4f} ± {stat.std:.4f}"] * 2
    assert rows["single"] == ["", "0.5000 ± 0.0000"]
    assert str(table).splitlines()[:2] == ["| label | AUC | flat |", "|---|---|---|"]
    assert "<td>B</td>" in table._repr_html_() and table._repr_markdown_() == str(table)


def test_phrase_names_the_sign():
    runs = Results([{"label": "a", "seed": s, "v": d} for s, d in enumerate((0.1, -0.1))] +
                   [{"label": "b", "seed": s, "v": 0.0} for s in range(2)])
    assert runs.paired("v", "a", "b").phrase("up", "down", "both") == "both"
    assert runs.select(seed=0).paired("v", "a", "b").phrase("up", "down", "both") == "up"


def test_assert_converged_reads_results_and_histories():
    from minime.studies import assert_converged
    from minime.train import History

    def history(n):
        return History(epochs=[{"epoch": e} for e in range(1, n + 1)], best_epoch=max(n - 2, 1))

    runs = Results([{"label": "A", "epochs": 4}, {"label": "B", "epochs": 11}])
    assert assert_converged(runs, history(6), {"x": history(3)}, cap=12) == 11
    with pytest.raises(AssertionError, match=r"^B trained 11 epochs, the cap \(11\)"):
        assert_converged(runs, cap=11)
    with pytest.raises(AssertionError, match=r"^x trained 9 epochs"):
        assert_converged(runs[:1], {"x": history(9)}, cap=9)
    with pytest.raises(AssertionError, match=r"^the run trained 5 epochs"):
        assert_converged(history(5), cap=5)
    with pytest.raises(AssertionError, match=r"^kind ME, scale 2, seed 1 trained 8 epochs"):
        assert_converged([{"kind": "ME", "scale": 2, "seed": 1, "epochs": 8}], cap=8)
    with pytest.raises(ValueError, match="at least one run"):
        assert_converged(Results(), cap=5)
