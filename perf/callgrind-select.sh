#!/usr/bin/env bash
# Where a SELECT's instructions go: the native node (and Redis, for the GET it is compared with) under valgrind
# callgrind, instrumentation on only around a fixed number of pipelined requests, then callgrind_annotate's
# inclusive and exclusive tables per request. Loopback only; not run by CI. Usage:
#
#   perf/callgrind-select.sh [--requests N] [--members M] [--no-redis] [--no-page] [--top T] [--out DIR]
#
# ES_SERVER_DIR=DIR (a published server: dotnet publish src/EdgeSelector.Server -c Release -r linux-x64 -o DIR) and
# LOAD_BIN=FILE (the published load tool) are required; ports from ES_PORT/ES_ADMIN/ES_RESP and REDIS_CG_PORT.
# Writes DIR/cg-{redis,select,page}.out (the native binary's functions named from edgeselector.dbg's symbols) and
# DIR/{select,page,redis}-{inclusive,exclusive}.txt, and prints name=value lines: redis_get_instructions_per_request=,
# select_instructions_per_request=, select_page40_instructions_per_page=, select_page40_instructions_per_selection=.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

N=20000
MEMBERS=10
TITLES=10000
REDIS=1
PAGE=1
TOP=40
OUT=""
ES_PORT=${ES_PORT:-17410}
ES_ADMIN=${ES_ADMIN:-17411}
ES_RESP=${ES_RESP:-17412}
REDIS_CG_PORT=${REDIS_CG_PORT:-17380}

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --requests) N=${2:?}; shift 2 ;;
    --members) MEMBERS=${2:?}; shift 2 ;;
    --no-redis) REDIS=0; shift ;;
    --no-page) PAGE=0; shift ;;
    --top) TOP=${2:?}; shift 2 ;;
    --out) OUT=${2:?}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "callgrind-select.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ "$N" =~ ^[0-9]+$ ]] && [ "$N" -ge 20 ] && [ "$N" -le 200000 ] || { echo "--requests must be 20..200000" >&2; exit 2; }
[ -x "${ES_SERVER_DIR:-}/edgeselector" ] || { echo "ES_SERVER_DIR must hold a published edgeselector" >&2; exit 2; }
[ -x "${LOAD_BIN:-}" ] || { echo "LOAD_BIN must be the published edgeselector-load" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "valgrind is missing (apt-get install valgrind)" >&2; exit 2; }
[ "$REDIS" -eq 0 ] || command -v redis-server >/dev/null || { echo "redis-server is missing (apt-get install redis-server)" >&2; exit 2; }

WORK=${OUT:-$(mktemp -d /tmp/es-callgrind.XXXXXX)}
mkdir -p "$WORK"
WORK=$(realpath "$WORK")
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
log() { echo "[callgrind] $*" >&2; }
for port in "$ES_PORT" "$ES_ADMIN" "$ES_RESP" "$REDIS_CG_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "callgrind-select.sh: port $port is already in use (set ES_PORT / ES_ADMIN / ES_RESP / REDIS_CG_PORT)" >&2; exit 1
  fi
done

# Server on the last core, load on the others (as compare.sh).
NCPU=$(nproc)
ON_SERVER=() ON_LOAD=()
if [ "$NCPU" -ge 2 ] && command -v taskset >/dev/null; then
  ON_SERVER=(taskset -c $((NCPU - 1))); ON_LOAD=(taskset -c "0-$((NCPU - 2))")
fi
export DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1

