#!/usr/bin/env bash
# The main job, end to end, as a user lives it: get a kubeconfig for a cluster, then run kubectl
# through the plugin (twice: the second run is a cache hit).
#
#   ./scripts/demo.sh                 # no cloud account needed: the local ACK emulator, which
#                                     # also serves a Kubernetes API over mutual TLS
#   ./scripts/demo.sh CLUSTER_ID      # the real ACK API, with ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET
#                                     # (or any credential source) and ACK_RAM_TOOL_REGION_ID set
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

echo "== building ack-ram-tool and the emulator (the first time takes a few minutes)" >&2
cargo build --locked -p ack-ram-tool -p ack-ram-emulator
echo "== installing kubectl into .tools/ (once)" >&2
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl >/dev/null; }
./scripts/install-kubectl.sh
kubectl="$PWD/.tools/kubectl-1.37/bin/kubectl"
export PATH="$PWD/target/debug:$PATH"   # generated kubeconfigs run `ack-ram-tool` from PATH

work="$(mktemp -d)"
emulator_pid=""
cleanup() {
    if [[ -n "$emulator_pid" ]]; then kill "$emulator_pid" 2>/dev/null || true; wait "$emulator_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

if [[ $# -ge 1 ]]; then
    cluster="$1"
    echo "== get-kubeconfig for $cluster from the real ACK API" >&2
    ack-ram-tool get-kubeconfig --cluster-id "$cluster" --output "$work/kubeconfig"
else
    target/debug/ack-ram-emulator --tls --kube-api --ca-out "$work/ca.pem" \
        --ready-file "$work/endpoint" >/dev/null 2>"$work/emulator.log" &
    emulator_pid=$!
    for _ in $(seq 200); do [[ -s "$work/endpoint" ]] && break; sleep 0.05; done
    [[ -s "$work/endpoint" ]] || { echo "the emulator did not start:" >&2; cat "$work/emulator.log" >&2; exit 1; }
    endpoint="$(cat "$work/endpoint")"
    # The emulator's demo AccessKey (not a real one) and its CA; a throw-away HOME for the cache.
    export ALIBABA_CLOUD_ACCESS_KEY_ID=LTAI5tEmulatorDemoKey
    export ALIBABA_CLOUD_ACCESS_KEY_SECRET=EmulatorDemoSecretNotReal0123456
    export SSL_CERT_FILE="$work/ca.pem"
    export HOME="$work/home"
    mkdir -p "$HOME"
    cluster=c0123456789abcdef0123456789abcdef
    echo "== local ACK emulator at $endpoint" >&2
    echo "== get-kubeconfig for $cluster" >&2
    ack-ram-tool get-kubeconfig --cluster-id "$cluster" --cs-endpoint "${endpoint#https://}" \
        --api-version v1 --output "$work/kubeconfig"
fi

echo "== the kubeconfig's user runs the plugin:" >&2
sed -n '/^users:/,$p' "$work/kubeconfig" >&2

# How many certificates the emulator has issued so far (its control API); empty for the real API.
issued() {
    [[ -n "$emulator_pid" ]] || return 0
    curl -s --cacert "$work/ca.pem" "$endpoint/__emulator/stats" |
        sed -n 's/.*"issued_count":\([0-9]*\).*/\1/p'
}
echo "== kubectl get --raw /version (the plugin fetches and caches a certificate)" >&2
"$kubectl" --kubeconfig "$work/kubeconfig" get --raw /version
echo
before="$(issued)"
echo "== kubectl get namespaces" >&2
"$kubectl" --kubeconfig "$work/kubeconfig" get namespaces
after="$(issued)"
if [[ -n "$emulator_pid" ]]; then
    if [[ "$before" == "$after" ]]; then
        echo "== served from the cache: the emulator issued no certificate for the second kubectl run ($after issued in all: one for get-kubeconfig, one for the first kubectl run)" >&2
    else
        echo "== NOT served from the cache: the emulator issued $((after - before)) certificate(s) for the second run" >&2
        exit 1
    fi
    ack-ram-tool credential-plugin cache list >&2
fi
