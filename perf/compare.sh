#!/usr/bin/env bash
# Side-by-side suite: EdgeSelector (native binary, synthetic catalog of 10,000 titles x 32 images x 64 features)
# against Redis serving precomputed 8-byte answers for the same (member, title) pairs. Loopback only; every run is
# bounded by --duration. Not run by CI (it needs minutes of a quiet machine). Usage:
#
#   perf/compare.sh --duration 10 [--rounds 3] [--connections 8] [--members 100] [--cpu auto|perf|callgrind|none]
#                   [--cpu-requests N] [--no-pin] [--no-append] [--keep]
#
# Every Redis/EdgeSelector pair runs --rounds times, alternating which goes first; the ratios are the median over
# the rounds with their range. CPU work per request (instructions, from perf stat or callgrind) is measured for both
# servers on a fixed request count. Prints a Markdown section (also appended to docs/performance.md unless
# --no-append) and ends with name=value lines: select_vs_redis_get_uniform_p64=, ..., open_loop_p99_ratio_vs_redis=.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

DURATION=10
CONNS=8
MEMBERS=100          # Redis holds 10,000 titles x MEMBERS members precomputed answers
TITLES=10000
PIN=1
APPEND=1
KEEP=0
ROUNDS=3             # A/B pairs per cell, alternating order; the ratio reported is their median (and range)
CPU_MODE=auto        # perf (hardware counters), callgrind (valgrind, user-space instructions), none; auto picks
CPU_REQUESTS=0       # requests counted per server for instructions; 0 = 200,000 with perf, 20,000 under callgrind
REDIS_PORT=${REDIS_PORT:-17379}
REDIS_CG_PORT=${REDIS_CG_PORT:-17380}   # the servers under callgrind (--cpu callgrind)
ES_PORT=${ES_PORT:-17410}
ES_ADMIN=${ES_ADMIN:-17411}
ES_RESP=${ES_RESP:-17412}

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION=${2:?}; shift 2 ;;
    --connections) CONNS=${2:?}; shift 2 ;;
    --members) MEMBERS=${2:?}; shift 2 ;;
    --no-pin) PIN=0; shift ;;
    --no-append) APPEND=0; shift ;;
    --keep) KEEP=1; shift ;;
    --rounds) ROUNDS=${2:?}; shift 2 ;;
    --cpu) CPU_MODE=${2:?}; shift 2 ;;
    --cpu-requests) CPU_REQUESTS=${2:?}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "compare.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ "$DURATION" =~ ^[0-9]+$ ]] && [ "$DURATION" -ge 1 ] && [ "$DURATION" -le 600 ] || { echo "--duration must be 1..600 seconds" >&2; exit 2; }
[[ "$CONNS" =~ ^[0-9]+$ ]] && [ "$CONNS" -ge 1 ] && [ "$CONNS" -le 256 ] || { echo "--connections must be 1..256" >&2; exit 2; }
[[ "$MEMBERS" =~ ^[0-9]+$ ]] && [ "$MEMBERS" -ge 1 ] && [ "$MEMBERS" -le 1000 ] || { echo "--members must be 1..1000" >&2; exit 2; }
[[ "$ROUNDS" =~ ^[0-9]+$ ]] && [ "$ROUNDS" -ge 1 ] && [ "$ROUNDS" -le 20 ] || { echo "--rounds must be 1..20" >&2; exit 2; }
[[ "$CPU_MODE" =~ ^(auto|perf|callgrind|none)$ ]] || { echo "--cpu must be auto, perf, callgrind or none" >&2; exit 2; }
[[ "$CPU_REQUESTS" =~ ^[0-9]+$ ]] && [ "$CPU_REQUESTS" -le 10000000 ] || { echo "--cpu-requests must be 0..10000000" >&2; exit 2; }
WARMUP=$(( DURATION < 4 ? 1 : 2 ))

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
WORK=$(mktemp -d /tmp/es-compare.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "$KEEP" -eq 0 ]; then rm -rf "$WORK"; else echo "kept $WORK" >&2; fi
}
trap cleanup EXIT

# CPU placement: on a machine with >= 2 cores the server under test gets the last core and the load the others,
# so Redis (single-threaded) and EdgeSelector get the same single core and the load never steals it.
NCPU=$(nproc)
SERVER_CPUS="" LOAD_CPUS=""
if [ "$PIN" -eq 1 ] && [ "$NCPU" -ge 2 ] && command -v taskset >/dev/null; then
  SERVER_CPUS=$((NCPU - 1)); LOAD_CPUS="0-$((NCPU - 2))"
fi
# Arrays, not functions: "${ON_SERVER[@]}" cmd & keeps $! the server's own pid (taskset execs it), for its RSS.
ON_SERVER=() ON_LOAD=()
if [ -n "$SERVER_CPUS" ]; then ON_SERVER=(taskset -c "$SERVER_CPUS"); ON_LOAD=(taskset -c "$LOAD_CPUS"); fi

