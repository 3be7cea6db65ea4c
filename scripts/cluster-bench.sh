#!/usr/bin/env bash
# KV-aware routing against blind routing (docs/cluster.md): bench serve --dataset multi-tenant
# (K tenants, each a long shared system prompt, many short distinct questions) sent to one node
# of a two-engine cluster on loopback started with --routing kv-aware, round-robin or
# least-loaded, and to one engine alone with both engines' KV cache (the ideal hit rate). Each
# arm starts fresh processes (cold caches), in turn, ROUNDS times. The per-engine cache holds about
# half the tenants' prompts, so routing decides the hit rate. Prints the prefix-cache hit rate
# (summed over the engines' /metrics), output throughput and mean routing decision time of each
# run, and the medians; writes them to OUT (default cluster-bench.txt). Needs a Release build.
#   scripts/cluster-bench.sh [ROUNDS] [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-1}
out=${2:-cluster-bench.txt}
dll=src/Host/bin/Release/net10.0/llm-engine.dll
model=(--model ../shared/models/stories260K --block-size 16 --dashboard false)
blocks=160          # per engine: 10 tenants' 400-token prompts would need 250
data=(--dataset multi-tenant --num-tenants 8 --prefix-len 400 --input-len 416 --output-len 32 --num-prompts 240
      --max-concurrency 16 --request-rate inf --vocab-size 512 --no-progress)
groups=()
stop() { for g in "${groups[@]}"; do kill -TERM -- "-$g" 2>/dev/null || true; done; sleep 1
         for g in "${groups[@]}"; do kill -KILL -- "-$g" 2>/dev/null || true; done; groups=(); }
trap stop EXIT
wait_http() { until curl -sf "http://127.0.0.1:$1/health" >/dev/null; do sleep 0.5; done; }
wait_replicas() { until [ "$(curl -sf "http://127.0.0.1:$1/cluster" | grep -o '"node"' | wc -l)" = 2 ]; do sleep 0.5; done; }
serve() { setsid dotnet "$dll" serve "${model[@]}" "$@" 2>/dev/null & groups+=($!); }

arm() { # NAME -> "hit_rate_percent output_tok_s completed routing_decision_us"
  local seed=$((RANDOM)) a=$((20000 + RANDOM % 20000)) c=$((40000 + RANDOM % 20000))
  local urls=("http://127.0.0.1:$a")
  if [ "$1" = single ]; then
    serve --num-blocks $((2 * blocks)) --port "$a"; wait_http "$a"
  else
    serve --num-blocks "$blocks" --port "$a" --cluster-port "$c" --routing "$1"
    serve --num-blocks "$blocks" --port "$((a + 1))" --cluster-port "$((c + 1))" --join "127.0.0.1:$c" --routing "$1"
    wait_http "$a"; wait_http "$((a + 1))"; wait_replicas "$a"
    urls+=("http://127.0.0.1:$((a + 1))")
  fi
  local json; json=$(mktemp)
  dotnet "$dll" bench serve --base-url "${urls[0]}" --metrics-url "${urls[@]}" --seed "$seed" "${data[@]}" --output-json "$json" >/dev/null
  # The mean routing decision of the node that took every request (none for a single engine).
  local route=-
  [ "$1" = single ] || route=$(curl -sf "${urls[0]}/cluster" | python3 -c "import json,sys; print(f\"{json.load(sys.stdin)['mean_decision_microseconds']:.0f}\")")
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(f\"{100*d['prefix_cache_hit_rate']:.1f} {d['output_throughput']:.1f} {d['completed']} {sys.argv[2]}\")" "$json" "$route"
  rm -f "$json"; stop
}

arms=(kv-aware round-robin least-loaded single)
declare -A hits tput
{
  echo "# scripts/cluster-bench.sh $rounds  ($(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))"
  echo "# arm            hit-rate-%   output-tok/s   completed   route-µs (mean decision on the node taking the requests)"
  for r in $(seq "$rounds"); do
    for a in "${arms[@]}"; do
      read -r h t n u < <(arm "$a")
      hits[$a]+="$h "; tput[$a]+="$t "
      printf '%-14s %12s %14s %11s %10s\n' "$a" "$h" "$t" "$n" "$u"
    done
  done
  median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
  echo "# medians"
  for a in "${arms[@]}"; do
    printf '%-14s %12s %14s\n' "$a" "$(echo "${hits[$a]}" | median)" "$(echo "${tput[$a]}" | median)"
  done
} | tee "$out"
