"""Benchmark: CPU training throughput of one DCNv2 in minime, plain PyTorch, FuxiCTR, DeepCTR-Torch.

The same model everywhere: 39 fields at Criteo's cardinalities (``bench_multi.CRITEO_FIELD_DIMS``,
1,086,810 ids), embedding dim 10, 4 full-rank cross layers stacked under an MLP (400, 400) with
ReLU, batch norm and dropout 0.2, batch 2048, Adam at 1e-3. One epoch over ``--rows`` rows of
synthetic ids: per field a Zipf-like law (log-uniform rank, P(rank k) ~ 1/(k + 1)) with the ranks
scattered over the field's ids by a random permutation, labels Bernoulli(0.25), made once per
process with a fixed seed, then given to each library in its own input format. Each library runs
in its own subprocess (so ``ru_maxrss`` is its own peak), ``--repeats`` rounds round-robin. Run::

    python benchmarks/throughput.py --fuxictr-zoo FuxiCTR/model_zoo/DCNv2 --out throughput.md
    python benchmarks/throughput.py --rows 8192 --steps 2 --repeats 1 --fuxictr-zoo PATH  # smoke
    python benchmarks/throughput.py --one minime_dense --rows 4096      # one library: a JSON line
    python benchmarks/throughput.py --device cuda --libs minime_dense,minime_sparse,torch_loop

``--fuxictr-zoo`` is FuxiCTR's ``model_zoo/DCNv2`` folder (its DCNv2 is not in the wheel).
Libraries that are not installed are skipped with a one-line message; the peers' virtual
environment is described in ``benchmarks/README.md`` and ``benchmarks/requirements.txt``.
Timed: one training epoch (batching, forward, loss, backward, optimiser steps), through each
library's own training entry point; not timed: data generation, conversion, model building, and
a warm-up in which each process first trains a separate model on ``--warmup`` batches (one-off
costs such as kernel selection and the allocator's first pages, paid once per process, which an
epoch of 100 steps would otherwise spread over its steps).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import types
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from bench_multi import CRITEO_FIELD_DIMS

LIBS = OrderedDict([  # --one name -> table label
    ("minime_dense", "minime `train.fit`, fused Adam"),
    ("minime_sparse", "minime `train.fit`, SparseAdam"),
    ("minime_bf16", "minime `train.fit`, SparseAdam, bf16 autocast"),
    ("torch_loop", "plain PyTorch loop, minime model, torch's default Adam"),
    ("fuxictr", "FuxiCTR 2.3.10 `DCNv2`"),
    ("deepctr", "DeepCTR-Torch 0.3.0 `DCN`"),
])
MINIME = ("minime_dense", "minime_sparse", "minime_bf16")
PIP_NAMES = {"yaml": "pyyaml", "sklearn": "scikit-learn"}
NAMES = [f"C{i + 1}" for i in range(len(CRITEO_FIELD_DIMS))]


class Skip(Exception):
    """A library (or one of its dependencies) is not installed: skip it with this message."""


def make_data(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, 39)`` int64 ids, Zipf-like per field, and ``(rows,)`` float32 labels in {0, 1}."""
    rng = np.random.default_rng(seed)
    cols = []
    for v in CRITEO_FIELD_DIMS:
        rank = np.floor(np.exp(rng.random(rows) * np.log(v + 1))).astype(np.int64) - 1  # [0, v)
        cols.append(rng.permutation(v)[rank])  # hot ids scattered over the field's range
    return np.stack(cols, 1), (rng.random(rows) < 0.25).astype(np.float32)


