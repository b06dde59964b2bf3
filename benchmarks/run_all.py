"""Run every benchmark and write one Markdown table of the results (and each one's JSON).

From the repository root, with the project's environment (the chapters run in it)::

    .venv/bin/python benchmarks/run_all.py                       # peers skipped: minime rows only
    .venv/bin/python benchmarks/run_all.py --peers-python /work/peers-venv/bin/python \\
        --fuxictr-zoo /work/peers/FuxiCTR/model_zoo/DCNv2        # the table of Appendix A
    .venv/bin/python benchmarks/run_all.py --only metrics,multi  # a subset
    .venv/bin/python benchmarks/run_all.py --quick               # a smoke run, minutes
    .venv/bin/python benchmarks/run_all.py --summary-only        # the table again, from the JSON

Each benchmark runs in its own process and writes ``<out>/<name>.json``; the table goes to
``<out>/summary.md`` (``--out``, default ``benchmarks/results``). Benchmarks (``--only``):

- ``throughput``: ``throughput.py``, DCNv2 training samples/s and peak RSS of minime, a plain loop, FuxiCTR and
  DeepCTR-Torch (the peers through ``--peers-python``, the environment of ``benchmarks/README.md``).
- ``multi``: ``bench_multi.py``, one step of ME-DCNv2 4×10 against SE DCNv2-40.
- ``multitask``: ``bench_multitask.py``, one step of every multi-task model (STEM, AME, MMoE…).
- ``metrics``: ``bench_metrics.py``, information abundance of a 1M × 64 table and GAUC on 1M rows
  against FuxiCTR's gAUC (with ``--peers-python``) and a scikit-learn loop.
- ``chapters``: every notebook of ``book/`` executed (nbclient, a fresh ``MINIME_CACHE``) at the
  scales of ``--scales`` (default ``ci,book``), one at a time: wall seconds each.

About 20 minutes on 2 cores with the peers and both scales, most of it the chapters at ``book``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BOOK = HERE.parent / "book"
BENCHES = ("throughput", "multi", "multitask", "metrics", "chapters")


def run_script(script: str, python: str, args: list[str]) -> None:
    """Run ``benchmarks/<script>`` with ``python``, streaming its output; stop on failure."""
    command = [python, str(HERE / script), *args]
    print(f"\n$ {' '.join(command)}", flush=True)
    if subprocess.run(command, cwd=HERE).returncode:
        sys.exit(f"{script} failed; see its output above")


def time_chapters(scales: list[str], timeout: int) -> dict:
    """Execute every chapter notebook at each scale, one at a time: ``{scale: {page: seconds}}``."""
    import nbformat
    from nbclient import NotebookClient
    pages = [BOOK / "intro.ipynb", *sorted(BOOK.glob("[0-9]*.ipynb"))]
    out = {}
    for scale in scales:
        out[scale] = {}
        with tempfile.TemporaryDirectory(prefix="minime-bench-cache-") as cache:
            os.environ.update(MINIME_SCALE=scale, MINIME_CACHE=cache)
            os.environ.pop("MINIME_SEED", None)
            for page in pages:
                notebook = nbformat.read(page, as_version=4)
                start, failed = time.perf_counter(), ""
                try:
                    NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                                   resources={"metadata": {"path": str(BOOK)}}).execute()
                except Exception as error:  # noqa: BLE001 - reported, and the others still run
                    failed = f"{type(error).__name__}: {str(error).strip().splitlines()[-1]}"
                out[scale][page.stem] = time.perf_counter() - start
                print(f"  {scale:>4}  {page.stem:<28} {out[scale][page.stem]:6.1f} s {failed}",
                      flush=True)
                if failed:
                    out.setdefault("failed", {})[f"{scale}/{page.stem}"] = failed
    return out


def spread(values: list[float], fmt: str = ",.0f") -> str:
    """``median (min–max)`` of a list of numbers."""
    return (f"{statistics.median(values):{fmt}} ({min(values):{fmt}}–{max(values):{fmt}})"
            if len(values) > 1 else f"{values[0]:{fmt}}")


def verdict(ok: bool) -> str:
    return "yes" if ok else "**no**"


def summary(out: Path) -> str:
    """The one table: a row per measurement, with its peer or baseline, ratio and target."""
    rows = []

    def load(name):
        path = out / f"{name}.json"
        return json.loads(path.read_text()) if path.exists() else None

    if (tp := load("throughput")) and tp["runs"]:
        runs = tp["runs"]
        for mine, what in (("minime_sparse", "SparseAdam, float32"), ("minime_dense",
                           "fused Adam, float32"), ("minime_bf16", "SparseAdam, bf16 autocast")):
            for peer, name in (("fuxictr", "FuxiCTR"), ("deepctr", "DeepCTR-Torch"),
                               ("torch_loop", "plain loop, torch's Adam")):
                if runs.get(mine) and runs.get(peer):
                    ratios = [a["sps"] / b["sps"] for a, b in zip(runs[mine], runs[peer])]
                    target = "≥ 2.0×" if peer != "torch_loop" and mine == "minime_sparse" else ""
                    met = verdict(statistics.median(ratios) >= 2.0) if target else ""
                    rows.append((f"DCNv2 training samples/s, minime {what}",
                                 spread([r["sps"] for r in runs[mine]]),
                                 f"{name} {spread([r['sps'] for r in runs[peer]])}",
                                 f"{spread(ratios, '.2f')}×", target, met))
        for mine, what in (("minime_sparse", "SparseAdam"), ("minime_dense", "fused Adam")):
            for peer, name in (("fuxictr", "FuxiCTR"), ("deepctr", "DeepCTR-Torch")):
                if runs.get(mine) and runs.get(peer):
                    a, b = (max(r["rss_mib"] for r in runs[k]) for k in (mine, peer))
                    rows.append((f"DCNv2 training peak RSS (MiB), minime {what}", f"{a:,.0f}",
                                 f"{name} {b:,.0f}", f"{a / b:.2f}×", "", ""))
    if mt := load("multi"):
        for run in mt["runs"]:
            se, me = run["ms"]["SE DCNv2-40"], run["ms"]["ME DCNv2 4x10"]
            rows.append((f"ME DCNv2 4×10 step, {run['threads']} thread(s), ms", f"{me:.0f}",
                         f"SE DCNv2-40 {se:.0f}", f"{me / se:.2f}×", "≤ 1.0×", verdict(me <= se)))
    if mk := load("multitask"):
        base = mk["models"]["mmoe"]["ms"]
        for name, label in (("stem", "STEM"), ("ame", "AME"), ("me_mmoe", "ME-MMoE")):
            ms = mk["models"][name]["ms"]
            rows.append((f"{label} step (multitask world, batch {mk['batch']}), ms", f"{ms:.1f}",
                         f"MMoE {base:.1f}", f"{ms / base:.2f}×", "", ""))
    if me := load("metrics"):
        ia, ga = me["ia"], me["gauc"]
        rows.append(("IA of a 1M × 64 table, s", f"{ia['minime_s']:.2f}",
                     f"np.linalg.svd {ia['svd_s']:.1f}", f"{ia['svd_s'] / ia['minime_s']:.0f}× faster",
                     "≤ 1 s", verdict(ia["minime_s"] <= 1)))
        if "fuxictr_s" in ga:
            rows.append(("GAUC, 1M rows / 100k groups, s", f"{ga['minime_s']:.2f}",
                         f"FuxiCTR gAUC {ga['fuxictr_s']:.0f} (extrapolated)",
                         f"{ga['fuxictr_s'] / ga['minime_s']:.0f}× faster", "≤ 1 s, ≥ 50×",
                         verdict(ga["minime_s"] <= 1 and ga["fuxictr_s"] / ga["minime_s"] >= 50)))
        rows.append(("GAUC, 1M rows / 100k groups, s", f"{ga['minime_s']:.2f}",
                     f"scikit-learn loop {ga['sklearn_loop_s']:.0f} (extrapolated)",
                     f"{ga['sklearn_loop_s'] / ga['minime_s']:.0f}× faster", "", ""))
    if ch := load("chapters"):
        failed = ch.pop("failed", {})
        for scale, pages in ch.items():
            limit = {"ci": 60, "book": 120}.get(scale)
            for page, seconds in pages.items():
                error = failed.get(f"{scale}/{page}")
                rows.append((f"page `{page}` at `{scale}`, s", f"{seconds:.0f}",
                             f"**failed**: {error}" if error else "", "",
                             f"≤ {limit} s" if limit else "",
                             verdict(seconds <= limit and not error) if limit else ""))
            rows.append((f"all pages at `{scale}`, s", f"{sum(pages.values()):.0f}", "", "", "", ""))
    lines = ["| measurement | minime | peer or baseline | minime ÷ peer | target | met |",
             "|---|---:|---|---:|---|---|"] + ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(BENCHES), help="comma-separated subset")
    parser.add_argument("--peers-python", default=sys.executable,
                        help="the interpreter of the peers' environment (FuxiCTR, DeepCTR-Torch)")
    parser.add_argument("--fuxictr-zoo", help="FuxiCTR's model_zoo/DCNv2 folder")
    parser.add_argument("--scales", default="ci,book", help="scales the chapters are timed at")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check that all runs")
    parser.add_argument("--out", default=str(HERE / "results"), help="folder for the results")
    parser.add_argument("--summary-only", action="store_true",
                        help="run nothing: rewrite summary.md from the JSON files in --out")
    args = parser.parse_args()
    only = [b for b in args.only.split(",") if b]
    if set(only) - set(BENCHES):
        parser.error(f"unknown --only {sorted(set(only) - set(BENCHES))}; choose from {BENCHES}")
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    quick = args.quick
    if args.summary_only:
        only = []
    if "throughput" in only:
        run_script("throughput.py", args.peers_python,
                   (["--fuxictr-zoo", args.fuxictr_zoo] if args.fuxictr_zoo else [])
                   + (["--rows", "8192", "--repeats", "1", "--warmup", "1"] if quick else [])
                   + ["--json", str(out / "throughput.json")])
    if "multi" in only:
        run_script("bench_multi.py", sys.executable, (["--cap", "2000", "--steps", "2"] if quick
                                                      else []) + ["--json", str(out / "multi.json")])
    if "multitask" in only:
        run_script("bench_multitask.py", sys.executable,
                   (["--rounds", "1"] if quick else []) + ["--json", str(out / "multitask.json")])
    if "metrics" in only:
        run_script("bench_metrics.py", args.peers_python, ["--json", str(out / "metrics.json")])
    if "chapters" in only:
        scales = [s for s in args.scales.split(",") if s]
        print(f"\nchapters at {', '.join(scales)}, one at a time", flush=True)
        (out / "chapters.json").write_text(json.dumps(time_chapters(scales, 1200), indent=1) + "\n")
    when = (json.loads((out / "throughput.json").read_text())["measured"] if args.summary_only
            and (out / "throughput.json").exists() else time.strftime("%Y-%m-%d"))
    text = (f"Measured {when} by `benchmarks/run_all.py`"
            f"{' --quick (smoke sizes)' if quick else ''}.\n\n" + summary(out))
    (out / "summary.md").write_text(text)
    print("\n" + text + f"\nwritten: {out / 'summary.md'}")


if __name__ == "__main__":
    main()
