#!/usr/bin/env bash
# Load test: raqib against a farm of feeds on loopback. Prints the figures
# that docs/BENCHMARKS.md records. Usage: bench/run.sh [FEEDS] [RULES] [HISTORY]
#   FEEDS (default 10000), RULES (default 1000), HISTORY: items put in the
#   store before the first poll (default 0; 1000000 for the memory figure).
#   Needs go, curl and /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/.."
FEEDS=${1:-10000}
RULES=${2:-1000}
HISTORY=${3:-0}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
go build -o "$work/raqib" ./cmd/raqib
go build -o "$work/feedfarm" ./bench/feedfarm
go build -o "$work/fill" ./bench/fill
"$work/feedfarm" -feeds "$FEEDS" -rules "$RULES" -dir "$work" 2>"$work/farm.log" &
for _ in $(seq 100); do [ -s "$work/control" ] && break; sleep 0.2; done
ctl=$(cat "$work/control")
cfg="$work/config.yaml"
timed() { /usr/bin/time -f "%e %M" -o "$work/time" "$@" >"$work/out" 2>"$work/err" || { cat "$work/err"; exit 1; }; read -r wall rss <"$work/time"; }

echo "feeds: $FEEDS, rules: $RULES, cores: $(nproc)"
if [ "$HISTORY" -gt 0 ]; then
  /usr/bin/time -f "%e" -o "$work/time" "$work/fill" -db "$work/raqib.db" -items "$HISTORY" 2>"$work/fill.log"
  echo "history: $HISTORY items put in the store in $(cat "$work/time")s, $(( $(stat -c %s "$work/raqib.db") / 1048576 )) MiB"
  timed "$work/raqib" seeds import --config "$cfg"
  echo "start-up with that history (open the store, load the dedup index): ${wall}s, peak RSS $((rss / 1024)) MiB"
fi
timed "$work/raqib" poll --once --quiet --config "$cfg"
echo "first cycle (every feed new, 3 items each): ${wall}s, peak RSS $((rss / 1024)) MiB; $(tail -2 "$work/out" | head -1)"

curl -s -X POST "$ctl/advance" >"$work/adv"
timed "$work/raqib" poll --once --quiet --config "$cfg"
echo "poll cycle (90% 304, 10% with 1-5 new items: $(cat "$work/adv" | tr -d '\n')): ${wall}s wall, peak RSS $((rss / 1024)) MiB"
echo "  $(grep '^polled' "$work/out")"

timed "$work/raqib" poll --once --quiet --config "$cfg"
echo "idle cycle (nothing new): ${wall}s wall"

items=$("$work/raqib" export --format json --all --limit 0 --config "$cfg" | grep -c '"_raqib"' || true)
size=$(stat -c %s "$work/raqib.db")
echo "database: $((size / 1048576)) MiB for $items items: $((size / (items > 0 ? items : 1))) bytes an item"

# Alert latency: the daemon polls every 10 s while the farm brings news.
curl -s "$ctl/stats?reset=1" >/dev/null
"$work/raqib" run --config "$cfg" --log-level warn 2>"$work/daemon.log" &
daemon=$!
sleep 15
for _ in 1 2 3 4; do curl -s -X POST "$ctl/advance" >/dev/null; sleep 12; done
kill -TERM $daemon; wait $daemon || true
echo "alert latency, item commit to webhook receipt (daemon): $(curl -s "$ctl/stats")"
