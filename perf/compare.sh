#!/usr/bin/env bash
# Side-by-side suite: EdgeSelector (native binary, synthetic catalog of 10,000 titles x 32 images x 64 features)
# against Redis serving precomputed 8-byte answers for the same (member, title) pairs. Loopback only; every run is
# bounded by --duration. Not run by CI (it needs minutes of a quiet machine). Usage:
#
#   perf/compare.sh --duration 10 [--connections 8] [--members 100] [--no-pin] [--no-append] [--keep]
#
# Prints a Markdown section (also appended to docs/performance.md unless --no-append) and ends with name=value
# lines: select_vs_redis_get_uniform_p64=, select_vs_redis_get_zipf_p64=, page40_selections_per_s=,
# open_loop_p99_ms=, ...
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
REDIS_PORT=${REDIS_PORT:-17379}
ES_PORT=${ES_PORT:-17410}
ES_ADMIN=${ES_ADMIN:-17411}
ES_RESP=${ES_RESP:-17412}

usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION=${2:?}; shift 2 ;;
    --connections) CONNS=${2:?}; shift 2 ;;
    --members) MEMBERS=${2:?}; shift 2 ;;
    --no-pin) PIN=0; shift ;;
    --no-append) APPEND=0; shift ;;
    --keep) KEEP=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "compare.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ "$DURATION" =~ ^[0-9]+$ ]] && [ "$DURATION" -ge 1 ] && [ "$DURATION" -le 600 ] || { echo "--duration must be 1..600 seconds" >&2; exit 2; }
[[ "$CONNS" =~ ^[0-9]+$ ]] && [ "$CONNS" -ge 1 ] && [ "$CONNS" -le 256 ] || { echo "--connections must be 1..256" >&2; exit 2; }
[[ "$MEMBERS" =~ ^[0-9]+$ ]] && [ "$MEMBERS" -ge 1 ] && [ "$MEMBERS" -le 1000 ] || { echo "--members must be 1..1000" >&2; exit 2; }
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
log "publishing the native server and the load tool into $WORK"
dotnet publish src/EdgeSelector.Server -c Release -r linux-x64 -o "$WORK/server" >"$WORK/publish-server.log" 2>&1 \
  || { tail -20 "$WORK/publish-server.log" >&2; exit 1; }
dotnet publish loadtest/EdgeSelector.LoadTest -c Release -o "$WORK/load" >"$WORK/publish-load.log" 2>&1 \
  || { tail -20 "$WORK/publish-load.log" >&2; exit 1; }
LOAD="$WORK/load/edgeselector-load"

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# --- Redis with precomputed answers ------------------------------------------------------------------------------
for port in "$REDIS_PORT" "$ES_PORT" "$ES_ADMIN" "$ES_RESP"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "compare.sh: port $port is already in use (set REDIS_PORT / ES_PORT / ES_ADMIN / ES_RESP)" >&2; exit 1
  fi
done
log "starting Redis on 127.0.0.1:$REDIS_PORT and loading $TITLES x $MEMBERS precomputed answers"
"${ON_SERVER[@]}" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --protected-mode yes \
  --dir "$WORK" --logfile "$WORK/redis.log" &