def epoch_order(n: int) -> torch.Tensor:
    """The row order of an epoch: exactly the one ``train.fit`` (TrainConfig.seed=0) draws."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(0))


def build_minime(x, y, args, sparse: bool, precision: str = "fp32"):
    from minime import data, models, train
    model = models.build("dcnv2", CRITEO_FIELD_DIMS,  # paper: d=10, 4 cross, (400, 400), BN, 0.2
                         models.CTRConfig.preset("paper", sparse_embedding=sparse)).to(args.device)
    rows = data.TensorData(x, y, CRITEO_FIELD_DIMS)
    valid = data.TensorData(x[:512], y[:512], CRITEO_FIELD_DIMS)  # fit validates: ~1 % of a step
    config = train.TrainConfig(epochs=1, batch_size=args.batch, optimizer="sparse_adam" if sparse
                               else "adam", restore_best=False, progress=False, seed=0,
                               precision=precision)
    return model, lambda: train.fit(model, rows, valid, config, device=args.device)


def build_torch_loop(x, y, args):
    from minime import models
    model = models.build("dcnv2", CRITEO_FIELD_DIMS, "paper").to(args.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    xt, yt = torch.from_numpy(x).to(args.device), torch.from_numpy(y).unsqueeze(1).to(args.device)

    def run():
        model.train()
        order = epoch_order(len(yt)).to(args.device)  # the same batches as train.fit
        for start in range(0, len(yt), args.batch):
            index = order[start:start + args.batch]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(xt[index]), yt[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return model, run


def stub_ray() -> None:
    """FuxiCTR's preprocessing imports ray at import time (never used here): a stand-in."""
    if "ray" in sys.modules or importlib.util.find_spec("ray") is not None:
        return
    for name in ("ray", "ray.data", "ray.data.datasource", "ray.data.datasource.filename_provider"):
        sys.modules[name] = types.ModuleType(name)
        sys.modules[name].__path__ = []  # a package, for the submodules' imports
    sys.modules[name].FilenameProvider = type("FilenameProvider", (), {})  # a base class there
    sys.modules["ray.data"].SaveMode = sys.modules["ray.data"].TaskPoolStrategy = None


def build_fuxictr(x, y, args):
    if importlib.util.find_spec("fuxictr") is None:
        raise Skip("package 'fuxictr' is not installed: pip install --no-deps fuxictr==2.3.10 "
                   "and its import deps (benchmarks/requirements.txt)")
    source = Path(args.fuxictr_zoo or "") / "src" / "DCNv2.py"
    if not args.fuxictr_zoo or not source.is_file():
        raise Skip("FuxiCTR's DCNv2 is not in the wheel: pass --fuxictr-zoo PATH, PATH the "
                   "model_zoo/DCNv2 folder of the FuxiCTR repository (git clone reczoo/FuxiCTR)")
    stub_ray()
    from fuxictr.features import FeatureMap
    spec = importlib.util.spec_from_file_location("fuxictr_zoo_dcnv2", source)
    zoo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(zoo)
    root = tempfile.mkdtemp(prefix="fuxictr_bench_")  # model_root: nothing is saved (no eval)
    feature_map = FeatureMap("synthetic_criteo", root)
    feature_map.features = OrderedDict(  # exact vocabularies (FuxiCTR's tokenizer would add OOV)
        (name, {"type": "categorical", "vocab_size": v, "source": ""})
        for name, v in zip(NAMES, CRITEO_FIELD_DIMS))
    feature_map.labels, feature_map.num_fields, feature_map.default_emb_dim = ["label"], 39, 10
    feature_map.set_column_index()
    # "stacked" = minime's structure (FuxiCTR's default is "parallel", cross ‖ MLP).
    gpu = (torch.device(args.device).index or 0) if args.device.startswith("cuda") else -1
    model = zoo.DCNv2(feature_map, gpu=gpu, model_structure="stacked", embedding_dim=10,
                      num_cross_layers=4, stacked_dnn_hidden_units=[400, 400],
                      dnn_activations="ReLU", net_dropout=0.2, batch_norm=True,
                      learning_rate=1e-3, optimizer="adam", loss="binary_crossentropy",
                      metrics=["logloss", "AUC"], verbose=0, model_root=root)
    # BaseModel.fit would evaluate on validation data and checkpoint to disk after the epoch;
    # train_epoch is its epoch loop alone (train_step: sigmoid + BCE, clip_grad_norm_ at 10
    # over every parameter as fit's default, Adam). Batches: dicts of column tensors, in
    # memory (its own loaders read npz / parquet files), in train.fit's order.
    model._eval_steps, model._max_gradient_norm = 1 << 62, 10.0
    model._total_steps, model._stop_training = 0, False
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    columns = {name: xt[:, j] for j, name in enumerate(NAMES)}  # views, no copy

    def batches():
        order = epoch_order(len(yt))
        for start in range(0, len(yt), args.batch):
            index = order[start:start + args.batch]
            yield {**{k: c[index] for k, c in columns.items()}, "label": yt[index]}
    return model, lambda: model.train_epoch(batches())


def import_deepctr():
    """Import deepctr_torch with its PyPI version check (a thread doing a GET) switched off."""
    spec = importlib.util.find_spec("deepctr_torch")
    if spec is None:
        raise Skip("package 'deepctr-torch' is not installed: pip install --no-deps "
                   "deepctr-torch==0.3.0 and its import deps (benchmarks/requirements.txt)")
    if "deepctr_torch" not in sys.modules:
        package = importlib.util.module_from_spec(spec)
        sys.modules["deepctr_torch"] = package  # so that deepctr_torch.utils can load first
        try:
            importlib.import_module("deepctr_torch.utils").check_version = lambda version: None
            spec.loader.exec_module(package)  # its __init__ now calls the patched check_version
        except BaseException:
            sys.modules.pop("deepctr_torch", None)
            raise


