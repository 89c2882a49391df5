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
# The Python and JavaScript examples join them below when their toolchains
# are here; a copy left by an earlier run goes, so only what was built is served.
py_example=examples/plugins-python/wordfreq
js_example=examples/plugins-js/units
rm -f "$plugins"/wordfreq.wasm "$plugins"/wordfreq.toml "$plugins"/units.wasm "$plugins"/units.toml
state=target/demo-state
port=${WARDEN_DEMO_PORT:-7443}
addr=127.0.0.1:$port
http_port=${WARDEN_DEMO_HTTP_PORT:-8080}
http=http://127.0.0.1:$http_port
show() { echo; echo "\$ warden $*"; "$warden" "$@"; }

show check "$plugins/math.wasm"
show run "$plugins/math.wasm" add '{"a":1,"b":2}'

# Plugins in Python and JavaScript, each only when its toolchain is here:
# `warden build` builds the project with it, checks the component (its nodes
# and docs are printed below; the imports are left out) and drops it, with
# its manifest, into the plugin directory. A missing toolchain or a failed
# build is reported and skipped; the rest of the demo goes on without it.
served_py=0
served_js=0
build_into() {
    echo; echo "\$ warden build $1 --into $plugins"
    # (stderr too, to keep the order; the indented lines after `imports:` go)
    if "$warden" build "$1" --into "$plugins" 2>&1 |
        awk '/^imports:/ { skip = 1; next } skip && /^  / { next } { skip = 0; print; fflush() }'; then
        return 0
    fi
    echo "(warden build $1 failed, see above; the demo goes on without it)"
    return 1
}
echo
echo "==> building the Python and JavaScript example plugins"
if command -v "${WARDEN_PYTHON:-python3}" >/dev/null 2>&1 && componentize-py --version >/dev/null 2>&1; then
    build_into "$py_example" && served_py=1
else
    echo "(skipping the Python example $py_example: it needs Python 3 and componentize-py: pip install componentize-py)"
fi
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    if [ ! -x "$js_example/node_modules/.bin/componentize-js" ]; then
        # Once: componentize-js, at the version package-lock.json pins.
        echo; echo "\$ (cd $js_example && npm ci)"
        (cd "$js_example" && npm ci --no-audit --no-fund --loglevel=error) ||
            echo "(npm ci failed, see above; the demo goes on without the JavaScript example)"
    fi
    if [ -x "$js_example/node_modules/.bin/componentize-js" ]; then
        build_into "$js_example" && served_js=1
    fi
else
    echo "(skipping the JavaScript example $js_example: it needs Node.js and npm: https://nodejs.org, or apt-get install nodejs npm)"
fi

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

# The Python and JavaScript examples, if they were built above. A failure
# here is reported, not fatal: they are extras on top of the quick start.
extra() { client "$@" || echo "(exit status $?; the demo goes on)"; }
if [ "$served_py" = 1 ]; then
    echo
    echo "==> the Python example ($py_example/app.py)"
    extra call wordfreq/summarize "the cat sat on the mat with the hat"
    extra call wordfreq/top '["the cat sat on the mat with the hat", 2, "longest"]'
    # A generator is a stream node: one JSON value per line.
    extra call wordfreq/app/words "Nodes calling nodes"
    # The tally lives in the plugin's key-value store (wordfreq.toml grants
    # it): it grows with every call, and every run of the demo.
    extra call wordfreq/tally "to be or not to be"
    extra call wordfreq/seen be
fi
if [ "$served_js" = 1 ]; then
    echo
    echo "==> the JavaScript example ($js_example/units.js)"
    extra call units/convert '{"value": 5, "unit": "km"}' mi
    extra call units/parse "451 degF"
    echo "\$ curl -X POST $http/v1/call/units/convert -d '{\"q\": {\"value\": 451, \"unit\": \"degF\"}, \"to\": \"degC\"}'"
    curl -sS -X POST "$http/v1/call/units/convert" -d '{"q": {"value": 451, "unit": "degF"}, "to": "degC"}' ||
        echo "(curl failed; the demo goes on)"
    echo
fi

if [ "${WARDEN_DEMO_KEEP:-0}" = 1 ]; then
    echo
    echo "==> still serving until Ctrl-C: open $http/ for the dashboard, $http/docs for the API"
    wait "$server" || true
else
    echo
    echo "(WARDEN_DEMO_KEEP=1 ./examples/demo.sh keeps serving afterwards, to open $http/ in a browser)"
fi
