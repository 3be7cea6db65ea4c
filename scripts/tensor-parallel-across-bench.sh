#!/usr/bin/env bash
# Tensor parallelism across processes vs in one process vs pipeline stages across processes, on one
# machine's loopback: bench batch on config/models/llama-110m (dummy weights) at 1 and 32 sequences with
#   t2: --tensor-parallel-size 2, two rank threads of one process (1 core each);
#   tx: --tensor-parallel-size 2 --tensor-parallel-across-nodes, rank 0 in the bench's process and rank 1 in an
#       `llm-engine worker --join` process, 1 core each (LLM_NATIVE_THREADS=1 OMP_NUM_THREADS=1), their
#       all-reduces over TCP on loopback;
#   p2: --pipeline-parallel-size 2, stage 1 in a worker process (the stages take turns, each with every core);
# alternating the configurations round by round. Prints each run (generation tokens/s, ms per decode step,
# the head's rank's all-reduce ms per step and bytes per all-reduce, or the stage boundary's ms per step),
# the medians, and writes them to OUT (default tensor-parallel-across-bench.txt). Release build.
#   scripts/tensor-parallel-across-bench.sh [ROUNDS] [OUT] [extra bench flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
out=${2:-tensor-parallel-across-bench.txt}
shift $(( $# < 2 ? $# : 2 ))
bin=src/Host/bin/Release/net10.0/llm-engine
work=$(mktemp -d)
source scripts/lib/worker-process.sh
trap 'stop_worker; rm -rf "$work"' EXIT

run() { # CONFIG ROUND [extra] -> one line per batch size: "batch gen ms_per_step comm_ms_per_step bytes_per_all_reduce boundary_ms_per_step"
  local flags=() env=()
  case $1 in
    t2) flags=(--tensor-parallel-size 2) ;;
    tx|p2)
      [[ $1 == tx ]] && env=(LLM_NATIVE_THREADS=1 OMP_NUM_THREADS=1)
      start_worker "$work/worker-$1-$2.log" "${env[@]}"
      flags=(--distributed-executor-backend cluster --cluster-port "$port")
      if [[ $1 == tx ]]; then flags+=(--tensor-parallel-size 2 --tensor-parallel-across-nodes); else flags+=(--pipeline-parallel-size 2); fi ;;
  esac
  env "${env[@]}" "$bin" bench batch --model config/models/llama-110m --load-format dummy --batch-sizes 1,32 --input-len 128 --output-len 64 \
    "${flags[@]}" --no-progress --output-json "$work/$1-$2.json" "${@:3}" >/dev/null 2>"$work/$1-$2.log"
  stop_worker
  python3 -c "
import json,sys
for r in json.load(open(sys.argv[1]))['rows']:
    k=(r.get('tensor_parallel_ranks') or [{}])[0]; b=r.get('pipeline_boundaries'); n=max(r['num_steps'],1)
    comm=k.get('all_reduce_seconds',0)*1000/n; per=k.get('bytes_reduced',0)/max(k.get('all_reduces',0),1)
    print(r['batch_size'], f\"{r['generation_tokens_per_second']:.1f} {r['ms_per_decode_step']:.2f} {comm:.2f} {per:.0f} {(b['wire_seconds']*1000/n) if b else 0:.2f}\")" "$work/$1-$2.json"
}

{
  echo "bench batch, llama-110m dummy float32, 128 prompt + 64 generated tokens, $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "round config batch gen_tok_s ms_per_step all_reduce_ms_per_step bytes_per_all_reduce boundary_ms_per_step"
  for ((r = 1; r <= rounds; r++)); do
    for c in t2 tx p2; do run $c $r "$@" | sed "s/^/$r $c /"; done
  done | tee "$work/runs.txt"
  python3 - "$work/runs.txt" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
def med(c, b, i): return statistics.median(float(r[i]) for r in rows if r[1] == c and r[2] == b)
for b in ("1", "32"):
    for c, name in (("t2", "T=2 in one process"), ("tx", "T=2 across two processes"), ("p2", "P=2 across two processes")):
        print(f"{b} sequences, {name}: generation {med(c, b, 3):.1f} tokens/s, {med(c, b, 4):.2f} ms per decode step, "
              f"all-reduce {med(c, b, 5):.2f} ms per step ({med(c, b, 6):.0f} bytes each), stage boundary {med(c, b, 7):.2f} ms per step")
PY
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$out"
