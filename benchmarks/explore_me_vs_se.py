"""Exploration: what decides whether multi-embedding beats single-embedding on the synthetic world?

One factor at a time around a baseline (DCNv2 on ``ctr``, xavier init, dense Adam, 200k rows,
3 epochs, K = 4), SE of width 4·K against ME of 4 sets of width K, 3 seeds each. Prints, per
setting, ME − SE in test AUC (mean ± std over seeds) and in IA per field, measured on the table
(ids seen in training) and on the batch (validation rows). Results are cached by
``minime.studies`` (re-running is instant for settings already trained).

Run: ``.venv/bin/python benchmarks/explore_me_vs_se.py`` (about 15 min on 2 CPU cores).
This is the study behind chapter 4's "what decides it" section; the chapter re-runs the
initialisation factor itself.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from torch import nn

from minime import analysis, data, models, studies, train

BASE = dict(world="ctr", rows=200_000, epochs=3, init="xavier", optimizer="adam", model="dcnv2")
SETTINGS = {
    "baseline (xavier, Adam, DCNv2)": {},
    "init std 1e-3": dict(init="small"),
    "init std 1e-2": dict(init="medium"),
    "SparseAdam": dict(optimizer="sparse_adam"),
    "SparseAdam, init std 1e-3": dict(optimizer="sparse_adam", init="small"),
    "6 epochs": dict(epochs=6),
    "600k rows": dict(rows=600_000),
    "FM interaction": dict(model="fm"),
    "FM interaction, init std 1e-3": dict(model="fm", init="small"),
    "DNN (no explicit interaction)": dict(model="dnn"),
    "pair-specific truth": dict(world="ctr_pair_specific"),
    "pair-specific truth, init std 1e-3": dict(world="ctr_pair_specific", init="small"),
}
INITS = {"xavier": None, "small": functools.partial(nn.init.normal_, std=1e-3),
         "medium": functools.partial(nn.init.normal_, std=1e-2)}
K, SCALE, SEEDS = 4, 4, (0, 1, 2)


def batch_ia(model, split):
    """IA per field of the embeddings looked up for the validation rows (frequency-weighted)."""
    return {"ia_batch_fields": analysis.field_spectra(model, mode="batch", data=split.valid).as_dict()}


def run(setting: dict):
    s = {**BASE, **setting}
    split = data.make_world(s["world"], num_rows=s["rows"], seed=0).split(seed=0)
    config = models.CTRConfig(embedding_dim=K, hidden_units=(128, 64), num_cross_layers=2,
                              embedding_init=INITS[s["init"]],
                              sparse_embedding=s["optimizer"] == "sparse_adam")
    trainer = train.TrainConfig(epochs=s["epochs"], lr=2e-3, optimizer=s["optimizer"],
                                progress=False)
    se_model = "me_fm" if s["model"] == "fm" else None  # FM: SE with the same first layer
    return studies.scaling_study(split, model=s["model"], base_dim=K, scales=(SCALE,),
                                     seeds=SEEDS, config=config, train_config=trainer,
                                     measure=batch_ia, se_model=se_model, progress=False)


def differences(runs, key):
    """ME − SE of every field's ``key`` per seed: (fields, (seeds, fields) array)."""
    fields = list(runs[0][key])
    return fields, np.stack([runs.paired((key, f), "ME", "SE", by="kind").diffs for f in fields], 1)


def main():
    torch.set_num_threads(1)
    for name, setting in SETTINGS.items():
        runs = run(setting)
        d_auc = runs.paired("test_auc", "ME", "SE", by="kind")
        fields, d_table = differences(runs, "ia_fields")
        _, d_batch = differences(runs, "ia_batch_fields")
        print(f"\n{name}: ME - SE test AUC {d_auc}")
        for label, d in (("table", d_table), ("batch", d_batch)):
            cells = "  ".join(f"{f} {d[:, i].mean():+.2f} [{d[:, i].min():+.2f}, {d[:, i].max():+.2f}]"
                              for i, f in enumerate(fields))
            print(f"  IA ({label}), mean [min, max] over seeds: {cells}")


if __name__ == "__main__":
    main()
