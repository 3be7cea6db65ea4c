#!/usr/bin/env bash
# What the dashboard costs the engine: generation throughput at 32 sequences (bench serve, 32
# prompts at once, --max-concurrency 32) on two servers of the same model, one with
# --dashboard false and one with the dashboard on, measured alternately: off, on with no page
# open, on with a client reading the page's event stream (/dashboard/events: all the work the
# server does for an open page), on with headless Chromium showing a blank page, and on with
# headless Chromium showing /dashboard. On a machine with few cores a running browser competes
# with the engine for them whatever it shows; the blank-page arm measures that, so the
# dashboard's own cost with a browser connected is the browser arm against the blank-page arm.
# Prints each run and the medians, and writes them to OUT (default dashboard-cost.txt). Needs a
# Release build and /usr/bin/chromium.
#   scripts/dashboard-cost.sh [ROUNDS] [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
out=${2:-dashboard-cost.txt}
bin=src/Host/bin/Release/net10.0/llm-engine
model=(--model config/models/llama-110m --load-format dummy --max-num-seqs 32 --num-blocks 512)
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

"$bin" serve "${model[@]}" --port 8931 --dashboard false 2>"$work/off.log" & pids+=($!)
"$bin" serve "${model[@]}" --port 8932 2>"$work/on.log" & pids+=($!)
for port in 8931 8932; do
  until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do sleep 1; done
done

run() { # ARM PORT SEED -> output tokens/s (a new seed each run: no run reuses another's prefix-cache blocks)
  "$bin" bench serve --base-url "http://127.0.0.1:$2" --seed "$3" --vocab-size 32000 --num-prompts 32 --max-concurrency 32 \
    --input-len 128 --output-len 64 --no-progress --output-json "$work/$1.json" >/dev/null
  python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['output_throughput'])" "$work/$1.json"
}

stream_arm() { # the page's event stream read, nothing rendered
  curl -sN http://127.0.0.1:8932/dashboard/events >/dev/null & local reader=$!
  sleep 1
  run stream 8932 "$1"
  kill "$reader"; wait "$reader" 2>/dev/null || true
}
browser_arm() { # ARM URL SEED: headless Chromium showing URL while the dashboard server runs
  /usr/bin/chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-dev-shm-usage \
    --no-first-run --remote-debugging-port=0 --user-data-dir="$work/chromium-$1" "$2" 2>/dev/null & local browser=$!
  sleep 3   # the page loads and its event stream opens
  run "$1" 8932 "$3"
  kill "$browser"; wait "$browser" 2>/dev/null || true
}
arm() { # ARM SEED -> output tokens/s
  case "$1" in
    off) run off 8931 "$2" ;;
    on) run on 8932 "$2" ;;
    stream) stream_arm "$2" ;;
    blank) browser_arm blank about:blank "$2" ;;
    page) browser_arm page http://127.0.0.1:8932/dashboard "$2" ;;
  esac
}

# The arms' order rotates each round, so no arm always runs on the warmest (or coldest) machine.
arms=(off on stream blank page)
declare -A results value
for ((r = 1; r <= rounds; r++)); do
  for ((k = 0; k < 5; k++)); do
    a=${arms[$(((k + r - 1) % 5))]}
    value[$a]=$(arm "$a" $((5 * r + k)))
    results[$a]+="${value[$a]} "
  done
  printf 'round %d: off %.1f  on, no page %.1f  on, event stream %.1f  on, blank browser %.1f  on, browser on the dashboard %.1f output tok/s\n' \
    "$r" "${value[off]}" "${value[on]}" "${value[stream]}" "${value[blank]}" "${value[page]}" | tee -a "$work/runs"
done

python3 - "$out" "$work/runs" ${results[off]} -- ${results[on]} -- ${results[stream]} -- ${results[blank]} -- ${results[page]} <<'PY'
import statistics, sys
out, runs, rest = sys.argv[1], sys.argv[2], " ".join(sys.argv[3:]).split("--")
arms = dict(zip(("off", "on", "stream", "blank", "page"), ([float(x) for x in part.split()] for part in rest)))
m = {k: statistics.median(v) for k, v in arms.items()}
cost = {k: 100 * (1 - m[k] / m["off"]) for k in m}
lines = open(runs).read().splitlines() + [
    f"median output tok/s at 32 sequences: off {m['off']:.1f}, on with no page {m['on']:.1f}, "
    f"on with the event stream read {m['stream']:.1f}, on with a browser on a blank page {m['blank']:.1f}, "
    f"on with a browser on the dashboard {m['page']:.1f}",
    f"cost vs --dashboard false: no page {cost['on']:+.2f}%, event stream {cost['stream']:+.2f}%, "
    f"blank browser {cost['blank']:+.2f}%, browser on the dashboard {cost['page']:+.2f}%",
    f"the dashboard's cost with a browser connected (dashboard page vs blank page): {100 * (1 - m['page'] / m['blank']):+.2f}%",
]
open(out, "w").write("\n".join(lines) + "\n")
print("\n".join(lines[-2:]))
PY
