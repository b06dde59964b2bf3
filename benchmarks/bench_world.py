"""Benchmark: generating the synthetic world and cutting it into batches.

Target (2 CPU cores): a 1M-row world in <= 10 s (aim ~5 s). Run::

    python benchmarks/bench_world.py                 # every preset at 1M rows
    python benchmarks/bench_world.py --rows 200000 --presets ctr multitask

Prints, per preset, the generation time, the realised base rates and the time of one shuffled
epoch of ``TensorData.batches`` at batch size 2048, plus the cost of validating 1M rows.
"""

from __future__ import annotations

import argparse
import time

import torch

from minime.data import PRESETS, TensorData, make_world


def best_of(repeats: int, fn) -> tuple[float, object]:
    """Shortest wall time of ``repeats`` calls of ``fn`` and its last result."""
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def epoch(data: TensorData, batch_size: int = 2048) -> int:
    """One shuffled pass over ``data``; returns the number of rows seen."""
    generator = torch.Generator().manual_seed(0)
    return sum(len(b.x) for b in data.batches(batch_size, shuffle=True, generator=generator))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--presets", nargs="*", default=[p for p in PRESETS if p != "tiny"])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"{'preset':<18} {'rows':>9} {'generate s':>10} {'epoch s':>8}  base rates")
    for name in args.presets:
        seconds, world = best_of(args.repeats, lambda: make_world(name, num_rows=args.rows))
        epoch_s, _ = best_of(args.repeats, lambda: epoch(world.data))
        rates = ", ".join(f"{r:.4f}" for r in world.data.y.mean(0).tolist())
        print(f"{name:<18} {args.rows:>9} {seconds:>10.2f} {epoch_s:>8.2f}  {rates} "
              f"(asked {', '.join(map(str, world.config.base_rates))})")
    data = world.data
    check_s, _ = best_of(args.repeats, lambda: TensorData(data.x, data.y, data.field_dims, meta=data.meta))
    print(f"validating {data.num_rows} rows x {data.num_fields} fields: {check_s:.3f} s")


if __name__ == "__main__":
    main()
