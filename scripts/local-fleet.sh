#!/usr/bin/env bash
# A local fleet to try (docs/fleet.md, "Running a local fleet"): 3 nats-server processes clustered on 127.0.0.1 (JetStream,
# every stream R3) and 3 edge nodes, the demo catalog pushed through NATS and a few profiles imported.
#   scripts/local-fleet.sh start     build, start everything, push the demo catalog's bundle (state in $FLEET_DIR, default /tmp/es-fleet)
#   scripts/local-fleet.sh status    edgesel fleet status
#   scripts/local-fleet.sh stop      stop what start started (by the pids it recorded) and keep the data
#   scripts/local-fleet.sh clean     stop and delete $FLEET_DIR
# Ports: NATS clients 4222-4224 (routes 6222-6224); node N (1-3): binary 74N0, admin 74N1.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${FLEET_DIR:-/tmp/es-fleet}
nats_url=nats://127.0.0.1:4222,nats://127.0.0.1:4223,nats://127.0.0.1:4224
edgesel() { dotnet src/EdgeSelector.Cli/bin/Release/net10.0/edgesel.dll "$@"; }

stop() {
  for pid in "$dir"/*.pid; do
    [ -e "$pid" ] || continue
    kill "$(cat "$pid")" 2>/dev/null || true
    rm -f "$pid"
  done
}

case "${1:-start}" in
start)
  command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ] || { echo "install nats-server (apt-get install nats-server)" >&2; exit 1; }
  nats=$(command -v nats-server || echo /usr/sbin/nats-server)
  dotnet build src/EdgeSelector.Server -c Release -v q >/dev/null
  dotnet build src/EdgeSelector.Cli -c Release -v q >/dev/null
  mkdir -p "$dir"
  echo -n "local-fleet-key" > "$dir/bundle.key"
  for i in 0 1 2; do
    routes=$(for j in 0 1 2; do [ "$j" = "$i" ] || printf 'nats://127.0.0.1:%d,' $((6222 + j)); done)
    "$nats" -a 127.0.0.1 -p $((4222 + i)) -n "n$i" -js -sd "$dir/nats$i" --cluster_name es-local \
      --cluster "nats://127.0.0.1:$((6222 + i))" --routes "${routes%,}" >"$dir/nats$i.log" 2>&1 &
    echo $! >"$dir/nats$i.pid"
  done
  sleep 2
  edgesel fleet init --nats "$nats_url" --replicas 3
  for n in 1 2 3; do
    dotnet src/EdgeSelector.Server/bin/Release/net10.0/edgeselector.dll --EdgeSelector:NodeId=$n \
      --EdgeSelector:BinaryPort=74${n}0 --EdgeSelector:AdminPort=74${n}1 --EdgeSelector:DataDir="$dir/node$n" \
      --EdgeSelector:AdminToken=local-admin --EdgeSelector:BundleKey=local-fleet-key \
      --EdgeSelector:Nats:Url="$nats_url" >"$dir/node$n.log" 2>&1 &
    echo $! >"$dir/node$n.pid"
  done
  # A new bundle each start, numbered by the UTC clock (docs/cli.md), so it is newer than what a restarted fleet serves.
  edgesel bundle --catalog src/EdgeSelector.Server/Demo/demo-catalog.json --models "$dir/models" --key-file "$dir/bundle.key" >/dev/null
  edgesel push --models "$dir/models" --nats "$nats_url"
  printf '{"memberId":%d,"country":"US","language":"EN","device":"tv","genres":{"comedy":0.8}}\n' $(seq 1 1000) >"$dir/profiles.jsonl"
  edgesel profiles import "$dir/profiles.jsonl" --nats "$nats_url"
  for n in 1 2 3; do
    for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:74${n}1/readyz" >/dev/null && break; sleep 1; done
    echo "node $n: $(curl -s "http://127.0.0.1:74${n}1/readyz")"
  done
  echo "try: edgesel fleet status --nats $nats_url    (stop with: scripts/local-fleet.sh stop)"
  ;;
status) edgesel fleet status --nats "$nats_url" ;;
stop) stop ;;
clean) stop; sleep 1; rm -rf "$dir" ;;
*) echo "usage: $0 start|status|stop|clean" >&2; exit 2 ;;
esac
