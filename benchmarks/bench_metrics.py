"""Time minime's spectrum and GAUC against the plain routes they replace.

1. Information Abundance of a 1,000,000 × 64 float32 matrix: minime (float64 Gram route, numpy
   and torch input, torch on 1 thread and on its default) against ``np.linalg.svd`` in float64.
2. GAUC on 1,000,000 rows in 100,000 groups: minime (one sort) against the FuxiCTR-style loop
   calling ``sklearn.metrics.roc_auc_score`` per group, timed on a subsample of groups and
   extrapolated (the loop over all groups would take minutes); where ``fuxictr`` is importable
   (the peers' environment of ``benchmarks/README.md``), FuxiCTR 2.3.10's own
   ``evaluate_metrics(..., ["gAUC"], group_id)`` too (polars ``partition_by`` and a process pool
   of ``cpu_count() // 2`` workers, one task per group), timed on 10,000 groups and extrapolated.

Run: ``python benchmarks/bench_metrics.py [--json out.json]`` (about 20 s on 2 cores, a third of
it the SVD baseline; 15 s more with FuxiCTR).
"""

import argparse
import importlib.util
import json
import time
from pathlib import Path

import numpy as np
import torch

from minime import analysis, metrics

try:  # the baseline only; minime itself does not use scikit-learn
    from sklearn.metrics import roc_auc_score
except ImportError:  # pragma: no cover
    roc_auc_score = None

SUBSAMPLE_GROUPS = 500  # groups the sklearn loop is timed on (1 to 4 ms per group)
FUXICTR_GROUPS = 10_000  # groups FuxiCTR's gAUC is timed on (about 1.3 ms per group)


def best_time(fn, repeats: int = 2) -> tuple[float, object]:
    """Best wall time of `repeats` calls of `fn` in seconds, and its last result."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def row(name: str, seconds: float, baseline: float, value: float | None = None) -> None:
    """Print one line of the table: time, speed-up over the baseline, computed value."""
    shown = "" if value is None else f"  value {value:.6f}"
    print(f"  {name:<44} {seconds * 1e3:9.0f} ms  {baseline / seconds:7.1f}x{shown}")


def bench_information_abundance() -> dict:
    """IA of a 1M × 64 float32 matrix, full rank and rank 3: the seconds of each route."""
    rng = np.random.default_rng(0)
    n, d = 1_000_000, 64
    E = rng.standard_normal((n, d), dtype=np.float32) * np.geomspace(1, 0.01, d, dtype=np.float32)
    low_rank = (rng.standard_normal((n, 3)) @ rng.standard_normal((3, d))).astype(np.float32)

    def svd_ia(X):
        s = np.linalg.svd(X.astype(np.float64), compute_uv=False)
        return s.sum() / s.max()

    print("Information Abundance, 1,000,000 x 64 float32")
    t_svd, ia_svd = best_time(lambda: svd_ia(E), repeats=1)
    row("np.linalg.svd (float64)", t_svd, t_svd, ia_svd)
    out = {"svd_s": t_svd, "svd_ia": ia_svd}
    threads = torch.get_num_threads()
    for n in (threads, 1):
        torch.set_num_threads(n)
        t, ia = best_time(lambda: analysis.information_abundance(E))
        row(f"minime, numpy input, torch threads={n}", t, t_svd, ia)
        out.setdefault("minime_s", t)  # the default thread count first
        out.setdefault("minime_ia", ia)
        t, ia = best_time(lambda: analysis.information_abundance(torch.from_numpy(E)))
        row(f"minime, torch input, torch threads={n}", t, t_svd, ia)
    torch.set_num_threads(threads)
    t, ia = best_time(lambda: analysis.information_abundance(E, center=True, row_normalize=True))
    row("minime, center + row_normalize", t, t_svd, ia)
    t, ia = best_time(lambda: analysis.information_abundance(low_rank))  # SVD time barely changes
    row("minime, rank-3 matrix (tail refined)", t, t_svd, ia)
    return out


def gauc_by_loop(y: np.ndarray, s: np.ndarray, g: np.ndarray) -> float:
    """GAUC as FuxiCTR computes it (without its process pool): one sklearn call per group."""
    order = np.argsort(g, kind="stable")
    bounds = np.flatnonzero(np.diff(g[order])) + 1
    num = den = 0.0
    for rows in np.split(order, bounds):
        if 0 < y[rows].sum() < len(rows):
            num += len(rows) * roc_auc_score(y[rows], s[rows])
            den += len(rows)
    return num / den


def gauc_by_fuxictr(y: np.ndarray, s: np.ndarray, g: np.ndarray) -> float | None:
    """FuxiCTR 2.3.10's own gAUC (``fuxictr.metrics.evaluate_metrics``), or None without it."""
    if importlib.util.find_spec("fuxictr") is None:
        return None
    from throughput import stub_ray  # fuxictr imports ray on its way to the metrics
    stub_ray()
    from fuxictr.metrics import evaluate_metrics
    return float(evaluate_metrics(y, s, ["gAUC"], group_id=g)["gAUC"])


