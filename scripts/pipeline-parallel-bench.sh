#!/usr/bin/env bash
# Pipeline parallelism across two processes on loopback: bench batch on config/models/llama-110m
# (dummy weights) at 1 and 32 sequences with --pipeline-parallel-size 1 (one process) and 2 with
# --distributed-executor-backend cluster (stage 0 in the bench's process, stage 1 in an
# `llm-engine worker --join` process started for each run and stopped after it, process group
# and all), alternating the two round by round. Prints each run, the medians, the ratio P=2 / P=1
# of generation throughput, and the per-step cost of the stage boundary (round trips beyond the
# worker's compute), and writes them to OUT (default pipeline-parallel-bench.txt). Release build.
#   scripts/pipeline-parallel-bench.sh [ROUNDS] [OUT] [extra bench flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
out=${2:-pipeline-parallel-bench.txt}
shift $(( $# < 2 ? $# : 2 ))
bin=src/Host/bin/Release/net10.0/llm-engine
work=$(mktemp -d)
source scripts/lib/worker-process.sh
trap 'stop_worker; rm -rf "$work"' EXIT

run() { # P BATCH ROUND -> "gen prompt boundary_ms_per_step"
  local flags=()
  if [[ $1 == 2 ]]; then
    start_worker "$work/worker-$2-$3.log"
    flags=(--pipeline-parallel-size 2 --distributed-executor-backend cluster --cluster-port "$port")
  fi
  "$bin" bench batch --model config/models/llama-110m --load-format dummy --batch-sizes "$2" --input-len 128 --output-len 64 \
    "${flags[@]}" --no-progress --output-json "$work/pp$1-$2-$3.json" "${@:4}" >/dev/null 2>"$work/pp$1-$2-$3.log"
  stop_worker
  python3 -c "
import json,sys; r=json.load(open(sys.argv[1]))['rows'][0]; b=r.get('pipeline_boundaries')
print(f\"{r['generation_tokens_per_second']:.1f} {r['prompt_tokens_per_second']:.1f} {(b['wire_seconds']*1000/r['num_steps']) if b else 0:.2f}\")" "$work/pp$1-$2-$3.json"
}

{
  echo "bench batch, llama-110m dummy float32, 128 prompt + 64 generated tokens, $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "round pp batch gen prompt boundary_ms_per_step"
  for ((r = 1; r <= rounds; r++)); do
    for b in 1 32; do
      for pp in 1 2; do echo "$r $pp $b $(run $pp $b $r "$@")"; done
    done
  done | tee "$work/runs.txt"
  python3 - "$work/runs.txt" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
def med(pp, b, i): return statistics.median(float(r[i]) for r in rows if r[1] == pp and r[2] == b)
for b in ("1", "32"):
    print(f"{b} sequences: P=1 generation {med('1', b, 3):.1f} tokens/s, P=2 over two processes {med('2', b, 3):.1f} "
          f"({med('2', b, 3) / med('1', b, 3):.2f}x); stage boundary {med('2', b, 5):.2f} ms per step")
PY
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$out"
