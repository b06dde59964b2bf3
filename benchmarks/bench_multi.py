"""Benchmark: one training step of ME-DCNv2 4×10 against SE DCNv2-40 on CPU.

Both have the same embedding parameters (39 fields × 40 columns). ME runs four cross nets of
width 390 instead of one of width 1560 (16× fewer cross FLOPs per set, 4× fewer in all), plus a
per-set first layer. Criteo's 39 field cardinalities (papers.md §2.3) capped at 20,000, batch
2048, the paper's DCNv2 sizes (4 cross layers, MLP (400, 400), BN, dropout 0.2). Run::

    python benchmarks/bench_multi.py              # 1 thread, then the default thread count
    python benchmarks/bench_multi.py --steps 5 --cap 5000
    python benchmarks/bench_multi.py --json out.json   # also every median, as JSON

Prints the median forward + backward + Adam step time of each model and their ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from minime import models

CRITEO_FIELD_DIMS = (49, 101, 126, 45, 223, 118, 84, 76, 95, 9, 30, 40, 75, 1458, 555, 193949,
                     138801, 306, 19, 11970, 634, 4, 42646, 5178, 192773, 3175, 27, 11422, 181075,
                     11, 4654, 2032, 5, 189657, 18, 16, 59697, 86, 45571)


def step_times(model: nn.Module, ids: torch.Tensor, labels: torch.Tensor, steps: int,
               warmup: int) -> list[float]:
    """Seconds of each of ``steps`` forward + backward + Adam steps, after ``warmup`` steps."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    times = []
    for i in range(warmup + steps):
        start = time.perf_counter()
        loss = nn.functional.binary_cross_entropy_with_logits(model(ids), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cap", type=int, default=20_000, help="largest field cardinality")
    parser.add_argument("--batch", type=int, default=2048)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--json", help="also write the medians to this JSON file")
    args = parser.parse_args()
    field_dims = [min(v, args.cap) for v in CRITEO_FIELD_DIMS]
    g = torch.Generator().manual_seed(0)
    ids = torch.stack([torch.randint(0, v, (args.batch,), generator=g) for v in field_dims], 1)
    labels = torch.bernoulli(torch.full((args.batch, 1), 0.25), generator=g)
    paper = models.CTRConfig.preset("paper")  # d = 10, 4 cross layers, MLP (400, 400)
    se_config = models.CTRConfig.preset("paper", embedding_dim=40)
    builds = {"SE DCNv2-40": lambda: models.build("dcnv2", field_dims, se_config),
              "ME DCNv2 4x10": lambda: models.build("me_dcnv2", field_dims, paper,
                                                    me=models.MEConfig(num_embeddings=4))}
    print(f"{len(field_dims)} fields, {sum(field_dims):,} ids, batch {args.batch}, "
          f"median of {args.steps} steps after {args.warmup} warm-up")
    default_threads, out = torch.get_num_threads(), []
    for threads in dict.fromkeys([1, default_threads]):
        torch.set_num_threads(threads)
        medians = {}
        for name, build in builds.items():
            torch.manual_seed(0)
            model = build()
            params = models.num_parameters(model)
            times = step_times(model, ids, labels, args.steps, args.warmup)
            medians[name] = statistics.median(times)
            print(f"  threads={threads}  {name:<14} {params / 1e6:6.2f}M params  "
                  f"{medians[name] * 1e3:8.1f} ms/step")
        se, me = medians.values()
        print(f"  threads={threads}  SE / ME step time = {se / me:.2f}x")
        out.append({"threads": threads, "ms": {k: v * 1e3 for k, v in medians.items()}})
    torch.set_num_threads(default_threads)
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"fields": len(field_dims), "ids": sum(field_dims), "batch": args.batch,
             "steps": args.steps, "runs": out}, indent=1) + "\n")


if __name__ == "__main__":
    main()
