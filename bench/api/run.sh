#!/bin/sh
# Management API benchmark (bench/README.md, "Management API"): wrk over
# TLS keep-alive against a fresh sccd, then the create-to-Succeeded latency.
# usage: bench/api/run.sh [BUILD_DIR] [SECONDS]
set -eu
BUILD=${1:-build/release}
SECS=${2:-10}
HERE=$(cd "$(dirname "$0")" && pwd)
DIR=$(mktemp -d /tmp/scc-bench-api.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BUILD/src/control/sccd" --data-dir "$DIR" --api-listen "127.0.0.1:$PORT" --relay-listen 127.0.0.2:0 \
    --metrics-listen 127.0.0.1:0 --lro-delay "${LRO_DELAY:-0}" --lro-retry-after 0 --log-level warn \
    >"$DIR/sccd.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DIR"' EXIT
for _ in $(seq 50); do [ -f "$DIR/endpoints.json" ] && break; sleep 0.1; done
export SCC_TOKEN=$(cat "$DIR/admin.token") SCC_SUB=$(cat "$DIR/subscription")
API=https://127.0.0.1:$PORT
"$BUILD/src/cli/sccctl" --data-dir "$DIR" provider register Microsoft.ManagedIdentity >/dev/null
"$BUILD/src/cli/sccctl" --data-dir "$DIR" group create rg1 --location eastus >/dev/null
"$BUILD/src/cli/sccctl" --data-dir "$DIR" workspace create ws1 -g rg1 --location eastus \
    --no-public-ip true --wait --quiet >/dev/null
WS="$API/subscriptions/$SCC_SUB/resourceGroups/rg1/providers/Microsoft.Databricks/workspaces/ws1?api-version=2023-02-01"
echo "== GET workspace (wrk -t1 -c32 -d${SECS}s)"
wrk -t1 -c32 -d"${SECS}s" -H "Authorization: Bearer $SCC_TOKEN" "$WS" | grep -E "Requests/sec|Latency"
echo "== PUT resource group (wrk -t1 -c8 -d${SECS}s, 64 groups)"
wrk -t1 -c8 -d"${SECS}s" -s "$HERE/put_rg.lua" "$API" | grep -E "Requests/sec|Latency|Non-2xx"
echo "== workspace create through to Succeeded (--lro-delay ${LRO_DELAY:-0})"
python3 "$HERE/lro_p99.py" "$DIR" "${COUNT:-200}"
