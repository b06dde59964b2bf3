"""Benchmark: one training step of every multi-task model, and batched experts vs a loop, on CPU.

Step = forward + backward + Adam on a batch of the ``multitask`` world (1,000 users × 500 items,
4 fields, 2 tasks), default :class:`~minime.models.MTLConfig` (experts MLP(64, 64), towers
MLP(32), MMoE 4 experts, PLE / STEM 2 shared + 1 specific, AME three tables of widths 16, 32 and
64 under MMoE gates). Then the experts alone: ``E`` MLP
experts as one :class:`~minime.blocks.MLPExperts` against the same weights in a Python loop
(:class:`~minime.blocks.LoopMLPExperts`, what the reference code does). Run::

    python benchmarks/bench_multitask.py                 # batch 2048, 1 thread, ≈ 30 s
    python benchmarks/bench_multitask.py --rounds 20 --batch 1024
    python benchmarks/bench_multitask.py --json out.json   # also every median, as JSON

Prints the median step time per model (and the time of 200k rows × 4 epochs at that rate), then
the expert timings and their ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from minime import blocks, data, models

NAMES = ("single_task", "shared_bottom", "mmoe", "ple", "me_mmoe", "stem", "ame")


def stepper(model: nn.Module, x: torch.Tensor, y: torch.Tensor):
    """A function doing one forward + backward + Adam step of ``model`` on ``(x, y)``."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step() -> None:
        loss = nn.functional.binary_cross_entropy_with_logits(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return step


def interleaved_medians(steps: dict, rounds: int, per_round: int = 3) -> dict:
    """Median seconds per step of each stepper, timed in interleaved rounds (after 2 warm-ups).

    Interleaving spreads a busy neighbour on a shared machine over all candidates alike.
    """
    times = {name: [] for name in steps}
    for round_ in range(rounds + 1):
        for name, step in steps.items():
            for _ in range(per_round if round_ else 2):
                start = time.perf_counter()
                step()
                if round_:
                    times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def bench_models(x, y, field_dims, rounds: int) -> dict:
    """Print one line per model: parameters, median ms per step, seconds per 200k rows × 4."""
    steps, params = {}, {}
    for name in NAMES:
        torch.manual_seed(0)
        num_tasks = 1 if name == "single_task" else y.shape[1]
        model = models.build(name, field_dims, num_tasks=num_tasks)
        params[name] = models.num_parameters(model)
        steps[name] = stepper(model, x, y[:, :num_tasks])
    medians = interleaved_medians(steps, rounds)
    batches = 4 * -(-200_000 // len(x))
    print(f"{'model':<14} {'params':>8} {'ms/step':>8} {'200k×4 s':>9}")
    for name, median in medians.items():
        print(f"{name:<14} {params[name]:>8,} {median * 1e3:>8.2f} {median * batches:>9.1f}")
    return {name: {"params": params[name], "ms": medians[name] * 1e3} for name in medians}


def bench_experts(batch: int, rounds: int, sizes) -> list:
    """Print batched vs loop step time for each ``(E, input_dim, hidden_units)``."""
    print(f"\n{'experts (E, in, units)':<28} {'batched ms':>10} {'loop ms':>8} "
          f"{'loop/batched':>12}")
    out = []
    for num_experts, input_dim, units in sizes:
        torch.manual_seed(0)
        batched = blocks.MLPExperts(num_experts, input_dim, units)
        x, y = torch.randn(batch, input_dim), torch.zeros(batch, 1)
        modules = {"batched": batched, "loop": blocks.LoopMLPExperts(batched)}
        steps = {kind: stepper(_SumHead(module), x, y) for kind, module in modules.items()}
        medians = interleaved_medians(steps, rounds)
        label = f"{num_experts}, {input_dim}, {tuple(units)}"
        print(f"{label:<28} {medians['batched'] * 1e3:>10.2f} {medians['loop'] * 1e3:>8.2f} "
              f"{medians['loop'] / medians['batched']:>11.2f}x")
        out.append({"experts": label, "batched_ms": medians["batched"] * 1e3,
                    "loop_ms": medians["loop"] * 1e3})
    return out


class _SumHead(nn.Module):
    """Experts ``(E, B, H)`` -> one logit per row (their sum), so a BCE step can be timed."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x).sum(dim=(0, 2)).unsqueeze(1)  # (E, B, H) -> (B,) -> (B, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=2048)
    parser.add_argument("--rounds", type=int, default=10, help="interleaved rounds of 3 steps")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", help="also write the medians to this JSON file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    world = data.make_world("multitask", num_rows=args.batch, seed=0)
    x, y = world.data.x, world.data.y
    print(f"multitask world: fields {world.field_dims}, batch {args.batch}, "
          f"{args.threads} thread(s), median of {3 * args.rounds} interleaved steps")
    steps = bench_models(x, y, world.field_dims, args.rounds)
    batched = bench_experts(args.batch, args.rounds, [(4, 64, (64, 64)), (16, 64, (16, 16)),
                                                      (8, 128, (256, 256))])
    print(f"\ntotal {time.perf_counter() - start:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"batch": args.batch, "threads": args.threads, "steps_timed": 3 * args.rounds,
             "models": steps, "experts": batched}, indent=1) + "\n")


if __name__ == "__main__":
    main()
