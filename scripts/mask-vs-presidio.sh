#!/usr/bin/env bash
# Measures Microsoft Presidio and `veilbox mask` side by side, in one run, on the same
# corpus and machine: prints both throughputs (messages/s), the ratio, and both
# score_mask.py reports.
#
#   usage: scripts/mask-vs-presidio.sh [CORPUS.jsonl]
#
# CORPUS defaults to ../shared/corpus/dev.jsonl (shared/ is checked out beside the repo).
# Presidio is installed into a venv on first use by ../shared/peers/run_presidio.sh (about a
# minute, from PyPI). Its throughput excludes model loading and one warm-up message; ours
# excludes building the scanner (both time only the per-message loop). Because one pass of
# ours over 2,000 messages lasts tens of milliseconds (too short to time on a busy machine),
# the timed input is the same corpus repeated VEILBOX_REPEAT times (default 20) in one
# stream, timed VEILBOX_RUNS times (default 5), and the median is used; the scores come from
# one plain pass. Set VEILBOX_BIN to use an already built binary.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
shared=$(cd "$repo/../shared" && pwd)
corpus=$(realpath "${1:-$shared/corpus/dev.jsonl}")
work=${VEILBOX_BENCH_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/veilbox-presidio}
runs=${VEILBOX_RUNS:-5}
repeat=${VEILBOX_REPEAT:-20}
mkdir -p "$work"

bin=${VEILBOX_BIN:-}
if [ -z "$bin" ]; then
  (cd "$repo" && cargo build --release --quiet -p veilbox-server --bin veilbox)
  target=$(cd "$repo" && cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  bin="$target/release/veilbox"
fi

echo "== Presidio (../shared/peers/run_presidio.sh) on $corpus"
bash "$shared/peers/run_presidio.sh" "$corpus" "$work" | tee "$work/presidio-score.txt"
presidio_mps=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["msgs_per_s"])' "$work/stats.json")

echo
echo "== veilbox mask --stats on $corpus repeated $repeat times ($runs runs)"
for i in $(seq 1 "$repeat"); do cat "$corpus"; done > "$work/corpus-repeated.jsonl"
: > "$work/veilbox-stats.txt"
for i in $(seq 1 "$runs"); do
  "$bin" mask --stats "$work/corpus-repeated.jsonl" > /dev/null 2>> "$work/veilbox-stats.txt"
done
cat "$work/veilbox-stats.txt"
"$bin" mask "$corpus" > "$work/veilbox.jsonl"
veilbox_mps=$(python3 - "$work/veilbox-stats.txt" <<'PY'
import re, statistics, sys
rates = [float(m.group(1)) for m in re.finditer(r"([0-9.]+) messages/s", open(sys.argv[1]).read())]
print(statistics.median(rates))
PY
)
python3 "$shared/peers/score_mask.py" "$corpus" "$work/veilbox.jsonl" | tee "$work/veilbox-score.txt"

echo
python3 - "$presidio_mps" "$veilbox_mps" <<'PY'
import sys
p, v = float(sys.argv[1]), float(sys.argv[2])
print(f"Presidio:     {p:12.1f} messages/s")
print(f"veilbox mask: {v:12.1f} messages/s (median of runs)")
print(f"ratio:        {v / p:12.0f} x")
PY