# drive N ARGS...: a closed-loop run of N requests (8 connections x P=64, Zipf titles, no warm-up; bounded by 600 s)
drive() {
  local n=$1; shift
  "${ON_LOAD[@]}" "$LOAD_BIN" -c 8 -p 64 -w 0 -d 600 -n "$n" --quiet --members "1:$MEMBERS" --titles "1:$TITLES" \
    --title-zipf 1.0 "$@" >>"$WORK/drive.log" 2>&1 || log "the load tool reported a failure (see $WORK/drive.log)"
}
# measure PID NAME N ARGS...: instrumentation on around N requests, then one dump into cg-NAME.out
measure() {
  local pid=$1 name=$2 n=$3; shift 3
  callgrind_control -z "$pid" >/dev/null
  callgrind_control -i on "$pid" >/dev/null
  drive "$n" "$@"
  callgrind_control -i off "$pid" >/dev/null
  callgrind_control --dump="$name" "$pid" >/dev/null
  local dump
  dump=$(ls -t "$WORK"/cg-run.out.* | head -1)
  mv "$dump" "$WORK/cg-$name.out"
}
wait_ready() {
  local pid=$1 ready=$2 i
  for i in $(seq 600); do eval "$ready" >/dev/null 2>&1 && return 0; kill -0 "$pid" 2>/dev/null || return 1; sleep 0.5; done
  return 1
}
total() { awk '/^totals:/ { print $2; exit }' "$1"; }

ES_ARGS=(--EdgeSelector:BinaryPort="$ES_PORT" --EdgeSelector:AdminPort="$ES_ADMIN" --EdgeSelector:RespPort="$ES_RESP"
  --EdgeSelector:DataDir="$WORK/es-data" --EdgeSelector:InlineScheduling=true
  --EdgeSelector:SyntheticTitles="$TITLES" --EdgeSelector:SyntheticImages=32 --EdgeSelector:SyntheticMembers=100000)
# Valgrind runs the node ~50x slower: without these the queue limit and the page deadline would answer part of the
# run with defaults, and the count would measure timing, not work.
CG_LIMITS=(--EdgeSelector:MaxQueueDelayMs=600000 --EdgeSelector:DeadlineMs=600000)

if [ "$REDIS" -eq 1 ]; then
  log "Redis under callgrind on 127.0.0.1:$REDIS_CG_PORT, $N GETs"
  "${ON_SERVER[@]}" valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$WORK/cg-run.out" \
    redis-server --port "$REDIS_CG_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" --logfile "$WORK/redis.log" \
    >"$WORK/valgrind-redis.log" 2>&1 &
  RPID=$!; PIDS+=("$RPID")
  wait_ready "$RPID" "redis-cli -p $REDIS_CG_PORT PING" || { echo "Redis did not start under valgrind" >&2; exit 1; }
  # key "member:title", 8-byte value: the precomputed answer (as compare.sh)
  awk -v m="$MEMBERS" -v t="$TITLES" 'BEGIN { for (i = 1; i <= m; i++) for (j = 1; j <= t; j++) {
      k = i ":" j; v = sprintf("%08d", j * 100 + 1 + ((i * 7 + j) % 32));
      printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$8\r\n%s\r\n", length(k), k, v } }' \
    | redis-cli -p "$REDIS_CG_PORT" --pipe >"$WORK/redis-load.log"
  drive 2000 --protocol resp --port "$REDIS_CG_PORT" --resp-command get
  measure "$RPID" redis "$N" --protocol resp --port "$REDIS_CG_PORT" --resp-command get
  kill "$RPID"; wait "$RPID" 2>/dev/null || true
fi

log "seeding the synthetic catalog natively in $WORK/es-data"
"${ON_SERVER[@]}" "$ES_SERVER_DIR/edgeselector" "${ES_ARGS[@]}" >"$WORK/es-seed.log" 2>&1 &
SPID=$!; PIDS+=("$SPID")
wait_ready "$SPID" "curl -sf http://127.0.0.1:$ES_ADMIN/healthz" || { cat "$WORK/es-seed.log" >&2; exit 1; }
kill "$SPID"; wait "$SPID" 2>/dev/null || true

