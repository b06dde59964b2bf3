"""Exploration: does STEM beat shared-embedding multi-task models, and where?

On the ``multitask`` world (1,000 users × 500 items, a rank-4 user–item term per task mixed at
angle θ, 30% conflict users whose task-2 preference is negated, base rates 10% / 2%), trains
single-task models for each task, MMoE, PLE, ME-MMoE and STEM (with and without its stop
gradient) to convergence (early stopping on mean validation AUC) and prints, per setting and
seed: test AUC per task overall, on conflict users and on the other users; transfer against the
single-task models; the RecScope geometry (Spearman ρ of each table's user–item distances against
the single-task models' on the conflict users' pairs, and the share of the mode-0 conflict pairs
that each table puts in its far band); and the seconds each model took.

Run: ``.venv/bin/python benchmarks/explore_stem.py [setting ...]`` (settings below; about 6 min
per setting on 2 cores). This is the study behind chapters 5 and 6.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import torch

from minime import analysis, data, models, train

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
MODELS = {"MMoE": ("mmoe", {}), "PLE": ("ple", {}), "ME-MMoE": ("me_mmoe", {}),
          "STEM": ("stem", {}), "STEM, no stop-gradient": ("stem", dict(aftb=False))}
BASE_TRAIN = dict(epochs=8, lr=5e-3, batch_size=1024, patience=2, progress=False)
ONLY = None  # e.g. {"MMoE", "STEM"}: the models to train (env EXPLORE_ONLY, comma-separated)


def fit(name, options, split, cfg, trainer, tasks=None, seed=0):
    train.set_seed(seed)
    rows = [part.with_tasks(tasks) if tasks is not None else part for part in split]
    net = models.build(name, split.train.field_dims, cfg, num_tasks=rows[0].num_tasks, **options)
    start = time.perf_counter()
    history = train.fit(net, rows[0], rows[1], trainer)
    return net, history, time.perf_counter() - start


def aucs(logits, test, mask):
    return [analysis.bucket_auc(logits, test, {"b": mask})["b"][t] for t in range(test.num_tasks)]


def run(setting, seed):
    world_over, train_over, cfg_over = SETTINGS[setting]
    world = data.make_world("multitask", seed=seed, **world_over)
    split = world.split(SPLIT, seed=seed)
    cfg = models.MTLConfig(**cfg_over)
    trainer = train.TrainConfig(**{**BASE_TRAIN, **train_over, "seed": seed})
    conflict = split.test.meta["conflict"].numpy()
    pairs = analysis.distinct_pairs(split.test, "user_id", "item_id",
                                    mask=split.test.meta["conflict"])
    single, dist, out = [], {}, {}
    for t in range(world.num_tasks):
        net, h, sec = fit("single_task", {}, split, cfg, trainer, tasks=[t], seed=seed)
        logits = train.predict(net, split.test.with_tasks([t])).numpy()
        single.append((aucs(logits, split.test.with_tasks([t]), ~conflict)[0],
                       aucs(logits, split.test.with_tasks([t]), conflict)[0]))
        dist[f"ST{t + 1}"] = analysis.user_item_distances(net, pairs, user_field=0, item_field=1)
        out[f"ST{t + 1}"] = dict(seconds=sec, epochs=len(h.epochs), best=h.best_epoch)
    for label, (name, options) in MODELS.items():
        if ONLY and label not in ONLY:
            continue
        net, h, sec = fit(name, options, split, cfg, trainer, seed=seed)
        logits = train.predict(net, split.test).numpy()
        other, conf = aucs(logits, split.test, ~conflict), aucs(logits, split.test, conflict)
        out[label] = dict(seconds=sec, epochs=len(h.epochs), best=h.best_epoch,
                          other=other, conflict=conf,
                          transfer_other=[o - s[0] for o, s in zip(other, single)],
                          transfer_conflict=[c - s[1] for c, s in zip(conf, single)])
        sets = range(world.num_tasks + 1) if name == "stem" else [None]
        for k in sets:
            d = analysis.user_item_distances(net, pairs, user_field=0, item_field=1, embedding_set=k)
            dist[label if k is None else f"{label} table {k + 1 if k < world.num_tasks else 'shared'}"] = d
    mode0 = analysis.conflict_subset(dist["ST1"], dist["ST2"])
    truth = world.truth  # the known answer: -affinity of each pair per task
    true = [-(truth.user_factors[t][pairs[:, 0]] * truth.item_factors[t][pairs[:, 1]]).sum(1)
            for t in range(world.num_tasks)]
    geometry = {name: dict(rho_st1=analysis.spearman(d, dist["ST1"]),
                           rho_st2=analysis.spearman(d, dist["ST2"]),
                           far=analysis.band_shares(d, mode0)["far"],
                           true1=analysis.spearman(d, true[0]), true2=analysis.spearman(d, true[1]),
                           near=analysis.band_shares(d, mode0)["near"])
                for name, d in dist.items()}
    return single, out, geometry


def main(settings):
    global ONLY
    if os.environ.get("EXPLORE_ONLY"):
        ONLY = set(os.environ["EXPLORE_ONLY"].split(","))
    torch.set_num_threads(1)
    for setting in settings:
        for seed in SEEDS:
            single, out, geometry = run(setting, seed)
            print(f"\n== {setting} seed {seed}: single-task AUC (other, conflict) per task "
                  f"{np.round(single, 4).tolist()}")
            for label, r in out.items():
                extra = (f" other {np.round(r['other'], 4).tolist()} conflict "
                         f"{np.round(r['conflict'], 4).tolist()} transfer other "
                         f"{np.round(r['transfer_other'], 4).tolist()} conflict "
                         f"{np.round(r['transfer_conflict'], 4).tolist()}") if "other" in r else ""
                print(f"  {label:24s} {r['seconds']:5.1f}s epochs {r['epochs']} best {r['best']}{extra}")
            for name, g in geometry.items():
                print(f"  geometry {name:24s} rho ST1 {g['rho_st1']:+.2f} rho ST2 {g['rho_st2']:+.2f} "
                      f"mode0 near {g['near']:.2f} far {g['far']:.2f} truth rho {g['true1']:+.2f} {g['true2']:+.2f}")
            sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1:] or list(SETTINGS))
