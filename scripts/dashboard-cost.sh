#!/usr/bin/env bash
# What the dashboard costs the engine: generation throughput at 32 sequences (bench serve, 32
# prompts at once, --max-concurrency 32) on two servers of the same model, one with
# --dashboard false and one with the dashboard on, measured alternately: off, on with no page
# open, on with a client reading the page's event stream (/dashboard/events: all the work the
# server does for an open page), on with headless Chromium showing a blank page, and on with
# headless Chromium showing /dashboard. Besides throughput, each run records the server
# process's CPU time per generated token and the browser's CPU time per wall second (its whole
# process group): on a shared machine CPU time is far steadier than throughput, and it separates
# the server's work for a page from the browser's drawing of it (paid on the viewer's machine in
# use, but on this machine's cores here).
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

"$bin" serve "${model[@]}" --port 8931 --dashboard false 2>"$work/off.log" & pids+=($!); off_pid=$!
"$bin" serve "${model[@]}" --port 8932 2>"$work/on.log" & pids+=($!); on_pid=$!
for port in 8931 8932; do
  until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do sleep 1; done
done

ticks() { # CPU clock ticks (user + system) used so far by the given processes
  local t=0 p s
  for p in "$@"; do s=$(cut -d' ' -f14,15 "/proc/$p/stat" 2>/dev/null) && t=$((t + ${s% *} + ${s#* })); done
  echo "$t"
}

run() { # ARM PORT SEED [BROWSER_PGID]: one bench serve run; appends "arm, tok/s, server CPU ms per token, browser cores" to runs.tsv
  local server=$off_pid b0=0 b1=0 s0 s1 w0 w1
  [ "$2" = 8932 ] && server=$on_pid
  s0=$(ticks "$server"); [ -n "${4:-}" ] && b0=$(ticks $(pgrep -g "$4")); w0=$(date +%s.%N)
  # A new seed each run: no run reuses another's prefix-cache blocks.
  "$bin" bench serve --base-url "http://127.0.0.1:$2" --seed "$3" --vocab-size 32000 --num-prompts 32 --max-concurrency 32 \
    --input-len 128 --output-len 64 --no-progress --output-json "$work/$1.json" >/dev/null
  s1=$(ticks "$server"); [ -n "${4:-}" ] && b1=$(ticks $(pgrep -g "$4")); w1=$(date +%s.%N)
  python3 -c '
import json, sys
path, arm, server, browser, w0, w1, hz = sys.argv[1:]
r = json.load(open(path)); hz = int(hz)
print(arm, r["output_throughput"], 1000 * int(server) / hz / r["total_output_tokens"], int(browser) / hz / (float(w1) - float(w0)), sep="\t")
' "$work/$1.json" "$1" "$((s1 - s0))" "$((b1 - b0))" "$w0" "$w1" "$(getconf CLK_TCK)" | tee -a "$work/runs.tsv"
}

stream_arm() { # the page's event stream read, nothing rendered
  curl -sN http://127.0.0.1:8932/dashboard/events >/dev/null & local reader=$!
  sleep 1
  run stream 8932 "$1"
  kill "$reader"; wait "$reader" 2>/dev/null || true
}
browser_arm() { # ARM URL SEED: headless Chromium, in its own process group, showing URL
  setsid /usr/bin/chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-dev-shm-usage \
    --no-first-run --remote-debugging-port=0 --user-data-dir="$work/chromium-$1-$3" "$2" 2>/dev/null & local browser=$!
  sleep 3   # the page loads and its event stream opens
  run "$1" 8932 "$3" "$browser"
  kill -- -"$browser" 2>/dev/null || true; wait "$browser" 2>/dev/null || true
}
arm() { # ARM SEED
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
for ((r = 1; r <= rounds; r++)); do
  for ((k = 0; k < 5; k++)); do arm "${arms[$(((k + r - 1) % 5))]}" $((5 * r + k)); done
done

python3 - "$out" "$work/runs.tsv" "$(nproc)" <<'PY'
import statistics, sys
out, runs, cores = sys.argv[1], sys.argv[2], int(sys.argv[3])
rows = [line.split("\t") for line in open(runs).read().splitlines()]
names = {"off": "--dashboard false", "on": "on, no page", "stream": "on, event stream read",
         "blank": "on, Chromium on a blank page", "page": "on, Chromium on the dashboard"}
m = {a: [statistics.median(float(r[i]) for r in rows if r[0] == a) for i in (1, 2, 3)] for a in names}
off = m["off"]
lines = ["arm\toutput tok/s\tserver CPU ms per output token\tbrowser cores"] + ["\t".join(r) for r in rows] + [""]
lines += [f"median, {names[a]}: {v[0]:.1f} output tok/s, server {v[1]:.3f} CPU ms per output token, browser {v[2]:.4f} cores"
          for a, v in m.items()]
lines += [
    "server CPU per output token vs --dashboard false: "
    + ", ".join(f"{names[a]} {100 * (m[a][1] / off[1] - 1):+.2f}%" for a in ("on", "stream", "page")),
    "output throughput vs --dashboard false: "
    + ", ".join(f"{names[a]} {100 * (m[a][0] / off[0] - 1):+.2f}%" for a in ("on", "stream", "blank", "page")),
    f"the browser drawing the dashboard: {m['page'][2] - m['blank'][2]:+.4f} cores against a blank page "
    f"({100 * (m['page'][2] - m['blank'][2]) / cores:+.2f}% of this machine's {cores} cores)",
]
open(out, "w").write("\n".join(lines) + "\n")
print("\n".join(lines[-(len(names) + 3):]))
PY
