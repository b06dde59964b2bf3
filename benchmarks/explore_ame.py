"""Exploration: does AME route small, long-tail tasks to its smallest table, and in which settings?

On the ``multicvr`` world (every row belongs to one of five tasks, head : mid : mid : tail : tail
= 100 : 10 : 10 : 1 : 1 unless a setting changes it), trains AME with tables of widths 16 / 32 /
64 under several settings, 3 seeds of world and model each, and prints per seed every task's gate
mass on each table (over its own test rows) and the tail − head mass on the 16-d table. Training
and measuring go through :func:`minime.studies.routing_study`, so runs are cached and the
chapter's numbers come from the same code.

Run: ``.venv/bin/python benchmarks/explore_ame.py [setting ...]`` (15–30 s per run at 400k rows,
40–80 s at 1M, on one core). This is the study behind chapter 7's routing section.
"""

from __future__ import annotations

import sys
from functools import partial

import numpy as np
import torch
from torch import nn

from minime import data, models, studies, train

DIMS = (16, 32, 64)
def equal_norm_init(block):
    """N(0, 0.1²/d) per entry: every table's rows get the same expected norm, whatever d."""
    return nn.init.normal_(block, std=0.1 / block.shape[1] ** 0.5)


SETTINGS = {  # name -> (world overrides, AME options, MTLConfig overrides)
    "all": ({}, {}, {}),  # the gate reads every table
    "const": ({}, {"gate_input": "const"}, {}),  # a learned constant per task
    "median": ({}, {"gate_input": "median"}, {}),  # the gate reads the 32-d table
    "own_small": ({}, {"gate_input": 0}, {}),  # the gate reads the 16-d table
    "head95": (dict(task_shares=(1000.0, 20.0, 20.0, 2.0, 2.0)), {"gate_input": "const"}, {}),
    "small_init": ({}, {}, dict(embedding_init=partial(nn.init.normal_, std=1e-3))),
    "equal_norm": ({}, {}, dict(embedding_init=equal_norm_init)),  # small tables not smaller rows
    "cool": ({}, {"gate_temperature": 0.25}, {}),  # sharper gates
    "warm": ({}, {"gate_temperature": 4.0}, {}),  # flatter gates
    "warm_const": ({}, {"gate_input": "const", "gate_temperature": 4.0}, {}),
    "rows1M": (dict(num_rows=1_000_000), {}, {}),
    "rows1M_const": (dict(num_rows=1_000_000), {"gate_input": "const"}, {}),
}
SEEDS = (0, 1, 2)
SPLIT = (0.5, 0.2, 0.3)
CONFIG = dict(expert_units=(32, 32), tower_units=(16,))
TRAIN = dict(epochs=8, lr=1e-2, batch_size=2048, progress=False)


def main(settings):
    torch.set_num_threads(1)
    for setting in settings:
        world_over, options, config_over = SETTINGS[setting]
        gaps = []
        for seed in SEEDS:
            world = data.make_world("multicvr", seed=seed, **{"num_rows": 400_000, **world_over})
            split = world.split(SPLIT, seed=seed)
            run = studies.routing_study(
                split, {"AME": ("ame", {"dims": DIMS, **options})},
                config=models.MTLConfig(**CONFIG, **config_over), seeds=(seed,), progress=False,
                train_config=train.TrainConfig(**TRAIN))[0]
            mass = np.asarray(run["gates"])  # (T, K)
            tails = [t for t, n in enumerate(run["rows"]) if n < run["rows"][0] / 50]
            gaps.append(mass[tails, 0].mean() - mass[0, 0])
            print(f"== {setting} seed {seed}: rows {run['rows']}, positives {run['positives']}, "
                  f"{run['seconds']:.0f}s, best epoch {run['best_epoch']}/{run['epochs']}")
            print(f"   AUC {np.round(run['auc'], 3).tolist()}")
            print(f"   gate mass (task x 16/32/64) {np.round(mass, 2).tolist()}")
            print(f"   tail - head on 16-d: {gaps[-1]:+.3f}")
            sys.stdout.flush()
        gap = studies.Stat.of(gaps)
        print(f"** {setting}: tail - head on 16-d {gap.mean:+.3f} ± {gap.std:.3f}, "
              f"positive in {sum(g > 0 for g in gaps)} of {gap.n} seeds")


if __name__ == "__main__":
    main(sys.argv[1:] or list(SETTINGS))
