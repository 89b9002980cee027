#!/usr/bin/env bash
# The main job, end to end: get a cluster client certificate as kubectl would, twice (the second
# run is a cache hit).
#
#   ./scripts/demo.sh                 # no cloud account needed: a local ACK emulator on loopback
#   ./scripts/demo.sh CLUSTER_ID      # the real ACK API, with ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET
#                                     # set (and --region-id etc. via ACK_RAM_TOOL_* variables)
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
cargo build --quiet --locked -p ack-ram-tool -p ack-ram-emulator
bin=target/debug/ack-ram-tool

if [[ $# -ge 1 ]]; then
    cluster="$1"
    echo "== get-credential for $cluster against the real ACK API" >&2
    "$bin" credential-plugin get-credential --cluster-id "$cluster"
    exit
fi

work="$(mktemp -d)"
emulator_pid=""
cleanup() {
    [[ -n "$emulator_pid" ]] && kill "$emulator_pid" 2>/dev/null && wait "$emulator_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

target/debug/ack-ram-emulator --tls --ca-out "$work/ca.pem" --ready-file "$work/endpoint" \
    >/dev/null 2>"$work/emulator.log" &
emulator_pid=$!
for _ in $(seq 100); do [[ -s "$work/endpoint" ]] && break; sleep 0.05; done
[[ -s "$work/endpoint" ]] || { echo "the emulator did not start:" >&2; cat "$work/emulator.log" >&2; exit 1; }
endpoint="$(cat "$work/endpoint")"

# The emulator's demo AccessKey (not a real one), its CA, and a throw-away cache directory.
export ALIBABA_CLOUD_ACCESS_KEY_ID=LTAI5tEmulatorDemoKey
export ALIBABA_CLOUD_ACCESS_KEY_SECRET=EmulatorDemoSecretNotReal0123456
export SSL_CERT_FILE="$work/ca.pem"
export ACK_RAM_TOOL_CS_ENDPOINT="$endpoint"
cluster=c0123456789abcdef0123456789abcdef
args=(credential-plugin get-credential --cluster-id "$cluster" --credential-cache-dir "$work/cache")

echo "== local ACK emulator at $endpoint" >&2
echo "== first run: calls the API, caches the certificate" >&2
"$bin" "${args[@]}"
echo "== second run: served from $work/cache, no API call" >&2
"$bin" "${args[@]}" --log-level debug
echo "== the emulator saw these requests:" >&2
cat "$work/emulator.log" >&2
