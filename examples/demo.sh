#!/usr/bin/env bash
# The quick start: builds warden and the example plugins from source, serves
# the plugins over QUIC and HTTP, and calls some nodes from other processes.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target add wasm32-wasip2 >/dev/null 2>&1 || rustup target add wasm32-wasip2
echo "==> building the example plugins (wasm32-wasip2)"
cargo build --quiet --release --target wasm32-wasip2 \
    --manifest-path examples/plugins/Cargo.toml --target-dir target/wasm-plugins
echo "==> building warden"
cargo build --quiet -p warden-host --bin warden --example client

warden=target/debug/warden
# The directory the server serves: the example plugins, with the manifests
# that grant notes its key-value store and blobs, and pipeline its invokes.
plugins=target/demo-plugins
mkdir -p "$plugins"
cp target/wasm-plugins/wasm32-wasip2/release/{math,text,notes,pipeline,streams}.wasm "$plugins/"
cp examples/plugins/notes/notes.toml examples/plugins/pipeline/pipeline.toml "$plugins/"
state=target/demo-state
port=${WARDEN_DEMO_PORT:-7443}
addr=127.0.0.1:$port
http_port=${WARDEN_DEMO_HTTP_PORT:-8080}
http=http://127.0.0.1:$http_port
show() { echo; echo "\$ warden $*"; "$warden" "$@"; }

show check "$plugins/math.wasm"
show run "$plugins/math.wasm" add '{"a":1,"b":2}'

echo
echo "==> serving $plugins on $addr (QUIC) and $http (HTTP)"
"$warden" serve "$plugins" --listen "$addr" --http "127.0.0.1:$http_port" --state-dir "$state" &
server=$!
trap 'kill -INT $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
# The server answers at once and compiles the plugins in the background;
# wait until it answers, then until none is still loading.
for _ in $(seq 1 100); do
    "$warden" nodes --addr "$addr" --state-dir "$state" >/dev/null 2>&1 && break
    sleep 0.1
done
"$warden" nodes --wait 120 --addr "$addr" --state-dir "$state" >/dev/null

client() { show "$@" --addr "$addr" --state-dir "$state"; }
client nodes
client call math/add 1 2
client call text/strings/upper "hello, warden"
client call text/tokenize '["route 66!"]'
client call math/slow-sum 5 200
# A failing call prints its error kind on stderr and exits non-zero.
client call math/divide 1 0 || echo "(exit status $?)"
# pipeline calls text and math nodes through `invoke` (its manifest grants them).
client call pipeline/headline "nodes calling nodes"
# notes keeps notes in its private key-value store; data travels as blobs.
client call notes/save groceries "eggs, milk"
echo; echo "\$ warden blob put README.md"
ref=$("$warden" blob put README.md --addr "$addr" --state-dir "$state")
echo "$ref"
client call notes/attach groceries "$ref"
client call notes/index
# A stream node prints one JSON value per line as its items arrive.
client call streams/counter/count 3 100
# A channel node takes messages on stdin with --stdin.
echo; echo "\$ printf 'hi\\nthere\\n' | warden call --stdin streams/chat/echo '> '"
printf 'hi\nthere\n' | "$warden" call --stdin streams/chat/echo '> ' --addr "$addr" --state-dir "$state"
# A job: submitted now, fetched later.
echo; echo "\$ warden submit math/slow-sum 5 100"
job=$("$warden" submit math/slow-sum 5 100 --addr "$addr" --state-dir "$state")
client job "$job" --wait 30

echo
echo "==> the same host over HTTP"
echo "\$ curl -X POST $http/v1/call/math/add -d '[1,2]'"
curl -sS -X POST "$http/v1/call/math/add" -d '[1,2]'; echo
echo "\$ curl -N -H 'Accept: text/event-stream' -X POST $http/v1/call/math/slow-sum -d '[3, 100]'"
curl -sS -N -H 'Accept: text/event-stream' -X POST "$http/v1/call/math/slow-sum" -d '[3, 100]'
echo "\$ curl -X POST $http/v1/call/math/divide -d '[1,0]'"
curl -sS -X POST "$http/v1/call/math/divide" -d '[1,0]'; echo
echo "dashboard: $http/   API docs: $http/docs   OpenAPI: $http/v1/openapi.json   metrics: $http/metrics"

echo
echo "==> the example Rust client (examples/client/main.rs)"
WARDEN_STATE_DIR=$state target/debug/examples/client "$addr"

if [ "${WARDEN_DEMO_KEEP:-0}" = 1 ]; then
    echo
    echo "==> still serving until Ctrl-C: open $http/ for the dashboard, $http/docs for the API"
    wait "$server" || true
else
    echo
    echo "(WARDEN_DEMO_KEEP=1 ./examples/demo.sh keeps serving afterwards, to open $http/ in a browser)"
fi
