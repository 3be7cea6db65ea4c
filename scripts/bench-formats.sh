#!/usr/bin/env bash
# Batched throughput of every weight format, side by side: `bench batch` on config/models/llama-110m
# (dummy weights) for float32, bfloat16, q8_0, q4_0 and q4_k, the formats alternating within each
# round (the order rotates between rounds) so machine noise falls on all of them alike. Prints per
# format and batch size the medians over rounds, with "of bound/ceiling" (the machine's bounds in
# ../shared/notes/environment.md) and "vs llama.cpp" (its figures there), and writes them to a file.
#
#   scripts/bench-formats.sh [--rounds N] [--batch-sizes 1,8,32,64] [--input-len 128] [--output-len 128]
#                            [--formats float32,bfloat16,q8_0,q4_0,q4_k] [--kv-cache-dtype auto|float32|bfloat16|float16|fp8|fp8_e5m2] [--out DIR]
# --kv-cache-dtype applies to every format (llama.cpp's figures used its default float16 cache; auto
# gives the quantized formats that, float32 and bfloat16 their own dtype).
# Defaults take ~10 minutes on the 2-core machine for 3 rounds. Needs a Release build (dotnet build
# Actors.sln -c Release) and python3.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3 sizes=1,8,32,64 input=128 output=128 formats=float32,bfloat16,q8_0,q4_0,q4_k kv=auto
out="artifacts/bench-formats/$(date -u +%Y%m%dT%H%M%SZ)"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --batch-sizes) sizes="$2"; shift 2 ;;
    --input-len) input="$2"; shift 2 ;;
    --output-len) output="$2"; shift 2 ;;
    --formats) formats="$2"; shift 2 ;;
    --kv-cache-dtype) kv="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "bench-formats: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "bench-formats: --rounds must be a positive integer, got '$rounds'" >&2; exit 2; }
engine=src/Host/bin/Release/net10.0/llm-engine.dll
[[ -f "$engine" ]] || { echo "bench-formats: $engine not found; run 'dotnet build Actors.sln -c Release' first" >&2; exit 2; }
command -v python3 >/dev/null || { echo "bench-formats: python3 is needed for the summary" >&2; exit 2; }
mkdir -p "$out"
IFS=, read -r -a list <<< "$formats"

format_args() {
  case "$1" in
    float32) echo "--dtype float32" ;;
    bfloat16) echo "--dtype bfloat16" ;;
    *) echo "--dtype float32 --quantization $1" ;;
  esac
}

for ((r = 1; r <= rounds; r++)); do
  n=${#list[@]}
  for ((i = 0; i < n; i++)); do
    f=${list[$(( (i + r - 1) % n ))]}
    echo "round $r/$rounds: $f" >&2
    # shellcheck disable=SC2046
    if ! dotnet "$engine" bench batch --model config/models/llama-110m --load-format dummy $(format_args "$f") --kv-cache-dtype "$kv" \
        --batch-sizes "$sizes" --input-len "$input" --output-len "$output" --no-progress \
        --output-json "$out/$f-round$r.json" > "$out/$f-round$r.log" 2>&1; then
      echo "  $f failed in round $r (see $out/$f-round$r.log): $(tail -n 1 "$out/$f-round$r.log")" >&2
    fi
  done
done

python3 - "$out" "$formats" "$rounds" "$kv" > "$out/summary.md" <<'PY'
import glob, json, os, statistics, sys
out, formats, rounds, kv = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3]), sys.argv[4]
def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None
def pct(x): return "n/a" if x is None else f"{100 * x:.0f}%"
def num(x): return "n/a" if x is None else f"{x:.0f}"
def ratio(a, b): return "n/a" if a is None or not b else f"{a / b:.2f}x"
print(f"# Weight formats side by side: medians of {rounds} round{'s' if rounds > 1 else ''}, KV cache {kv}\n")
llama = None
print("| format | batch | gen tok/s | of bound (bound) | vs llama.cpp (its gen) | prompt tok/s | of ceiling | vs llama.cpp (its prompt) | runs |")
print("|---|---|---|---|---|---|---|---|---|")
for f in formats:
    runs = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(out, f"{f}-round*.json")))]
    if not runs:
        print(f"| {f} | - | failed (see {f}-round*.log) | | | | | | 0 |"); continue
    llama = llama or runs[0].get("llama_cpp")
    for row in runs[0]["rows"]:
        b = row["batch_size"]
        rows = [next(x for x in run["rows"] if x["batch_size"] == b) for run in runs]
        gen = median([x["generation_tokens_per_second"] for x in rows])
        prompt = median([x["prompt_tokens_per_second"] for x in rows])
        bound = row["generation_bound_tokens_per_second"]
        ceiling = runs[0]["ceiling_prompt_tokens_per_second"]
        peer_gen, peer_prompt = row.get("llama_cpp_generation_tokens_per_second"), row.get("llama_cpp_prompt_tokens_per_second")
        print(f"| {f} | {b} | {num(gen)} | {pct(gen / bound)} ({num(bound)}) | {ratio(gen, peer_gen)} ({num(peer_gen)}) "
              f"| {num(prompt)} | {pct(prompt / ceiling)} | {ratio(prompt, peer_prompt)} ({num(peer_prompt)}) | {len(rows)} |")
print(f"\nPeer: {llama or 'llama.cpp (see ../shared/notes/environment.md)'}; bounds and peer figures from ../shared/notes/environment.md. "
      "q4_k has no llama.cpp figure there.")
PY
cat "$out/summary.md"
echo "written: $out/summary.md (raw runs: $out/*.json)" >&2