PIDS+=($!); REDIS_PID=$!
for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" PING >/dev/null 2>&1 && break; sleep 0.1; done
kill -0 "$REDIS_PID" 2>/dev/null && redis-cli -p "$REDIS_PORT" PING >/dev/null || { echo "compare.sh: Redis did not start" >&2; cat "$WORK/redis.log" >&2; exit 1; }
# key "member:title", value 8 bytes (the image id, zero-padded): what a precomputed-answer cache would hold.
awk -v m="$MEMBERS" -v t="$TITLES" 'BEGIN {
  for (i = 1; i <= m; i++) for (j = 1; j <= t; j++) {
    k = i ":" j; v = sprintf("%08d", j * 100 + 1 + ((i * 7 + j) % 32));
    printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$8\r\n%s\r\n", length(k), k, v } }' \
  | redis-cli -p "$REDIS_PORT" --pipe >"$WORK/redis-load.log"
REDIS_KEYS=$(redis-cli -p "$REDIS_PORT" DBSIZE)
REDIS_RSS_KB=$(rss_kb "$REDIS_PID")

# --- EdgeSelector with the synthetic catalog ---------------------------------------------------------------------
log "starting EdgeSelector (native) on 127.0.0.1:$ES_PORT (RESP $ES_RESP) with the synthetic catalog"
DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 "${ON_SERVER[@]}" "$WORK/server/edgeselector" \
  --EdgeSelector:BinaryPort="$ES_PORT" --EdgeSelector:AdminPort="$ES_ADMIN" --EdgeSelector:RespPort="$ES_RESP" \
  --EdgeSelector:DataDir="$WORK/es-data" --EdgeSelector:InlineScheduling=true \
  --EdgeSelector:SyntheticTitles="$TITLES" --EdgeSelector:SyntheticImages=32 --EdgeSelector:SyntheticMembers=100000 \
  >"$WORK/es.log" 2>&1 &
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

for P in 1 16 64; do
  for DIST in uniform zipf; do
    Z=$([ "$DIST" = zipf ] && echo 1.0 || echo 0)
    run "redis_get_${DIST}_p$P" --protocol resp --port "$REDIS_PORT" --resp-command get -p "$P" --title-zipf "$Z"
    if [ "$P" = 64 ] && [ "$DIST" = zipf ]; then
      alloc_before=$(metric edgeselector_allocated_bytes_total)
      requests_before=$(metric 'edgeselector_requests_total{op="select"}')
    fi
    run "es_select_${DIST}_p$P" --port "$ES_PORT" -p "$P" --title-zipf "$Z"
    if [ "$P" = 64 ] && [ "$DIST" = zipf ]; then
      alloc_after=$(metric edgeselector_allocated_bytes_total)
      requests_after=$(metric 'edgeselector_requests_total{op="select"}')
    fi
  done
done
run es_resp_artselect_zipf_p64 --protocol resp --port "$ES_RESP" --resp-command art-select -p 64 --title-zipf 1.0
run es_resp_get_zipf_p64 --protocol resp --port "$ES_RESP" --resp-command get -p 64 --title-zipf 1.0
run es_page40_p16 --port "$ES_PORT" -p 16 --mix page=1 --page-size 40 --title-zipf 1.0
HALF=$(awk -v r="${R[es_select_zipf_p64.requests_per_s]:-0}" 'BEGIN { printf "%d", r / 2 }')
[ "$HALF" -gt 0 ] || HALF=1000
run es_open_half_p64 --port "$ES_PORT" -p 64 --title-zipf 1.0 --rate "$HALF"

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

# --- results -----------------------------------------------------------------------------------------------------
U64=$(ratio "${R[es_select_uniform_p64.requests_per_s]:-0}" "${R[redis_get_uniform_p64.requests_per_s]:-0}")
Z64=$(ratio "${R[es_select_zipf_p64.requests_per_s]:-0}" "${R[redis_get_zipf_p64.requests_per_s]:-0}")
ALLOC_PER_REQ=$(awk -v a="${alloc_before:-0}" -v b="${alloc_after:-0}" -v r0="${requests_before:-0}" -v r1="${requests_after:-0}" \
  'BEGIN { if (r1 > r0) printf "%.2f", (b - a) / (r1 - r0); else print "n/a" }')
PER_REDIS_KEY=$(awk -v rss="$REDIS_RSS_KB" -v k="$REDIS_KEYS" 'BEGIN { printf "%.0f", rss * 1024 / k }')
PER_MODEL=$(awk -v b="$MODEL_BYTES" -v t="$TITLES" 'BEGIN { printf "%.0f", b / t }')
when=$(date -u +"%Y-%m-%d %H:%M UTC")
{
  echo
  echo "### perf/compare.sh run, $when"
  echo
  echo "\`perf/compare.sh --duration $DURATION --connections $CONNS --members $MEMBERS$([ "$PIN" -eq 0 ] && echo ' --no-pin')\` on $(nproc) cores"
  echo "($(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')); servers pinned to CPU ${SERVER_CPUS:-none}, load to CPU ${LOAD_CPUS:-any}."
  echo "Loopback; $CONNS connections; ${DURATION} s measured after ${WARMUP} s warm-up per run; titles 1..$TITLES, members 1..$MEMBERS."
  echo "A shared machine: other builds may have run at the same time, so read the ratios (each Redis and EdgeSelector pair ran back to back), not the absolute rates."
  echo
  echo "edgeselector-load, requests/s (p50 / p99 / p99.9 ms):"
  echo
  echo "| P | titles | Redis GET (precomputed) | EdgeSelector SELECT (binary) | ratio |"
  echo "|---:|---|---:|---:|---:|"
  for P in 1 16 64; do for DIST in uniform zipf; do
    r="redis_get_${DIST}_p$P"; e="es_select_${DIST}_p$P"
    printf '| %s | %s | %s (%s / %s / %s) | %s (%s / %s / %s) | %s× |\n' "$P" "$DIST" \
      "${R[$r.requests_per_s]:-?}" "${R[$r.p50_ms]:-?}" "${R[$r.p99_ms]:-?}" "${R[$r.p999_ms]:-?}" \
      "${R[$e.requests_per_s]:-?}" "${R[$e.p50_ms]:-?}" "${R[$e.p99_ms]:-?}" "${R[$e.p999_ms]:-?}" \
      "$(ratio "${R[$e.requests_per_s]:-0}" "${R[$r.requests_per_s]:-0}")"
  done; done
  echo
  echo "| run | result |"
  echo "|---|---|"
  echo "| SELECT_PAGE(40), P=16, Zipf | ${R[es_page40_p16.selections_per_s]:-?} selections/s (${R[es_page40_p16.requests_per_s]:-?} pages/s; p99 ${R[es_page40_p16.p99_ms]:-?} ms) |"
  echo "| open loop at half the SELECT P=64 Zipf max ($HALF req/s) | achieved ${R[es_open_half_p64.requests_per_s]:-?} req/s; p50 ${R[es_open_half_p64.p50_ms]:-?} ms, p99 ${R[es_open_half_p64.p99_ms]:-?} ms, p99.9 ${R[es_open_half_p64.p999_ms]:-?} ms, max ${R[es_open_half_p64.max_ms]:-?} ms |"
  echo "| RESP front door ART.SELECT, P=64, Zipf | ${R[es_resp_artselect_zipf_p64.requests_per_s]:-?} req/s (p99 ${R[es_resp_artselect_zipf_p64.p99_ms]:-?} ms) |"
  echo "| RESP front door GET member:title, P=64, Zipf | ${R[es_resp_get_zipf_p64.requests_per_s]:-?} req/s (p99 ${R[es_resp_get_zipf_p64.p99_ms]:-?} ms) |"
  echo "| allocations, SELECT P=64 Zipf run (/metrics edgeselector_allocated_bytes_total delta / select requests) | $ALLOC_PER_REQ bytes per request |"
  echo "| errors / fallbacks in the SELECT P=64 Zipf run | ${R[es_select_zipf_p64.errors]:-?} / ${R[es_select_zipf_p64.fallbacks]:-?} |"
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
echo "select_vs_redis_get_uniform_p64=$U64"
echo "select_vs_redis_get_zipf_p64=$Z64"
echo "page40_selections_per_s=${R[es_page40_p16.selections_per_s]:-0}"
echo "open_loop_rate=$HALF"
echo "open_loop_p99_ms=${R[es_open_half_p64.p99_ms]:-0}"
echo "open_loop_p999_ms=${R[es_open_half_p64.p999_ms]:-0}"
echo "allocated_bytes_per_request=$ALLOC_PER_REQ"
echo "redis_rss_mb=$((REDIS_RSS_AFTER_KB / 1024))"
echo "edgeselector_rss_mb=$((ES_RSS_AFTER_KB / 1024))"
for P in 1 16; do
  echo "select_vs_redis_get_uniform_p$P=$(ratio "${R[es_select_uniform_p$P.requests_per_s]:-0}" "${R[redis_get_uniform_p$P.requests_per_s]:-0}")"
  echo "select_vs_redis_get_zipf_p$P=$(ratio "${R[es_select_zipf_p$P.requests_per_s]:-0}" "${R[redis_get_zipf_p$P.requests_per_s]:-0}")"
done