log() { echo "[compare] $*" >&2; }

# --- tools -------------------------------------------------------------------------------------------------------
if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
  log "installing redis-server and redis-tools (apt-get)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools >/dev/null
fi
if [ "$CPU_MODE" = callgrind ] && ! command -v valgrind >/dev/null; then
  log "installing valgrind (apt-get)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
fi
if [ "$CPU_MODE" = perf ] && ! command -v perf >/dev/null; then
  log "installing linux-perf (apt-get)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq linux-perf >/dev/null
fi
# ES_SERVER_DIR / LOAD_BIN: an already published server directory / load tool binary (skips the publish).
if [ -n "${ES_SERVER_DIR:-}" ]; then
  ln -s "$(realpath "$ES_SERVER_DIR")" "$WORK/server"
else
  log "publishing the native server into $WORK"
  dotnet publish src/EdgeSelector.Server -c Release -r linux-x64 -o "$WORK/server" >"$WORK/publish-server.log" 2>&1 \
    || { tail -20 "$WORK/publish-server.log" >&2; exit 1; }
fi
if [ -n "${LOAD_BIN:-}" ]; then
  LOAD=$(realpath "$LOAD_BIN")
else
  log "publishing the load tool into $WORK"
  dotnet publish loadtest/EdgeSelector.LoadTest -c Release -o "$WORK/load" >"$WORK/publish-load.log" 2>&1 \
    || { tail -20 "$WORK/publish-load.log" >&2; exit 1; }
  LOAD="$WORK/load/edgeselector-load"
fi

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# --- Redis with precomputed answers ------------------------------------------------------------------------------
for port in "$REDIS_PORT" "$REDIS_CG_PORT" "$ES_PORT" "$ES_ADMIN" "$ES_RESP"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "compare.sh: port $port is already in use (set REDIS_PORT / REDIS_CG_PORT / ES_PORT / ES_ADMIN / ES_RESP)" >&2; exit 1
  fi
done
log "starting Redis on 127.0.0.1:$REDIS_PORT and loading $TITLES x $MEMBERS precomputed answers"
"${ON_SERVER[@]}" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --protected-mode yes \
  --dir "$WORK" --logfile "$WORK/redis.log" &