def build_deepctr(x, y, args):
    import_deepctr()
    from deepctr_torch.inputs import SparseFeat
    from deepctr_torch.models import DCN
    features = [SparseFeat(n, v, embedding_dim=10) for n, v in zip(NAMES, CRITEO_FIELD_DIMS)]
    # No linear (wide) part, no L2 terms (minime trains with neither). DCN is parallel only:
    # [cross(x0) ‖ MLP(x0)] -> Linear(390 + 400, 1, no bias) + the output bias.
    model = DCN([], features, cross_num=4, cross_parameterization="matrix",
                dnn_hidden_units=(400, 400), dnn_activation="relu", dnn_use_bn=True,
                dnn_dropout=0.2, l2_reg_linear=0, l2_reg_embedding=0, l2_reg_cross=0,
                l2_reg_dnn=0, seed=0, task="binary",
                device="cuda:0" if args.device == "cuda" else args.device)
    model.compile("adam", "binary_crossentropy")  # Adam(lr=1e-3), sigmoid + BCE (sum)
    inputs = {name: x[:, j] for j, name in enumerate(NAMES)}
    # fit: concatenates the columns, DataLoader(TensorDataset, shuffle=True), ids as float32.
    return model, lambda: model.fit(inputs, y, batch_size=args.batch, epochs=1, verbose=0)


