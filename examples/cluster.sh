#!/usr/bin/env bash
# Cluster mode: three warden hosts joined through one NATS server (with
# JetStream), each serving different plugins. Every host lists every node
# with the hosts serving it, and a call through any host reaches the host
# that serves its node; a job submitted through one host runs where its node
# is and is fetched through another; `warden deploy` publishes a plugin that
# the host taking deployments loads. Needs `nats-server` (apt-get install -y
# nats-server).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v nats-server >/dev/null || { echo "needs nats-server: apt-get install -y nats-server"; exit 1; }
rustup target add wasm32-wasip2 >/dev/null 2>&1 || rustup target add wasm32-wasip2
echo "==> building the example plugins (wasm32-wasip2) and warden"
cargo build --quiet --release --target wasm32-wasip2 \
    --manifest-path examples/plugins/Cargo.toml --target-dir target/wasm-plugins
cargo build --quiet -p warden-host --bin warden
warden=target/debug/warden
wasm=target/wasm-plugins/wasm32-wasip2/release

work=target/cluster-demo
rm -rf "$work"
mkdir -p "$work"/{nats,a,b,c}/plugins
cp "$wasm/text.wasm" "$work/a/plugins/"
cp "$wasm/math.wasm" "$work/b/plugins/"
cp "$wasm/math.wasm" "$wasm/streams.wasm" "$work/c/plugins/"

nats_port=${WARDEN_CLUSTER_NATS_PORT:-4222}
nats=nats://127.0.0.1:$nats_port
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

echo "==> nats-server -js on $nats"
nats-server -js -a 127.0.0.1 -p "$nats_port" -sd "$work/nats" >"$work/nats.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$nats_port") 2>/dev/null && break; sleep 0.1; done

port() { case $1 in a) echo 7451;; b) echo 7452;; c) echo 7453;; esac; }
for h in a b c; do
    echo "==> warden serve $work/$h/plugins --cluster $nats --cluster-host $h"
    "$warden" serve "$work/$h/plugins" --listen "127.0.0.1:$(port $h)" --state-dir "$work/$h/state" \
        --cluster "$nats" --cluster-name demo --cluster-host "$h" \
        $([ "$h" = b ] && echo --cluster-deployments) >"$work/$h.log" 2>&1 &
    pids+=($!)
done
at() { local h=$1; shift; echo; echo "\$ warden $* (through host $h)"; "$warden" "$@" --addr "127.0.0.1:$(port "$h")" --state-dir "$work/$h/state"; }
# Each host answers once it has made its certificate; then its plugins load.
for h in a b c; do
    for _ in $(seq 300); do
        "$warden" nodes --addr "127.0.0.1:$(port $h)" --state-dir "$work/$h/state" >/dev/null 2>&1 && break
        sleep 0.2
    done
    "$warden" nodes --wait 120 --addr "127.0.0.1:$(port $h)" --state-dir "$work/$h/state" >/dev/null
done
sleep 2  # a round of announcements (every second)

at a nodes
at a call math/add 2 3            # served by b or c
at a call streams/counter/count 5 100   # only c serves streams: items stream back through a
at c call text/strings/upper 'from c, served by a'
echo; echo "\$ printf 'hi\\nthere\\n' | warden call --stdin streams/chat/echo '> ' (through host a: a channel to c)"
printf 'hi\nthere\n' | "$warden" call --stdin streams/chat/echo '> ' --addr "127.0.0.1:$(port a)" --state-dir "$work/a/state"

echo; echo "\$ warden submit math/slow-sum 3 100 (through host a), then warden job ID --wait 10 (through host c)"
job=$("$warden" submit math/slow-sum 3 100 --addr "127.0.0.1:$(port a)" --state-dir "$work/a/state")
echo "$job"
"$warden" job "$job" --wait 10 --addr "127.0.0.1:$(port c)" --state-dir "$work/c/state"
echo; echo "\$ warden deploy $wasm/text.wasm --name words --cluster $nats --cluster-name demo (b takes deployments)"
"$warden" deploy "$wasm/text.wasm" --name words --cluster "$nats" --cluster-name demo
for _ in $(seq 100); do
    "$warden" call words/strings/upper deployed --addr "127.0.0.1:$(port a)" --state-dir "$work/a/state" >/dev/null 2>&1 && break
    sleep 0.2
done
at a call words/strings/upper 'deployed to b'
"$warden" deploy --remove words --cluster "$nats" --cluster-name demo
for _ in $(seq 100); do
    "$warden" call words/strings/upper gone --addr "127.0.0.1:$(port a)" --state-dir "$work/a/state" >/dev/null 2>&1 || break
    sleep 0.2
done
echo; echo "==> stopping host c: its plugins leave the catalog of a"
kill "${pids[3]}"; wait "${pids[3]}" 2>/dev/null || true
sleep 1
at a nodes
at a call math/add 40 2           # b still serves math
at a call streams/counter/count 1 0 || echo "(streams left with c, as expected)"
