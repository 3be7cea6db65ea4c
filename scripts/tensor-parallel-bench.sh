#!/usr/bin/env bash
# Tensor parallelism on one machine's cores: bench batch on config/models/llama-110m (dummy
# weights) at 1 and 32 sequences with --tensor-parallel-size 1 (one rank on every core) and 2 (two
# rank threads, each on half the cores), alternating the two configurations round by round, so
# that both see the same load. Prints each run, the medians and the ratio T=2 / T=1 of generation
# throughput, and writes them to OUT (default tensor-parallel-bench.txt). Needs a Release build.
#   scripts/tensor-parallel-bench.sh [ROUNDS] [OUT] [extra bench flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
out=${2:-tensor-parallel-bench.txt}
shift $(( $# < 2 ? $# : 2 ))
bin=src/Host/bin/Release/net10.0/llm-engine
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

run() { # TP ROUND -> "gen@1 gen@32 prompt@1 prompt@32"
  "$bin" bench batch --model config/models/llama-110m --load-format dummy --batch-sizes 1,32 --input-len 128 --output-len 64 \
    --tensor-parallel-size "$1" --no-progress --output-json "$work/tp$1-$2.json" "${@:3}" >/dev/null 2>"$work/tp$1-$2.log"
  python3 -c "import json,sys; rows=json.load(open(sys.argv[1]))['rows']; print(' '.join(f\"{r['generation_tokens_per_second']:.1f}\" for r in rows), ' '.join(f\"{r['prompt_tokens_per_second']:.1f}\" for r in rows))" "$work/tp$1-$2.json"
}

{
  echo "bench batch, llama-110m dummy float32, 128 prompt + 64 generated tokens, $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "round tp gen@1 gen@32 prompt@1 prompt@32 (tokens/s)"
  for ((r = 1; r <= rounds; r++)); do
    for tp in 1 2; do echo "$r $tp $(run $tp $r "$@")"; done
  done | tee "$work/runs.txt"
  python3 - "$work/runs.txt" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
med = {tp: [statistics.median(float(r[i]) for r in rows if r[1] == tp) for i in range(2, 6)] for tp in ("1", "2")}
for tp in ("1", "2"):
    print(f"median tp={tp}: generation {med[tp][0]:.1f} / {med[tp][1]:.1f} tokens/s at 1 / 32 sequences; prompt {med[tp][2]:.1f} / {med[tp][3]:.1f}")
print(f"T=2 / T=1 generation: {med['2'][0] / med['1'][0]:.2f} at 1 sequence, {med['2'][1] / med['1'][1]:.2f} at 32")
PY
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$out"