def run_one(args) -> dict:
    """Build one library's model, train one epoch, return its numbers (in this process)."""
    torch.set_num_threads(args.threads)
    rows = min(args.rows, args.steps * args.batch) if args.steps else args.rows
    x, y = make_data(rows, args.seed)
    builders = {"minime_dense": lambda x, y: build_minime(x, y, args, False),
                "minime_sparse": lambda x, y: build_minime(x, y, args, True),
                "minime_bf16": lambda x, y: build_minime(x, y, args, True, "bf16"),
                "torch_loop": lambda x, y: build_torch_loop(x, y, args),
                "fuxictr": lambda x, y: build_fuxictr(x, y, args),
                "deepctr": lambda x, y: build_deepctr(x, y, args)}
    try:
        warm = min(rows, args.warmup * args.batch)
        if warm:  # the process warms up (kernels, allocator, threads) on a model of its own
            torch.manual_seed(1)
            builders[args.one](x[:warm], y[:warm])[1]()
        torch.manual_seed(0)
        model, run = builders[args.one](x, y)
    except ModuleNotFoundError as error:
        top = (error.name or "?").split(".")[0]
        raise Skip(f"cannot import {top!r}: pip install {PIP_NAMES.get(top, top)} (see "
                   "benchmarks/requirements.txt)") from error
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # the first optimiser imports
    #   torch._dynamo (~2 s): a start-up cost, paid here and not inside minime's fit
    cuda = args.device.startswith("cuda")
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    run()
    if cuda:
        torch.cuda.synchronize()  # the epoch's last kernels
    seconds = time.perf_counter() - start
    return {"lib": args.one, "rows": rows, "steps": -(-rows // args.batch), "params": params,
            "warmup_steps": -(-warm // args.batch),
            "seconds": seconds, "sps": rows / seconds, "torch": torch.__version__,
            "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "device": args.device, "gpu_peak_mib": torch.cuda.max_memory_allocated() / 2**20
            if cuda else None}


def child(lib: str, args) -> dict | str:
    """Run ``--one lib`` in a fresh interpreter: its result, or a skip message (a string)."""
    command = [sys.executable, __file__, "--one", lib, "--rows", str(args.rows), "--batch",
               str(args.batch), "--steps", str(args.steps), "--threads", str(args.threads),
               "--seed", str(args.seed), "--warmup", str(args.warmup), "--device",
               args.device] + (["--fuxictr-zoo", args.fuxictr_zoo]
                                            if args.fuxictr_zoo else [])
    done = subprocess.run(command, capture_output=True, text=True)
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(("RESULT ", "SKIP ")):
            kind, _, rest = line.partition(" ")
            return json.loads(rest) if kind == "RESULT" else rest
    sys.exit(f"{lib} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")


def cpu_name() -> str:
    """The CPU's model name (Linux), else the platform's processor string."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def table(results: dict, skipped: dict, args) -> str:
    """One Markdown table (after a one-line caption): a row per library, ratios per round."""
    first = next((r[0] for r in results.values() if r), None)
    head = (f"DCNv2 (embed 10, 4 full-rank cross layers, MLP (400, 400), BN, dropout 0.2), "
            f"{len(CRITEO_FIELD_DIMS)} fields / {sum(CRITEO_FIELD_DIMS):,} ids, batch "
            f"{args.batch}, {first['rows']:,} rows ({first['steps']} steps) per epoch, "
            f"after {args.warmup} warm-up steps, "
            f"{'on ' + args.device if args.device != 'cpu' else str(args.threads) + ' thread(s)'}"
            f", {args.repeats} "
            f"round(s), torch {first['torch']}"
            if first else "no library ran")
    mins = [m for m in MINIME if results.get(m)]
    lines = [head, "", "| library | trainable params | samples/s (median) | min–max | peak RSS "
             "(MiB) |" + "".join(f" minime {LIBS[m].split(', ')[-1]} ÷ this |" for m in mins),
             "|---|---:|---:|---:|---:|" + "---:|" * len(mins)]
    for lib, label in LIBS.items():
        runs, sps = results.get(lib), [r["sps"] for r in results.get(lib) or []]
        if lib in skipped:
            lines.append(f"| {label} | skipped: {skipped[lib]} |" + " |" * (3 + len(mins)))
        if not runs:
            continue
        ratios = [statistics.median(a["sps"] / b["sps"] for a, b in zip(results[m], runs))
                  for m in mins]  # minime's samples/s over this library's, round by round
        lines.append(f"| {label} | {runs[0]['params']:,} | {statistics.median(sps):,.0f} | "
                     f"{min(sps):,.0f}–{max(sps):,.0f} | {max(r['rss_mib'] for r in runs):,.0f} "
                     "|" + "".join(f" {r:.2f}× |" for r in ratios))
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows in the epoch")
    parser.add_argument("--steps", type=int, default=0, help="cap on batches (0: the whole epoch)")
    parser.add_argument("--batch", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--device", default="cpu", help="cpu (the default) or cuda; on a GPU "
                        "every library trains there, with the data in its usual place")
    parser.add_argument("--repeats", type=int, default=3, help="round-robin rounds")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic data")
    parser.add_argument("--warmup", type=int, default=5, help="batches each process first trains "
                        "a separate model on, untimed (0: none)")
    parser.add_argument("--libs", default=",".join(LIBS), help="comma-separated subset")
    parser.add_argument("--fuxictr-zoo", help="FuxiCTR's model_zoo/DCNv2 folder")
    parser.add_argument("--out", help="also write the Markdown table to this file")
    parser.add_argument("--json", help="also write every run and the setting to this JSON file "
                        "(what the book's Appendix A reads: benchmarks/results/throughput.json)")
    parser.add_argument("--one", choices=list(LIBS), help=argparse.SUPPRESS)  # child mode
    args = parser.parse_args()
    if args.one:
        try:
            print("RESULT " + json.dumps(run_one(args)), flush=True)
        except Skip as skip:
            print(f"SKIP {skip}", flush=True)
        return
    libs = [lib for lib in args.libs.split(",") if lib]
    if set(libs) - set(LIBS):
        parser.error(f"unknown --libs {sorted(set(libs) - set(LIBS))}; choose from {list(LIBS)}")
    results, skipped = {lib: [] for lib in libs}, {}
    for round_ in range(args.repeats):
        for lib in [lib for lib in libs if lib not in skipped]:
            outcome = child(lib, args)
            if isinstance(outcome, str):
                skipped[lib] = outcome
                print(f"skipping {LIBS[lib]}: {outcome}", file=sys.stderr)
            else:
                results[lib].append(outcome)
                print(f"round {round_ + 1}: {lib} {outcome['sps']:,.0f} samples/s",
                      file=sys.stderr)
    text = table(results, skipped, args)
    print(text, end="")
    if args.out:
        Path(args.out).write_text(text)
    if args.json:
        setting = {k: getattr(args, k)
                   for k in ("rows", "steps", "batch", "threads", "repeats", "seed", "warmup",
                             "device")}
        Path(args.json).write_text(json.dumps(
            {"measured": time.strftime("%Y-%m-%d"), "cpu": cpu_name(), "cores": os.cpu_count(),
             "setting": setting, "labels": {lib: LIBS[lib] for lib in libs}, "runs": results,
             "skipped": skipped, "table": text}, indent=1) + "\n")


if __name__ == "__main__":
    main()