# Valgrind 3.19 refuses the separate edgeselector.dbg ("possibly corrupted debuginfo"), but reads its symbol table
# without the DWARF sections: the node runs as a copy whose debug link names that table (same code, same addresses).
mkdir -p "$WORK/bin"
if [ -f "$ES_SERVER_DIR/edgeselector.dbg" ]; then
  objcopy --strip-debug "$ES_SERVER_DIR/edgeselector.dbg" "$WORK/bin/edgeselector.sym"
  objcopy --remove-section=.gnu_debuglink --add-gnu-debuglink="$WORK/bin/edgeselector.sym" \
    "$ES_SERVER_DIR/edgeselector" "$WORK/bin/edgeselector"
else
  cp "$ES_SERVER_DIR/edgeselector" "$WORK/bin/edgeselector"
fi
log "EdgeSelector under callgrind, $N SELECTs$([ "$PAGE" -eq 1 ] && echo ", then $((N / 20)) SELECT_PAGEs of 40 titles")"
"${ON_SERVER[@]}" valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$WORK/cg-run.out" \
  ${CG_OPTS:-} "$WORK/bin/edgeselector" "${ES_ARGS[@]}" "${CG_LIMITS[@]}" >"$WORK/valgrind-es.log" 2>&1 &
EPID=$!; PIDS+=("$EPID")
wait_ready "$EPID" "curl -sf http://127.0.0.1:$ES_ADMIN/healthz" || { tail -20 "$WORK/valgrind-es.log" >&2; exit 1; }
drive 2000 --port "$ES_PORT"
measure "$EPID" select "$N" --port "$ES_PORT"
if [ "$PAGE" -eq 1 ]; then
  drive 100 --port "$ES_PORT" --mix page=1 --page-size 40
  measure "$EPID" page $((N / 20)) --port "$ES_PORT" --mix page=1 --page-size 40
fi
kill "$EPID"; wait "$EPID" 2>/dev/null || true

per() { awk -v t="${1:-0}" -v n="$2" 'BEGIN { if (t + 0 > 0) printf "%.0f", t / n; else print "n/a" }'; }
# table NAME COUNT: the top functions, inclusive and exclusive, with instructions per request in the first column
table() {
  local name=$1 count=$2 mode
  for mode in inclusive exclusive; do
    callgrind_annotate --inclusive=$([ "$mode" = inclusive ] && echo yes || echo no) --threshold=100 "$WORK/cg-$name.out" 2>/dev/null \
      | awk -v n="$count" -v top="$TOP" '
          /^-+$/ { dashes++; next }
          dashes >= 3 && $1 ~ /^[0-9,]+$/ && shown < top { v = $1; gsub(",", "", v); printf "%10.1f  %s\n", v / n, $0; shown++ }' \
      >"$WORK/$name-$mode.txt"
  done
}
echo
REDIS_IPR=n/a SELECT_IPR=n/a PAGE_IPR=n/a PAGE_IPS=n/a
if [ -f "$WORK/cg-redis.out" ]; then REDIS_IPR=$(per "$(total "$WORK/cg-redis.out")" "$N"); table redis "$N"; fi
if [ -f "$WORK/cg-select.out" ]; then SELECT_IPR=$(per "$(total "$WORK/cg-select.out")" "$N"); table select "$N"; fi
if [ -f "$WORK/cg-page.out" ]; then
  PAGE_IPR=$(per "$(total "$WORK/cg-page.out")" $((N / 20))); PAGE_IPS=$(per "$(total "$WORK/cg-page.out")" $((N / 20 * 40)))
  table page $((N / 20))
fi
for name in select page redis; do
  for mode in inclusive exclusive; do
    [ -s "$WORK/$name-$mode.txt" ] || continue
    echo "== $name, $mode (first column: instructions per request) =="
    head -"$TOP" "$WORK/$name-$mode.txt"
    echo
  done
done
echo "kept $WORK"
echo "redis_get_instructions_per_request=$REDIS_IPR"
echo "select_instructions_per_request=$SELECT_IPR"
echo "select_page40_instructions_per_page=$PAGE_IPR"
echo "select_page40_instructions_per_selection=$PAGE_IPS"
