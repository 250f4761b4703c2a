#!/usr/bin/env bash
# Poll cycles side by side: raqib binaries against one feed farm, each on a
# store of its own, taking turns at every step so that they meet the same
# farm and the same load. Prints wall and CPU time of the first cycle
# (every feed new), a poll cycle (after the farm's /advance) and idle cycles
# (nothing new). See docs/BENCHMARKS.md.
# Usage: bench/cycles.sh FEEDS BIN [BIN...]
#   FARM_FLAGS: more feedfarm flags (-per-host 32, -odd 0, -hosts 64);
#   CONFIG_<i>: poll keys the farm does not set, for the i-th binary
#   (CONFIG_2="workers: 64" gives an older raqib its fetch workers);
#   FIRST_ONLY=1: the first cycle only.
# Needs go, curl and /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/.."
FEEDS=$1
shift
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
go build -o "$work/feedfarm" ./bench/feedfarm
# shellcheck disable=SC2086
"$work/feedfarm" -feeds "$FEEDS" -rules 1000 -dir "$work" ${FARM_FLAGS:-} 2>"$work/farm.log" &
for _ in $(seq 300); do [ -s "$work/control" ] && break; sleep 0.2; done
ctl=$(cat "$work/control")
i=0
for bin in "$@"; do
  i=$((i + 1))
  mkdir -p "$work/b$i/seeds"
  extra=CONFIG_$i
  sed -e "s|path: raqib.db|path: $work/b$i/raqib.db|" -e "s|dir: seeds|dir: $work/b$i/seeds|" \
    -e "s|^poll: {|poll: {${!extra:+${!extra}, }|" "$work/config.yaml" >"$work/b$i/config.yaml"
done
echo "feeds: $FEEDS, cores: $(nproc), farm: ${FARM_FLAGS:-defaults}"
cycle() { # name
  local i=0
  for bin in "${bins[@]}"; do
    i=$((i + 1))
    /usr/bin/time -f "%e %U %S %M" -o "$work/time" "$bin" poll --once --quiet --config "$work/b$i/config.yaml" >"$work/out" 2>"$work/err" || { tail -3 "$work/err"; exit 1; }
    read -r wall user sys rss <"$work/time"
    printf "%-12s %-28s %6.2f s wall %6.2f s CPU (%5.2f user %5.2f sys) %5d MiB  %s\n" "$1" "$(basename "$bin")" "$wall" "$(echo "$user + $sys" | bc)" "$user" "$sys" $((rss / 1024)) "$(grep '^polled' "$work/out" || true)"
  done
}
bins=("$@")
cycle first
[ -n "${FIRST_ONLY:-}" ] && exit 0
curl -s -X POST "$ctl/advance" >/dev/null
cycle poll
for n in 1 2 3; do cycle "idle $n"; done
