#!/bin/sh
# The main job on the embedded defaults: install what is missing, build,
# start sccd (control plane + relay) with nothing but a data dir, mint a
# join token, start an agent that dials out to the relay, and run a command
# on it through the tunnel.  Everything is stopped again at the end.
set -eu
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
bin=build/release/src
dir=$(mktemp -d /tmp/scc-run.XXXXXX)
trap 'kill $agent $sccd 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT INT TERM

echo "# sccd --data-dir $dir/data   (API 127.0.0.1:8443, relay 127.0.0.2:8443)"
$bin/control/sccd --data-dir "$dir/data" >"$dir/sccd.log" 2>&1 &
sccd=$!
for _ in $(seq 50); do [ -S "$dir/data/sccd.sock" ] && break; sleep 0.1; done

echo "# sccctl token create --workspace ws1 --cluster c1 --node node1"
token=$($bin/cli/sccctl --data-dir "$dir/data" token create --workspace ws1 --cluster c1 --node node1)

echo "# scc-agent --relay 127.0.0.2:8443 --ca $dir/data/pki/ca.crt --join-token ... (no listening socket)"
$bin/agent/scc-agent --relay 127.0.0.2:8443 --ca "$dir/data/pki/ca.crt" --join-token "$token" \
    --state-dir "$dir/node1" >"$dir/agent.log" 2>&1 &
agent=$!
for _ in $(seq 50); do grep -q "tunnel up" "$dir/agent.log" && break; sleep 0.1; done

echo "# sccctl nodes"
$bin/cli/sccctl --data-dir "$dir/data" nodes
echo "# sccctl exec node1 -- uname -a"
$bin/cli/sccctl --data-dir "$dir/data" exec node1 -- uname -a
