"""Exploration: does STEM beat shared-embedding multi-task models, and where?

On the ``multitask`` world (1,000 users × 500 items, a rank-4 user–item term per task mixed at
angle θ, 30% conflict users whose task-2 preference is negated, base rates 10% / 2%), trains
single-task models for each task, MMoE, PLE, ME-MMoE and STEM (with and without its stop
gradient) to convergence (early stopping on mean validation AUC) and prints, per setting and
seed: test AUC per task overall, on conflict users, on the other users and on P3's buckets by
relative positive feedback (click-dominated, comparable, convert-dominated users); transfer
against the single-task models; the RecScope geometry (Spearman ρ of each table's user–item
distances against the single-task models' on the conflict users' pairs, and the share of the
mode-0 conflict pairs that each table puts in its far band); ρ against the planted affinity; and
the seconds each model took. Training and measuring go through :func:`minime.studies.entanglement_study`, so runs are
cached and the chapters' numbers come from the same code.

Run: ``[EXPLORE_ONLY=MMoE,STEM] .venv/bin/python benchmarks/explore_stem.py [setting ...]`` (settings below; about 6 min
per setting on 2 cores). This is the study behind chapters 5 and 6.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import torch

from minime import analysis, data, models, studies, train

SETTINGS = {  # name -> (world overrides, train overrides, model config overrides)
    "theta60": (dict(theta_deg=60.0), {}, {}),
    "theta0": (dict(theta_deg=0.0), {}, {}),
    "theta90": (dict(theta_deg=90.0), {}, {}),
    "theta60_conflict60": (dict(theta_deg=60.0, conflict_fraction=0.6), {}, {}),
    "theta60_1M": (dict(theta_deg=60.0, num_rows=1_000_000), {}, {}),
    "theta0_l2": (dict(theta_deg=0.0), dict(weight_decay=1e-6), {}),  # ~ the official L2 on E
    "theta60_short": (dict(theta_deg=60.0), dict(epochs=3, lr=2e-3), {}),
    # candidate ci / book recipes: larger test share, bigger batches
    "ci_a": (dict(theta_deg=0.0, num_rows=400_000), dict(batch_size=2048, epochs=6), {}),
    "ci_b": (dict(theta_deg=0.0, num_rows=400_000), dict(batch_size=4096, lr=1e-2, epochs=8), {}),
    "ci_d": (dict(theta_deg=0.0, num_rows=400_000), dict(batch_size=1024, epochs=8),
             dict(embedding_dim=8, expert_units=(32,), tower_units=(16,))),
    "ci_c": (dict(theta_deg=0.0, num_rows=400_000), dict(batch_size=2048, lr=1e-2, epochs=8),
             dict(expert_units=(32, 32), tower_units=(16,))),
}
SPLIT = (0.5, 0.1, 0.4)  # a large test share: conflict users' task-2 AUC rests on few positives
SEEDS = (0, 1, 2)
MODELS = ("MMoE", "PLE", "ME-MMoE", "STEM", "STEM, no stop-gradient")  # labels of studies.SPECS
BASE_TRAIN = dict(epochs=8, lr=5e-3, batch_size=1024, patience=2, progress=False)


def run(setting, seed, labels):
    """One setting and seed (the seed draws the world and the models): records, geometry, truth ρ."""
    world_over, train_over, cfg_over = SETTINGS[setting]
    world = data.make_world("multitask", seed=seed, **world_over)
    split = world.split(SPLIT, seed=seed)
    runs = studies.entanglement_study(
        split, {label: studies.SPECS[label] for label in labels},
        config=models.MTLConfig(**cfg_over), seeds=(seed,), progress=False,
        train_config=train.TrainConfig(**{**BASE_TRAIN, **train_over}))
    pairs = analysis.distinct_pairs(split.test, "user_id", "item_id", mask="conflict")  # the study's
    truth = world.truth  # the known answer: each pair's negated planted affinity per task
    true = [-(truth.user_factors[t][pairs[:, 0]] * truth.item_factors[t][pairs[:, 1]]).sum(1)
            for t in range(world.num_tasks)]
    geometry = studies.set_geometry(runs, seed)
    for name, d in studies.distance_tables(runs, seed).items():
        geometry[name].update(true1=analysis.spearman(d, true[0]), true2=analysis.spearman(d, true[1]))
    return runs, geometry


def main(settings):
    torch.set_num_threads(1)
    only = os.environ.get("EXPLORE_ONLY")  # e.g. "MMoE,STEM": the models to train
    labels = [label for label in MODELS if not only or label in only.split(",")]
    for setting in settings:
        for seed in SEEDS:
            runs, geometry = run(setting, seed, labels)
            single = [[r["auc"][b][0] for b in ("other", "conflict")] for r in runs[:2]]
            print(f"\n== {setting} seed {seed}: single-task AUC (other, conflict) per task "
                  f"{np.round(single, 4).tolist()}")
            for r in runs:
                extra = "" if "transfer" not in r else "".join(
                    f" {key} {b} {np.round(r[key][b], 4).tolist()}"
                    for key in ("auc", "transfer") for b in r["auc"] if b != "all")
                print(f"  {r['label']:24s} {r['seconds']:5.1f}s epochs {r['epochs']} "
                      f"best {r['best_epoch']}{extra}")
            for name, g in geometry.items():
                print(f"  geometry {name:32s} rho ST1 {g['rho_a']:+.2f} rho ST2 {g['rho_b']:+.2f} "
                      f"mode0 near {g['near']:.2f} far {g['far']:.2f} "
                      f"truth rho {g['true1']:+.2f} {g['true2']:+.2f}")
            sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1:] or list(SETTINGS))