PIDS+=($!); REDIS_PID=$!
for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" PING >/dev/null 2>&1 && break; sleep 0.1; done
kill -0 "$REDIS_PID" 2>/dev/null && redis-cli -p "$REDIS_PORT" PING >/dev/null || { echo "compare.sh: Redis did not start" >&2; cat "$WORK/redis.log" >&2; exit 1; }
# key "member:title", value 8 bytes (the image id, zero-padded): what a precomputed-answer cache would hold.
# load_redis_keys PORT MEMBERS
load_redis_keys() {
  awk -v m="$2" -v t="$TITLES" 'BEGIN {
    for (i = 1; i <= m; i++) for (j = 1; j <= t; j++) {
      k = i ":" j; v = sprintf("%08d", j * 100 + 1 + ((i * 7 + j) % 32));
      printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$8\r\n%s\r\n", length(k), k, v } }' \
    | redis-cli -p "$1" --pipe >>"$WORK/redis-load.log"
}
load_redis_keys "$REDIS_PORT" "$MEMBERS"
REDIS_KEYS=$(redis-cli -p "$REDIS_PORT" DBSIZE)
REDIS_RSS_KB=$(rss_kb "$REDIS_PID")

# --- EdgeSelector with the synthetic catalog ---------------------------------------------------------------------
log "starting EdgeSelector (native) on 127.0.0.1:$ES_PORT (RESP $ES_RESP) with the synthetic catalog"
export DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1
ES_CMD=("$WORK/server/edgeselector"
  --EdgeSelector:BinaryPort="$ES_PORT" --EdgeSelector:AdminPort="$ES_ADMIN" --EdgeSelector:RespPort="$ES_RESP"
  --EdgeSelector:DataDir="$WORK/es-data" --EdgeSelector:InlineScheduling=true
  --EdgeSelector:SyntheticTitles="$TITLES" --EdgeSelector:SyntheticImages=32 --EdgeSelector:SyntheticMembers=100000)
"${ON_SERVER[@]}" "${ES_CMD[@]}" >"$WORK/es.log" 2>&1 &
PIDS+=($!); ES_PID=$!
for _ in $(seq 300); do curl -sf "http://127.0.0.1:$ES_ADMIN/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
curl -sf "http://127.0.0.1:$ES_ADMIN/healthz" >/dev/null || { cat "$WORK/es.log" >&2; exit 1; }
ES_RSS_KB=$(rss_kb "$ES_PID")
MODEL_BYTES=$(du -sb "$WORK/es-data/models" | cut -f1)

# --- runs --------------------------------------------------------------------------------------------------------
declare -A R
# run KEY ARGS...: one edgeselector-load run; stores name=value results as R[KEY.name]
run() {
  local key=$1; shift
  log "run $key: $*"
  local out
  out=$("${ON_LOAD[@]}" "$LOAD" -c "$CONNS" -d "$DURATION" -w "$WARMUP" --quiet --members "1:$MEMBERS" --titles "1:$TITLES" "$@" \
        --out "$WORK/reports/$key" --name "$key") || log "run $key: the load tool reported a connection failure"
  while IFS='=' read -r name value; do
    [ -n "$name" ] && R["$key.$name"]=$value
  done < <(echo "$out" | grep -E '^[a-z0-9_]+=')
}
metric() { curl -s "http://127.0.0.1:$ES_ADMIN/metrics" | awk -v n="$1" '$1 == n {print $2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

# median and range of a list of numbers ("n/a" when empty): the statistics every repeated cell reports
median() { printf '%s\n' "$@" | awk '$1 != "" && $1 != "n/a"' | sort -g | awk '{ a[NR] = $1 } END {
  if (NR == 0) print "n/a"; else if (NR % 2) print a[(NR + 1) / 2]; else printf "%.4g\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
range() { printf '%s\n' "$@" | awk '$1 != "" && $1 != "n/a"' | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END {
  if (NR == 0) print "n/a"; else print lo "–" hi }'; }

# pair CELL ROUNDS -- REDIS_ARGS -- ES_ARGS: ROUNDS A/B pairs, Redis first in odd rounds and EdgeSelector first in
# even ones, so a drift of the machine's speed during a cell favours neither. Stores the per-round ratios
# (EdgeSelector / Redis of requests_per_s, and of p99) and their median and range as R[CELL.*].
pair() {
  local cell=$1 rounds=$2; shift 3
  local redis_args=() es_args=()
  while [ "$1" != "--" ]; do redis_args+=("$1"); shift; done; shift
  es_args=("$@")
  local ratios=() p99s=() rr=() er=() r
  for r in $(seq "$rounds"); do
    if [ $((r % 2)) -eq 1 ]; then
      run "redis_${cell}_r$r" "${redis_args[@]}"; run "es_${cell}_r$r" "${es_args[@]}"
    else
      run "es_${cell}_r$r" "${es_args[@]}"; run "redis_${cell}_r$r" "${redis_args[@]}"
    fi
    ratios+=("$(ratio "${R[es_${cell}_r$r.requests_per_s]:-0}" "${R[redis_${cell}_r$r.requests_per_s]:-0}")")
    p99s+=("$(ratio "${R[es_${cell}_r$r.p99_ms]:-0}" "${R[redis_${cell}_r$r.p99_ms]:-0}")")
    rr+=("${R[redis_${cell}_r$r.requests_per_s]:-}"); er+=("${R[es_${cell}_r$r.requests_per_s]:-}")
  done
  R[$cell.ratio]=$(median "${ratios[@]}"); R[$cell.ratio_range]=$(range "${ratios[@]}")
  R[$cell.p99_ratio]=$(median "${p99s[@]}"); R[$cell.p99_ratio_range]=$(range "${p99s[@]}")
  R[$cell.redis_rps]=$(median "${rr[@]}"); R[$cell.es_rps]=$(median "${er[@]}")
  R[$cell.ratios]="${ratios[*]}"
}

alloc_before=$(metric dotnet_gc_heap_total_allocated_bytes_total)
requests_before=$(metric 'edgeselector_requests_total{op="select"}')
for P in 1 16 64; do
  for DIST in uniform zipf; do
    Z=$([ "$DIST" = zipf ] && echo 1.0 || echo 0)
    pair "${DIST}_p$P" "$ROUNDS" -- --protocol resp --port "$REDIS_PORT" --resp-command get -p "$P" --title-zipf "$Z" \
      -- --port "$ES_PORT" -p "$P" --title-zipf "$Z"
  done
done
# Allocation over every SELECT of the cells above (the impression log on): bytes allocated / SELECT requests.
alloc_after=$(metric dotnet_gc_heap_total_allocated_bytes_total)
requests_after=$(metric 'edgeselector_requests_total{op="select"}')
run es_resp_artselect_zipf_p64 --protocol resp --port "$ES_RESP" --resp-command art-select -p 64 --title-zipf 1.0
run es_resp_get_zipf_p64 --protocol resp --port "$ES_RESP" --resp-command get -p 64 --title-zipf 1.0
run es_page40_p16 --port "$ES_PORT" -p 16 --mix page=1 --page-size 40 --title-zipf 1.0
# Open loop at half the median SELECT maximum (P=64, Zipf), both servers at the same rate, alternating rounds.
HALF=$(awk -v r="${R[zipf_p64.es_rps]:-0}" 'BEGIN { printf "%d", r / 2 }')
[ "$HALF" -gt 0 ] || HALF=1000
pair open_half "$ROUNDS" -- --protocol resp --port "$REDIS_PORT" --resp-command get -p 64 --title-zipf 1.0 --rate "$HALF" \
  -- --port "$ES_PORT" -p 64 --title-zipf 1.0 --rate "$HALF"

# redis-benchmark: the same commands from Redis' own tool (every __rand_int__ drawn independently below -r, so
# against Redis most GETs miss: a miss costs Redis the same hash lookup as a hit).
rb() {
  local port=$1 p=$2; shift 2
  local n=$(( p == 1 ? 20000 * DURATION : 150000 * DURATION ))
  "${ON_LOAD[@]}" redis-benchmark -h 127.0.0.1 -p "$port" -c "$CONNS" -P "$p" -n "$n" -r "$TITLES" --csv "$@" 2>/dev/null \
    | awk -F'","' 'NR == 2 { gsub(/"/, "", $2); print $2 }'
}
declare -A RB
for P in 1 16 64; do
  log "redis-benchmark P=$P"
  RB["redis_get_p$P"]=$(rb "$REDIS_PORT" "$P" GET __rand_int__:__rand_int__)
  RB["es_get_p$P"]=$(rb "$ES_RESP" "$P" GET __rand_int__:__rand_int__)
  RB["es_artselect_p$P"]=$(rb "$ES_RESP" "$P" ART.SELECT __rand_int__ __rand_int__)
done
ES_RSS_AFTER_KB=$(rss_kb "$ES_PID")
REDIS_RSS_AFTER_KB=$(rss_kb "$REDIS_PID")

# --- CPU work per request ----------------------------------------------------------------------------------------
# Requests/s on a shared machine move with the neighbours; the work a server does per request moves far less. Each
# server answers a fixed number of requests (8 connections x P=64, Zipf titles, no warm-up), --rounds times in
# alternating order, and what it spent is divided by the count:
#  - CPU time (utime + stime from /proc/PID/stat), always: time the server was on a core, so waiting for one does not
#    count (cache and SMT neighbours still do);
#  - instructions and cycles from perf stat, where the machine exposes hardware counters (--cpu perf);
#  - else user-space instructions under callgrind on a short run (--cpu callgrind): a second Redis on REDIS_CG_PORT
#    holding 10 members' keys, and the node restarted under valgrind on its own data directory after every other
#    run (valgrind runs a server ~50x slower, so those runs' rates mean nothing).
if [ "$CPU_MODE" = auto ]; then
  if command -v perf >/dev/null && perf stat -x, -e instructions true 2>&1 >/dev/null | grep -q '^[0-9]'; then CPU_MODE=perf
  elif command -v valgrind >/dev/null && command -v callgrind_control >/dev/null; then CPU_MODE=callgrind
  else CPU_MODE=none; log "no perf counters and no valgrind: instructions per request skipped (apt-get install valgrind)"; fi
fi
CPU_MEMBERS=$(( MEMBERS < 10 ? MEMBERS : 10 ))
declare -A CPU
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# user-space and kernel ticks apart (utime, stime): a server that spends its time in system calls and wake-ups shows
# it here, where user-space instruction counts (callgrind) cannot
cpu_user_ticks() { awk '{ print $14 }' "/proc/$1/stat"; }
# cpu_drive N ARGS...: a closed-loop run of N requests, no warm-up (bounded by 600 s)
cpu_drive() {
  local n=$1; shift
  "${ON_LOAD[@]}" "$LOAD" -c "$CONNS" -p 64 -w 0 -d 600 -n "$n" --quiet --members "1:$MEMBERS" --titles "1:$TITLES" \
    --title-zipf 1.0 "$@" >"$WORK/cpu-drive.log" 2>&1 || log "CPU run: the load tool reported a failure (see $WORK/cpu-drive.log)"
}
# cpu_round SERVER R: one fixed-count run against the measured server, its CPU time (and perf counters) recorded
cpu_round() {
  local srv=$1 r=$2 pid args=() before after user_before user_after
  if [ "$srv" = redis ]; then pid=$REDIS_PID; args=(--protocol resp --port "$REDIS_PORT" --resp-command get); else pid=$ES_PID; args=(--port "$ES_PORT"); fi
  before=$(cpu_ticks "$pid"); user_before=$(cpu_user_ticks "$pid")
  if [ "$CPU_MODE" = perf ]; then
    # perf stat attached to the server for exactly the run's lifetime (SIGINT makes it write its counts)
    perf stat -x, -e instructions,cycles -p "$pid" -o "$WORK/perf-$srv-$r.csv" &
    local perf_pid=$!
    sleep 0.2
    cpu_drive "$CPU_N" "${args[@]}"
    kill -INT "$perf_pid" 2>/dev/null || true
    wait "$perf_pid" 2>/dev/null || true
    CPU[$srv.ir.$r]=$(awk -F, '$3 ~ /^instructions/ { print $1 }' "$WORK/perf-$srv-$r.csv")
    CPU[$srv.cycles.$r]=$(awk -F, '$3 ~ /^cycles/ { print $1 }' "$WORK/perf-$srv-$r.csv")
  else
    cpu_drive "$CPU_N" "${args[@]}"
  fi
  after=$(cpu_ticks "$pid"); user_after=$(cpu_user_ticks "$pid")
  CPU[$srv.us.$r]=$(awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$CPU_N" 'BEGIN { printf "%.3f", t / hz * 1e6 / n }')
  CPU[$srv.user_us.$r]=$(awk -v t=$((user_after - user_before)) -v hz="$(getconf CLK_TCK)" -v n="$CPU_N" 'BEGIN { printf "%.3f", t / hz * 1e6 / n }')
}
# 200,000 requests: the CPU time is counted in clock ticks (10 ms), so fewer would not resolve a microsecond.
CPU_N=200000
[ "$CPU_MODE" = perf ] && [ "$CPU_REQUESTS" -gt 0 ] && CPU_N=$CPU_REQUESTS
log "CPU work: $ROUNDS alternating pairs of $CPU_N requests ($CPU_MODE)"
for r in $(seq "$ROUNDS"); do
  if [ $((r % 2)) -eq 1 ]; then cpu_round redis "$r"; cpu_round es "$r"; else cpu_round es "$r"; cpu_round redis "$r"; fi
done
for srv in redis es; do
  CPU[$srv.us]=$(median $(for r in $(seq "$ROUNDS"); do echo "${CPU[$srv.us.$r]:-}"; done))
  CPU[$srv.us_range]=$(range $(for r in $(seq "$ROUNDS"); do echo "${CPU[$srv.us.$r]:-}"; done))
  CPU[$srv.user_us]=$(median $(for r in $(seq "$ROUNDS"); do echo "${CPU[$srv.user_us.$r]:-}"; done))
  CPU[$srv.sys_us]=$(median $(for r in $(seq "$ROUNDS"); do
    awk -v a="${CPU[$srv.us.$r]:-}" -v u="${CPU[$srv.user_us.$r]:-}" 'BEGIN { if (a != "" && u != "") printf "%.3f\n", a - u }'; done))
  CPU[$srv.ir]=$(median $(for r in $(seq "$ROUNDS"); do echo "${CPU[$srv.ir.$r]:-}"; done))
  CPU[$srv.cycles]=$(median $(for r in $(seq "$ROUNDS"); do echo "${CPU[$srv.cycles.$r]:-}"; done))
done
CPU_IR_N=$CPU_N

# callgrind_run NAME READY_CMD DRIVER -- SERVER_CMD...: starts the server under callgrind with instrumentation off,
# waits for READY_CMD (up to 300 s, less if it exits), warms up, counts the instructions of CG_N requests
callgrind_run() {
  local name=$1 ready=$2 driver=$3; shift 4
  "${ON_SERVER[@]}" valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$WORK/cg-$name.out" "$@" \
    >"$WORK/cg-$name.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  local i
  for i in $(seq 600); do eval "$ready" >/dev/null 2>&1 && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if ! eval "$ready" >/dev/null 2>&1; then
    log "callgrind: $name did not start under valgrind (see $WORK/cg-$name.log; --keep keeps it)"
    kill "$pid" 2>/dev/null || true
    return
  fi
  [ "$name" = redis ] && load_redis_keys "$REDIS_CG_PORT" "$CPU_MEMBERS"
  $driver 2000
  callgrind_control -i on "$pid" >/dev/null
  $driver "$CG_N"
  callgrind_control -i off "$pid" >/dev/null
  callgrind_control -d "$pid" >/dev/null
  CPU[$name.ir]=$(cat "$WORK"/cg-"$name".out.* 2>/dev/null | awk '/^totals:/ { s += $2 } END { print s + 0 }')
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
redis_cg_drive() { MEMBERS=$CPU_MEMBERS cpu_drive "$1" --protocol resp --port "$REDIS_CG_PORT" --resp-command get; }
es_cg_drive() { MEMBERS=$CPU_MEMBERS cpu_drive "$1" --port "$ES_PORT"; }
# SELECT_PAGE of 40 Zipf titles under callgrind: a twentieth as many pages as SELECTs (40 selections each).
es_page_cg_drive() { MEMBERS=$CPU_MEMBERS cpu_drive "$(( $1 / 20 > 0 ? $1 / 20 : 1 ))" --port "$ES_PORT" --mix page=1 --page-size 40; }
if [ "$CPU_MODE" = callgrind ]; then
  [ "$CPU_REQUESTS" -gt 0 ] && CG_N=$CPU_REQUESTS || CG_N=20000
  [ "$CG_N" -le 100000 ] || CG_N=100000
  CPU_IR_N=$CG_N
  log "CPU work: Redis under callgrind on 127.0.0.1:$REDIS_CG_PORT, $CG_N GETs"
  callgrind_run redis "redis-cli -p $REDIS_CG_PORT PING" redis_cg_drive -- \
    redis-server --port "$REDIS_CG_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" --logfile "$WORK/redis-cg.log"
  # The node under callgrind reopens the data directory the measured node seeded: stop that one first. Valgrind
  # gives up on the separate edgeselector.dbg ("possibly corrupted debuginfo"), so it runs a copy without it.
  log "CPU work: EdgeSelector under callgrind (same data directory), $CG_N SELECTs"
  kill "$ES_PID" 2>/dev/null || true
  for _ in $(seq 120); do kill -0 "$ES_PID" 2>/dev/null || break; sleep 0.5; done
  mkdir -p "$WORK/cg-bin" && cp "$WORK/server/edgeselector" "$WORK/cg-bin/edgeselector"
  # Valgrind runs the node ~50× slower: without these, the 50 ms queue limit and the 5 ms page deadline would answer
  # part of the run with cheap defaults, and the count would measure the timing, not the work.
  CG_LIMITS=(--EdgeSelector:MaxQueueDelayMs=600000 --EdgeSelector:DeadlineMs=600000)
  callgrind_run es "curl -sf http://127.0.0.1:$ES_ADMIN/healthz" es_cg_drive -- "$WORK/cg-bin/edgeselector" "${ES_CMD[@]:1}" "${CG_LIMITS[@]}"
  log "CPU work: EdgeSelector under callgrind, $(( CG_N / 20 )) SELECT_PAGEs of 40 titles"
  callgrind_run es_page "curl -sf http://127.0.0.1:$ES_ADMIN/healthz" es_page_cg_drive -- "$WORK/cg-bin/edgeselector" "${ES_CMD[@]:1}" "${CG_LIMITS[@]}"
fi
per_request() { awk -v t="${1:-0}" -v n="${2:-0}" 'BEGIN { if (t + 0 > 0 && n + 0 > 0) printf "%.0f", t / n; else print "n/a" }'; }
ES_IPR=$(per_request "${CPU[es.ir]:-}" "$CPU_IR_N")
ES_PAGE_IPR=$(per_request "${CPU[es_page.ir]:-}" "$(( CPU_IR_N / 20 > 0 ? CPU_IR_N / 20 : 1 ))")
ES_PAGE_IPS=$(awk -v p="$ES_PAGE_IPR" 'BEGIN { if (p + 0 > 0) printf "%.0f", p / 40; else print "n/a" }')
REDIS_IPR=$(per_request "${CPU[redis.ir]:-}" "$CPU_IR_N")
ES_CPR=$(per_request "${CPU[es.cycles]:-}" "$CPU_N")
REDIS_CPR=$(per_request "${CPU[redis.cycles]:-}" "$CPU_N")
US_RATIO=$(awk -v e="${CPU[es.us]}" -v r="${CPU[redis.us]}" 'BEGIN { if (e + 0 > 0 && r + 0 > 0) printf "%.2f", e / r; else print "n/a" }')
IPR_RATIO=$(awk -v e="$ES_IPR" -v r="$REDIS_IPR" 'BEGIN { if (e + 0 > 0 && r + 0 > 0) printf "%.2f", e / r; else print "n/a" }')

# --- results -----------------------------------------------------------------------------------------------------
U64=${R[uniform_p64.ratio]:-n/a}
Z64=${R[zipf_p64.ratio]:-n/a}
# The open-loop p99 of each round's pair, SELECT / GET; the median over the rounds.
OPEN_P99_RATIO=${R[open_half.p99_ratio]:-n/a}
ALLOC_PER_REQ=$(awk -v a="${alloc_before:-0}" -v b="${alloc_after:-0}" -v r0="${requests_before:-0}" -v r1="${requests_after:-0}" \
  'BEGIN { if (r1 > r0) printf "%.2f", (b - a) / (r1 - r0); else print "n/a" }')
PER_REDIS_KEY=$(awk -v rss="$REDIS_RSS_KB" -v k="$REDIS_KEYS" 'BEGIN { printf "%.0f", rss * 1024 / k }')
PER_MODEL=$(awk -v b="$MODEL_BYTES" -v t="$TITLES" 'BEGIN { printf "%.0f", b / t }')
when=$(date -u +"%Y-%m-%d %H:%M UTC")
{
  echo
  echo "### perf/compare.sh run, $when"
  echo
  echo "\`perf/compare.sh --duration $DURATION --rounds $ROUNDS --connections $CONNS --members $MEMBERS --cpu $CPU_MODE$([ "$PIN" -eq 0 ] && echo ' --no-pin')\` on $(nproc) cores"
  echo "($(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')); servers pinned to CPU ${SERVER_CPUS:-none}, load to CPU ${LOAD_CPUS:-any}; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "Loopback; $CONNS connections; ${DURATION} s measured after ${WARMUP} s warm-up per run; titles 1..$TITLES, members 1..$MEMBERS."
  echo "Each cell ran $ROUNDS Redis/EdgeSelector pairs back to back, alternating which went first; the ratio is the median of the"
  echo "pairs' ratios with their range (min–max); req/s are medians. On a shared machine read the ratios and the instructions per request, not the absolute rates."
  echo
  echo "edgeselector-load, requests/s, closed loop:"
  echo
  echo "| P | titles | Redis GET (precomputed) | EdgeSelector SELECT (binary) | SELECT / GET: median (range) | per-round ratios |"
  echo "|---:|---|---:|---:|---:|---|"
  for P in 1 16 64; do for DIST in uniform zipf; do
    c="${DIST}_p$P"
    printf '| %s | %s | %s | %s | **%s×** (%s) | %s |\n' "$P" "$DIST" "${R[$c.redis_rps]:-?}" "${R[$c.es_rps]:-?}" \
      "${R[$c.ratio]:-?}" "${R[$c.ratio_range]:-?}" "${R[$c.ratios]:-?}"
  done; done
  echo
  echo "Open loop at half the median SELECT maximum (P=64, Zipf): $HALF req/s to each server, $ROUNDS alternating pairs."
  echo
  echo "| round | Redis GET p50 / p99 / p99.9 ms (achieved req/s) | EdgeSelector SELECT p50 / p99 / p99.9 ms (achieved req/s) | p99 SELECT / GET |"
  echo "|---:|---:|---:|---:|"
  for r in $(seq "$ROUNDS"); do
    g="redis_open_half_r$r"; e="es_open_half_r$r"
    printf '| %s | %s / %s / %s (%s) | %s / %s / %s (%s) | %s |\n' "$r" \
      "${R[$g.p50_ms]:-?}" "${R[$g.p99_ms]:-?}" "${R[$g.p999_ms]:-?}" "${R[$g.requests_per_s]:-?}" \
      "${R[$e.p50_ms]:-?}" "${R[$e.p99_ms]:-?}" "${R[$e.p999_ms]:-?}" "${R[$e.requests_per_s]:-?}" \
      "$(ratio "${R[$e.p99_ms]:-0}" "${R[$g.p99_ms]:-0}")"
  done
  echo "| **median** | | | **$OPEN_P99_RATIO** (range ${R[open_half.p99_ratio_range]:-?}) |"
  echo
  echo "CPU work per request: $ROUNDS alternating pairs of $CPU_N requests (8 × P=64, Zipf titles); CPU time from /proc/PID/stat"
  echo "(median, range); instructions by $CPU_MODE$([ "$CPU_MODE" = callgrind ] && echo " (user space only, $CPU_IR_N requests under valgrind)")$([ "$CPU_MODE" = perf ] && echo " (user + kernel, median)"):"
  echo
  echo "| server | CPU µs / request | of it user / kernel µs | instructions / request | cycles / request |"
  echo "|---|---:|---:|---:|---:|"
  echo "| Redis GET (precomputed) | ${CPU[redis.us]} (${CPU[redis.us_range]}) | ${CPU[redis.user_us]} / ${CPU[redis.sys_us]} | $REDIS_IPR | $REDIS_CPR |"
  echo "| EdgeSelector SELECT | ${CPU[es.us]} (${CPU[es.us_range]}) | ${CPU[es.user_us]} / ${CPU[es.sys_us]} | $ES_IPR | $ES_CPR |"
  echo "| SELECT / GET | **$US_RATIO×** | | **$IPR_RATIO×** | |"
  [ "$CPU_MODE" = callgrind ] && echo "| EdgeSelector SELECT_PAGE(40) (callgrind only) | | | $ES_PAGE_IPR per page ($ES_PAGE_IPS per selection) | |"
  echo
  echo "| run | result |"
  echo "|---|---|"
  echo "| SELECT_PAGE(40), P=16, Zipf | ${R[es_page40_p16.selections_per_s]:-?} selections/s (${R[es_page40_p16.requests_per_s]:-?} pages/s; p99 ${R[es_page40_p16.p99_ms]:-?} ms) |"
  echo "| RESP front door ART.SELECT, P=64, Zipf | ${R[es_resp_artselect_zipf_p64.requests_per_s]:-?} req/s (p99 ${R[es_resp_artselect_zipf_p64.p99_ms]:-?} ms) |"
  echo "| RESP front door GET member:title, P=64, Zipf | ${R[es_resp_get_zipf_p64.requests_per_s]:-?} req/s (p99 ${R[es_resp_get_zipf_p64.p99_ms]:-?} ms) |"
  echo "| allocations over every closed-loop SELECT above (/metrics dotnet_gc_heap_total_allocated_bytes_total delta / select requests) | $ALLOC_PER_REQ bytes per request |"
  echo "| errors / fallbacks in the SELECT P=64 Zipf runs | $(for r in $(seq "$ROUNDS"); do printf '%s/%s ' "${R[es_zipf_p64_r$r.errors]:-?}" "${R[es_zipf_p64_r$r.fallbacks]:-?}"; done)|"
  echo
  echo "redis-benchmark (\`-c $CONNS -P P -r $TITLES\`, key \`__rand_int__:__rand_int__\`), requests/s:"
  echo
  echo "| P | Redis GET | front door GET | front door ART.SELECT | ART.SELECT / Redis GET |"
  echo "|---:|---:|---:|---:|---:|"
  for P in 1 16 64; do
    echo "| $P | ${RB[redis_get_p$P]:-?} | ${RB[es_get_p$P]:-?} | ${RB[es_artselect_p$P]:-?} | $(ratio "${RB[es_artselect_p$P]:-0}" "${RB[redis_get_p$P]:-0}")× |"
  done
  echo
  echo "Memory (RSS): Redis $((REDIS_RSS_KB / 1024)) MB for $REDIS_KEYS precomputed answers (≈ $PER_REDIS_KEY B per key), $((REDIS_RSS_AFTER_KB / 1024)) MB at the end;"
  echo "EdgeSelector $((ES_RSS_KB / 1024)) MB after start-up ($((ES_RSS_AFTER_KB / 1024)) MB at the end) for $TITLES models (≈ $PER_MODEL B per title on disk) and 100,000 profiles, most of it the"
  echo "FASTER stores' preallocated budgets. At 100M members × 5,000 titles, a precomputed table is 5×10^11 answers: ≈ $(awk -v b="$PER_REDIS_KEY" 'BEGIN { printf "%.0f", 5e11 * b / 1e12 }') TB in Redis at"
  echo "the measured bytes per key (4 TB of raw 8-byte values alone), against ≈ $(awk -v b="$PER_MODEL" 'BEGIN { printf "%.0f", 5000 * b / 1e6 }') MB of models plus 100M × 72-byte profiles (7.2 GB, spilling to SSD beyond the memory budget)."
} >"$WORK/section.md"
cat "$WORK/section.md"
if [ "$APPEND" -eq 1 ]; then
  cat "$WORK/section.md" >>"$ROOT/docs/performance.md"
  log "appended to docs/performance.md"
fi

echo
for P in 1 16 64; do for DIST in uniform zipf; do
  echo "select_vs_redis_get_${DIST}_p$P=${R[${DIST}_p$P.ratio]:-n/a}"
  echo "select_vs_redis_get_${DIST}_p${P}_range=${R[${DIST}_p$P.ratio_range]:-n/a}"
done; done
echo "rounds=$ROUNDS"
echo "page40_selections_per_s=${R[es_page40_p16.selections_per_s]:-0}"
echo "open_loop_rate=$HALF"
echo "open_loop_p99_ms=$(median $(for r in $(seq "$ROUNDS"); do echo "${R[es_open_half_r$r.p99_ms]:-}"; done))"
echo "open_loop_p999_ms=$(median $(for r in $(seq "$ROUNDS"); do echo "${R[es_open_half_r$r.p999_ms]:-}"; done))"
echo "redis_open_loop_p99_ms=$(median $(for r in $(seq "$ROUNDS"); do echo "${R[redis_open_half_r$r.p99_ms]:-}"; done))"
echo "allocated_bytes_per_request=$ALLOC_PER_REQ"
echo "redis_rss_mb=$((REDIS_RSS_AFTER_KB / 1024))"
echo "edgeselector_rss_mb=$((ES_RSS_AFTER_KB / 1024))"
echo "cpu_mode=$CPU_MODE"
echo "redis_get_cpu_us_per_request=${CPU[redis.us]}"
echo "select_cpu_us_per_request=${CPU[es.us]}"
echo "redis_get_user_us_per_request=${CPU[redis.user_us]}"
echo "redis_get_kernel_us_per_request=${CPU[redis.sys_us]}"
echo "select_user_us_per_request=${CPU[es.user_us]}"
echo "select_kernel_us_per_request=${CPU[es.sys_us]}"
echo "select_vs_redis_get_cpu_time=$US_RATIO"
echo "redis_get_instructions_per_request=$REDIS_IPR"
echo "select_instructions_per_request=$ES_IPR"
echo "select_vs_redis_get_instructions=$IPR_RATIO"
echo "select_page40_instructions_per_page=$ES_PAGE_IPR"
echo "open_loop_p99_ratio_vs_redis_range=${R[open_half.p99_ratio_range]:-n/a}"
echo "open_loop_p99_ratio_vs_redis=$OPEN_P99_RATIO"
