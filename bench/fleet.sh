#!/usr/bin/env bash
# Poll cycles of one raqib on BoltDB, one on PostgreSQL and three on one
# PostgreSQL database, side by side against one feed farm, taking turns at
# every step. The three run poll --once together, and share the feeds as
# the daemons of a fleet do. Prints wall and CPU time (raqib's processes,
# and the PostgreSQL server's separately) of the first cycle (every feed
# new), a poll cycle (after the farm's /advance) and idle cycles, and the
# items stored a second. See docs/BENCHMARKS.md.
# Usage: bench/fleet.sh FEEDS BIN DSN
#   DSN: a postgres:// URL of a role that may create databases; the script
#   makes (and drops) databases raqib_bench_1 and raqib_bench_3 beside it.
# Needs go, curl, psql and /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/.."
FEEDS=$1 BIN=$2 DSN=$3
work=$(mktemp -d)
dbs=(raqib_bench_1 raqib_bench_3)
trap 'kill $(jobs -p) 2>/dev/null; for d in "${dbs[@]}"; do psql -q "$DSN" -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" 2>/dev/null; done; rm -rf "$work"' EXIT
for d in "${dbs[@]}"; do
  psql -q "$DSN" -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" -c "CREATE DATABASE $d"
done
dsnOf() { echo "$DSN" | sed -E "s|/[^/?]*(\?\|$)|/$1\1|"; }
go build -o "$work/feedfarm" ./bench/feedfarm
# shellcheck disable=SC2086
"$work/feedfarm" -feeds "$FEEDS" -rules 1000 -dir "$work" ${FARM_FLAGS:-} 2>"$work/farm.log" &
for _ in $(seq 300); do [ -s "$work/control" ] && break; sleep 0.2; done
ctl=$(cat "$work/control")
mkdir -p "$work/bolt/seeds" "$work/pg1/seeds" "$work/pg3/seeds"
sed -e "s|path: raqib.db|path: $work/bolt/raqib.db|" -e "s|dir: seeds|dir: $work/bolt/seeds|" "$work/config.yaml" >"$work/bolt/config.yaml"
for s in 1 3; do
  sed -e "s|storage: {path: raqib.db}|storage: {driver: postgres, dsn: \"$(dsnOf raqib_bench_$s)\"}|" -e "s|dir: seeds|dir: $work/pg$s/seeds|" "$work/config.yaml" >"$work/pg$s/config.yaml"
done
# The PostgreSQL server's CPU seconds so far: every postgres process's own,
# and the backends' that have ended (the postmaster's children's).
pgcpu() {
  local tck sum=0 pid
  tck=$(getconf CLK_TCK)
  for pid in $(pgrep -x postgres); do
    read -r -a f <"/proc/$pid/stat" || continue
    sum=$((sum + f[13] + f[14]))
    [ "$(ps -o ppid= -p "$pid" | tr -d ' ')" = 1 ] && sum=$((sum + f[15] + f[16]))
  done
  echo "scale=2; $sum / $tck" | bc
}
echo "feeds: $FEEDS, cores: $(nproc), farm: ${FARM_FLAGS:-defaults}"
run() { # name setup
  local n=1
  [ "$2" = pg3 ] && n=3
  local before
  before=$(pgcpu)
  # shellcheck disable=SC2016
  /usr/bin/time -f "%e %U %S %M" -o "$work/time" bash -c '
    for i in $(seq '"$n"'); do "$0" poll --once --quiet --config "$1" >"$2.$i" 2>"$2.err.$i" & done
    wait' "$BIN" "$work/$2/config.yaml" "$work/out" || { tail -3 "$work"/out.err.*; exit 1; }
  read -r wall user sys rss <"$work/time"
  local pg new
  pg=$(echo "$(pgcpu) - $before" | bc)
  new=$(cat "$work"/out.[0-9] | sed -nE 's/.* ([0-9]+) new .*/\1/p' | paste -sd+ | bc)
  printf "%-8s %-5s %7.2f s wall %7.2f s CPU raqib %6.2f s CPU postgres  %6d new  %7.0f new/s\n" "$1" "$2" "$wall" "$(echo "$user + $sys" | bc)" "$pg" "$new" "$(echo "$new / $wall" | bc -l)"
  rm -f "$work"/out.*
}
cycle() { for s in bolt pg1 pg3; do run "$1" "$s"; done; }
cycle first
curl -s -X POST "$ctl/advance" >/dev/null
cycle poll
for n in 1 2; do cycle "idle $n"; done
