#!/usr/bin/env bash
# Open-loop SELECT latency while member profiles are written (docs/performance.md, "Thread-pool floor"): a fresh node
# pinned to CPU 1 (synthetic catalog 10,000 titles x 32 images, 100,000 members, ProfileCheckpointSeconds=5), the load
# tool on CPU 0 at RATE SELECT/s for 25 s, and 1,000 new profiles PUT /v1/profiles every second meanwhile (30 calls).
# Loopback only; bounded (one 25 s load, 30 PUTs); not run by CI. Usage:
#
#   ES_SERVER_DIR=DIR LOAD_BIN=FILE perf/open-loop-writes.sh LABEL [--rate N] [server args ...]
#
# ES_SERVER_DIR: a published server (dotnet publish src/EdgeSelector.Server -c Release -r linux-x64 -o DIR); LOAD_BIN:
# the published load tool. Ports from ES_PORT / ES_ADMIN (default 18510 / 18511). Prints one line: LABEL
# requests_per_s= p50_ms= p99_ms= p999_ms= max_ms=, then the PUTs' HTTP codes and their slowest durations.
set -euo pipefail
LABEL=${1:?usage: perf/open-loop-writes.sh LABEL [--rate N] [server args ...]}
shift
RATE=160000
if [ "${1:-}" = "--rate" ]; then RATE=${2:?}; shift 2; fi
ES_PORT=${ES_PORT:-18510}
ES_ADMIN=${ES_ADMIN:-18511}
[ -x "${ES_SERVER_DIR:-}/edgeselector" ] || { echo "ES_SERVER_DIR must hold a published edgeselector" >&2; exit 2; }
[ -x "${LOAD_BIN:-}" ] || { echo "LOAD_BIN must be the published edgeselector-load" >&2; exit 2; }
for port in "$ES_PORT" "$ES_ADMIN"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "port $port is already in use" >&2; exit 1; fi
done
WORK=$(mktemp -d /tmp/es-olw.XXXXXX)
TOKEN=olw-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
SERVER=""
cleanup() { [ -z "$SERVER" ] || { kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; }; rm -rf "$WORK"; }
trap cleanup EXIT
for b in $(seq 0 29); do
  { printf '{"profiles":['
    for i in $(seq 0 999); do
      [ "$i" -eq 0 ] || printf ','
      printf '{"memberId":%d,"country":"US","language":"EN","device":"tv","genres":{"comedy":0.%d,"drama":0.%d}}' $((200000 + b * 1000 + i)) $((i % 10)) $(((i / 10) % 10))
    done
    printf ']}'; } > "$WORK/p$b.json"
done
env DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 EdgeSelector__AdminToken="$TOKEN" taskset -c 1 "$ES_SERVER_DIR/edgeselector" \
  --EdgeSelector:BinaryPort="$ES_PORT" --EdgeSelector:AdminPort="$ES_ADMIN" --EdgeSelector:RespPort=0 --EdgeSelector:DataDir="$WORK/data" \
  --EdgeSelector:InlineScheduling=true --EdgeSelector:SyntheticTitles=10000 --EdgeSelector:SyntheticImages=32 \
  --EdgeSelector:SyntheticMembers=100000 --EdgeSelector:ProfileCheckpointSeconds=5 "$@" > "$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 300); do curl -sf "http://127.0.0.1:$ES_ADMIN/healthz" >/dev/null && break; sleep 0.2; done
curl -sf "http://127.0.0.1:$ES_ADMIN/healthz" >/dev/null || { echo "the node did not start:" >&2; tail -5 "$WORK/server.log" >&2; exit 1; }
( for b in $(seq 0 29); do
    taskset -c 0 curl -s -o /dev/null -w "%{http_code} %{time_total}\n" -X PUT -H "Authorization: Bearer $TOKEN" \
      -H "Content-Type: application/json" --data-binary "@$WORK/p$b.json" "http://127.0.0.1:$ES_ADMIN/v1/profiles"
    sleep 1
  done ) > "$WORK/puts.txt" &
PUTS=$!
OUT=$(taskset -c 0 "$LOAD_BIN" -c 8 -p 64 -d 25 -w 2 --quiet --members 1:100 --titles 1:10000 --title-zipf 1.0 --port "$ES_PORT" --rate "$RATE" 2>&1)
wait "$PUTS"
echo "$LABEL $(echo "$OUT" | grep -E '^(requests_per_s|p50_ms|p99_ms|p999_ms|max_ms)=' | tr '\n' ' ')"
echo "puts: $(cut -d' ' -f1 "$WORK/puts.txt" | sort | uniq -c | tr -s ' ' | tr '\n' ';') slowest: $(sort -k2 -rn "$WORK/puts.txt" | head -3 | cut -d' ' -f2 | tr '\n' ' ')s"