def bench_gauc() -> dict:
    """GAUC on 1M rows / 100k groups; the loops timed on a subsample and extrapolated."""
    rng = np.random.default_rng(0)
    n, num_groups = 1_000_000, 100_000
    g = rng.integers(0, num_groups, n)
    y = (rng.random(n) < 0.3).astype(np.int64)
    s = np.round(rng.random(n) + 0.3 * y, 3)  # 3 decimals: many ties

    print(f"GAUC, {n:,} rows in {num_groups:,} groups")
    t_auc, value = best_time(lambda: metrics.auc(y, s))
    row("minime.auc (all rows, for scale)", t_auc, t_auc, value)
    t, value = best_time(lambda: metrics.gauc(y, s, g))
    out = {"rows": n, "groups": num_groups, "minime_s": t, "minime_gauc": value}
    sub = g < FUXICTR_GROUPS
    t_fx, fx_value = best_time(lambda: gauc_by_fuxictr(y[sub], s[sub], g[sub]), repeats=1)
    if fx_value is not None:
        t_fx_all = t_fx * num_groups / FUXICTR_GROUPS
        mine = metrics.gauc(y[sub], s[sub], g[sub])
        print(f"  FuxiCTR gAUC on {FUXICTR_GROUPS:,} groups: {t_fx:.1f} s, extrapolated to "
              f"{num_groups:,}: {t_fx_all:.0f} s; there minime {mine:.12f}, FuxiCTR {fx_value:.12f}")
        row("FuxiCTR 2.3.10 evaluate_metrics gAUC (extrapolated)", t_fx_all, t_fx_all)
        out.update(fuxictr_s=t_fx_all, fuxictr_groups_timed=FUXICTR_GROUPS,
                   fuxictr_sub_gauc=fx_value, minime_sub_gauc=mine)
    if roc_auc_score is None:
        row("minime.gauc (sklearn missing: no baseline)", t, t, value)
        return out
    sub = g < SUBSAMPLE_GROUPS
    t_loop, loop_value = best_time(lambda: gauc_by_loop(y[sub], s[sub], g[sub]), repeats=1)
    t_loop_all = t_loop * num_groups / SUBSAMPLE_GROUPS
    print(f"  sklearn loop on {SUBSAMPLE_GROUPS:,} groups: {t_loop * 1e3:.0f} ms, "
          f"extrapolated to {num_groups:,}: {t_loop_all:.1f} s")
    row("sklearn per-group loop (extrapolated)", t_loop_all, t_loop_all)
    row("minime.gauc", t, t_loop_all, value)
    same = metrics.gauc(y[sub], s[sub], g[sub])
    print(f"  on the subsample: minime {same:.12f}, sklearn loop {loop_value:.12f}")
    out.update(sklearn_loop_s=t_loop_all, sklearn_groups_timed=SUBSAMPLE_GROUPS)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the timings to this JSON file")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, numpy {np.__version__}, "
          f"torch threads {torch.get_num_threads()}")
    result = {"ia": bench_information_abundance(), "gauc": bench_gauc()}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
