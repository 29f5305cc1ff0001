#!/bin/sh
# Tunnel benchmark: the same payloads, in one run, through
#   raw     loopback TCP, no tunnel
#   scc     sccctl forward -> relay -> TLS 1.3 tunnel -> agent (this project)
#   stunnel one TLS hop (stunnel client -> stunnel server)
#   ssh-R   OpenSSH reverse tunnel (sshd <- ssh -R), TCP_NODELAY forced, default cipher
#   ssh-R-gcm  the same with aes128-gcm@openssh.com
# Measures, in RUNS interleaved rounds, bulk throughput, CPU seconds per GB of the tunnel's
# processes, 64-byte round trip p50/p99 (one round trip on each path in turn), and
# connection open + round trip p50/p99.
#
# usage: bench/tunnel/bench.sh [BUILD_DIR]   (default build/release; env RUNS rounds,
# MB per transfer, RAW=1 also prints every round's figures, TUNE_ALL=1 gives
# every path's processes the glibc memcpy tuning sccd and scc-agent apply to
# themselves on AMD processors: src/common/cputune.c)
# Binds 127.0.0.1:16xxx-19xxx and 127.0.0.2:18443 (loopback only).
set -eu
[ -n "${TUNE_ALL:-}" ] && export GLIBC_TUNABLES=glibc.cpu.x86_rep_movsb_threshold=1073741824
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build/release}
runs=${RUNS:-5}
mb=${MB:-2000}
work=$(mktemp -d /tmp/scc-bench.XXXXXX)
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM
bg() { "$@" >>"$work/bg.log" 2>&1 & pids="$pids $!"; }

cc -O2 -pthread -o "$work/sccbench" "$root/bench/sccbench.c"
cc -O2 -shared -fPIC -o "$work/nodelay.so" "$root/bench/tunnel/nodelay.c" -ldl
B=$work/sccbench
bg "$B" sink 16201
bg "$B" echo 16202
sleep 0.3

# ---- scc ----
bin=$build/src
bg "$bin/control/sccd" --data-dir "$work/d" --relay-listen 127.0.0.2:18443 \
    --api-listen 127.0.0.1:18444 --metrics-listen ''
for _ in $(seq 50); do [ -S "$work/d/sccd.sock" ] && break; sleep 0.1; done
tok=$("$bin/cli/sccctl" --data-dir "$work/d" token create --workspace w --cluster c --node n1)
bg "$bin/agent/scc-agent" --relay 127.0.0.2:18443 --ca "$work/d/pki/ca.crt" \
    --join-token "$tok" --state-dir "$work/a"
sleep 1
bg "$bin/cli/sccctl" --data-dir "$work/d" forward n1 17201:127.0.0.1:16201
bg "$bin/cli/sccctl" --data-dir "$work/d" forward n1 17202:127.0.0.1:16202

# ---- stunnel ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=b \
    -keyout "$work/st.key" -out "$work/st.crt" 2>/dev/null
cat >"$work/st-server.conf" <<CONF
foreground = yes
pid =
[s1]
accept = 127.0.0.1:18301
connect = 127.0.0.1:16201
cert = $work/st.crt
key = $work/st.key
[s2]
accept = 127.0.0.1:18302
connect = 127.0.0.1:16202
cert = $work/st.crt
key = $work/st.key
CONF
cat >"$work/st-client.conf" <<CONF
foreground = yes
pid =
client = yes
[c1]
accept = 127.0.0.1:17301
connect = 127.0.0.1:18301
[c2]
accept = 127.0.0.1:17302
connect = 127.0.0.1:18302
CONF
bg stunnel "$work/st-server.conf"
bg stunnel "$work/st-client.conf"

# ---- ssh -R ----
mkdir -p /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$work/hostkey"
ssh-keygen -q -t ed25519 -N '' -f "$work/userkey"
cp "$work/userkey.pub" "$work/authorized_keys"
cat >"$work/sshd_config" <<CONF
Port 18222
ListenAddress 127.0.0.1
HostKey $work/hostkey
AuthorizedKeysFile $work/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowTcpForwarding yes
PidFile $work/sshd.pid
CONF
LD_PRELOAD=$work/nodelay.so bg /usr/sbin/sshd -D -e -f "$work/sshd_config"
sleep 0.5
sshopts="-N -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -i $work/userkey -p 18222"
LD_PRELOAD=$work/nodelay.so bg ssh $sshopts -R 17401:127.0.0.1:16201 -R 17402:127.0.0.1:16202 root@127.0.0.1
LD_PRELOAD=$work/nodelay.so bg ssh $sshopts -c aes128-gcm@openssh.com -R 17501:127.0.0.1:16201 -R 17502:127.0.0.1:16202 root@127.0.0.1
sleep 1.5

