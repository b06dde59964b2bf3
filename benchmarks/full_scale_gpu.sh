#!/usr/bin/env bash
# Every chapter at MINIME_SCALE=full on a GPU machine, all at once: times and log tails to stdout,
# the logs to $OUT/logs.tgz (or /tmp); then the DCNv2 throughput benchmark on the GPU (minime's
# rows and the plain loop; FuxiCTR and DeepCTR-Torch too where importable), its table to
# $OUT/throughput_gpu.md. Two steps:
#   here (with .venv):  bash benchmarks/full_scale_gpu.sh convert   # book/*.md -> .gpu/*.py
#   on the GPU machine: LIMIT=520 bash benchmarks/full_scale_gpu.sh run
# The GPU machine needs plotly and ipywidgets (and their dependencies) importable; where it has no
# network, bring them as wheels in .whl/ (they are installed into /tmp/site first).
set -u
case "${1:-}" in
convert)
  mkdir -p .gpu
  for f in book/intro.md book/[0-9]*.md; do
    .venv/bin/jupytext --to py:percent -q -o ".gpu/$(basename "$f" .md).py" "$f"
  done
  sed -i -E 's/^(\s*)# (%pip .*)$/\1pass  # \2/' .gpu/*.py  # the Colab install cell: a no-op
  ;;
run)
  if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl || exit 3
  fi
  export PYTHONPATH=/tmp/site:$PWD MINIME_SCALE=full MINIME_CACHE=/tmp/minime-cache
  export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=2 MKL_NUM_THREADS=2
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
  python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
  logs=/tmp/logs; mkdir -p $logs; pids=()
  for ch in .gpu/*.py; do
    name=$(basename "$ch" .py)
    ( start=$(date +%s%N); timeout "${LIMIT:-520}" python3 "$ch" > "$logs/$name.log" 2>&1; rc=$?
      echo "$name rc=$rc $(( ($(date +%s%N) - start) / 1000000 )) ms" >> $logs/times.txt ) &
    pids+=($!)
  done
  ( while sleep 30; do nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader \
      >> $logs/gpu.txt; done ) &
  monitor=$!
  wait "${pids[@]}"; kill $monitor 2>/dev/null
  sort $logs/times.txt; echo "GPU (util, mem) every 30 s:"; tr '\n' ';' < $logs/gpu.txt; echo
  for f in $logs/*.log; do echo "== $f"; tr '\r' '\n' < "$f" | grep -v "it/s\|step/s\|model/s" | tail -n 6; done
  tar czf "${OUT:-/tmp}/logs.tgz" -C /tmp logs
  ( cd benchmarks && timeout "${LIMIT:-520}" python3 throughput.py --device cuda --repeats 3 \
      --out "${OUT:-/tmp}/throughput_gpu.md" ${FUXICTR_ZOO:+--fuxictr-zoo "$FUXICTR_ZOO"} ) \
    || echo "throughput on the GPU failed or timed out"
  ;;
*) echo "usage: $0 convert | run" >&2; exit 2 ;;
esac
