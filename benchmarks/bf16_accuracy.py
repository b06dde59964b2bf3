"""Does ``TrainConfig(precision="bf16")`` learn what float32 learns? Test AUC, three seeds.

DCNv2 (D = 16, two cross layers, MLP (128, 64)) on the ``ctr`` world (200k rows), trained to
early stopping with lr 2e-3, once in float32 and once with bfloat16 autocast, per seed; prints
each run and the paired differences. About 30 s on 2 cores. Run::

    python benchmarks/bf16_accuracy.py
"""

import warnings

import torch

from minime import data, models, train

torch.set_num_threads(1)
warnings.simplefilter("ignore", train.StillImprovingWarning)
SEEDS = (0, 1, 2)
auc = {}
for seed in SEEDS:
    world = data.make_world("ctr", num_rows=200_000, seed=seed)
    split = world.split(seed=seed)
    for precision in ("fp32", "bf16"):
        train.set_seed(seed)
        net = models.build("dcnv2", world.field_dims,
                           models.CTRConfig(embedding_dim=16, hidden_units=(128, 64), num_cross_layers=2))
        history = train.fit(net, split.train, split.valid,
                            train.TrainConfig(epochs=30, lr=2e-3, progress=False, seed=seed,
                                              precision=precision))
        result = train.evaluate(net, split.test)
        auc[(seed, precision)] = result["auc"][0]
        print(f"seed {seed} {precision}: test AUC {result['auc'][0]:.4f}, logloss "
              f"{result['logloss'][0]:.4f}, {len(history.epochs)} epochs, {history.seconds:.1f} s")
print("bf16 − fp32 test AUC per seed:",
      ", ".join(f"{auc[(s, 'bf16')] - auc[(s, 'fp32')]:+.4f}" for s in SEEDS))