cpu_of() { # total utime+stime ticks of processes matching a pattern
    t=0
    for p in $(pgrep -f "$1"); do
        set -- $(cut -d' ' -f14,15 "/proc/$p/stat" 2>/dev/null || echo "0 0")
        t=$((t + $1 + $2))
    done
    echo $t
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

hz=$(getconf CLK_TCK)
paths="raw:16201:16202: scc:17201:17202:$work/d stunnel:17301:17302:$work/st- \
ssh-R:17401:17402:sshd|$work/userkey ssh-R-gcm:17501:17502:sshd|$work/userkey"
# CPU patterns name this run's own processes (by their work-dir paths), so
# other sccd or agents on the machine are not counted.
field() { echo "$1" | cut -d: -f"$2"; }
add() { echo "$2" >>"$work/m.$1"; }
med() { median <"$work/m.$1"; }

# Rounds: each round measures every path once, in turn, so that the
# machine's drift (this VM's neighbours come and go) falls on all of them
# alike; each figure is the median over the rounds.
for i in $(seq "$runs"); do
    for path in $paths; do
        name=$(field "$path" 1); port=$(field "$path" 2); eport=$(field "$path" 3)
        pat=$(echo "$path" | cut -d: -f4-)
        c0=0; c1=0
        [ -n "$pat" ] && c0=$(cpu_of "$pat")
        add "gbit.$name" "$("$B" send 127.0.0.1:"$port" "$mb" | sed 's/.*gbit_per_s=//')"
        [ -n "$pat" ] && c1=$(cpu_of "$pat")
        add "cpu.$name" "$(awk -v t=$((c1 - c0)) -v hz="$hz" -v gb="$(echo "$mb / 1024" | bc -l)" \
            'BEGIN {printf "%.2f", t / hz / gb}')"
        set -- $("$B" open 127.0.0.1:"$eport" $((2000 / runs)) | sed 's/p50_us=//; s/p99_us=//' |
            awk '{print $3, $4}')
        add "open50.$name" "$1"; add "open99.$name" "$2"
    done
    # Round trips are sampled one on each path in turn, so that a slow
    # moment of the VM (the figure moves +-25% from second to second here)
    # falls on every path alike instead of on whichever ran then.
    targets=""
    for path in $paths; do targets="$targets 127.0.0.1:$(field "$path" 3)"; done
    "$B" rttmix $((20000 / runs)) 64 $targets | sed 's/p50_us=//; s/p99_us=//' |
        while read -r _ target _ p50 p99; do
            for path in $paths; do
                [ "127.0.0.1:$(field "$path" 3)" = "$target" ] || continue
                add "rtt50.$(field "$path" 1)" "$p50"; add "rtt99.$(field "$path" 1)" "$p99"
            done
        done
done

printf '| path | Gbit/s (median of %s rounds x %s MB) | tunnel CPU s/GB | 64 B RTT p50 / p99 (us) | open + RTT p50 / p99 (us) |\n' "$runs" "$mb"
printf '|---|---|---|---|---|\n'
for path in $paths; do
    name=$(field "$path" 1); pat=$(echo "$path" | cut -d: -f4-)
    cpu=-; [ -n "$pat" ] && cpu=$(med "cpu.$name")
    printf '| %s | %s | %s | %s / %s | %s / %s |\n' "$name" "$(med "gbit.$name")" "$cpu" \
        "$(med "rtt50.$name")" "$(med "rtt99.$name")" "$(med "open50.$name")" "$(med "open99.$name")"
done
if [ -n "${RAW:-}" ]; then # every round's figures, for the README
    for f in "$work"/m.*; do echo "${f##*/m.}: $(tr '\n' ' ' <"$f")"; done
fi
