#!/usr/bin/env bash
# The whole test suite, from a fresh machine: formatting, lints, and every test (unit, property,
# HTTP contract, CLI end to end). Installs what the tests need first; safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

# Everything the tests talk to runs on loopback; never send that through a proxy.
export NO_PROXY="127.0.0.1,localhost,::1${NO_PROXY:+,$NO_PROXY}"
export no_proxy="$NO_PROXY"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

./scripts/install-test-deps.sh
./scripts/install-kubectl.sh
export KUBECTL_1_37="$PWD/.tools/kubectl-1.37/bin/kubectl"
export KUBECTL_1_20="$PWD/.tools/kubectl-1.20/usr/bin/kubectl"
export KUBECTL="$KUBECTL_1_37"   # the emulator's own kubectl check uses this one, not whatever is on PATH

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== starting a private Secret Service (gnome-keyring on its own D-Bus) for the keyring tests"
# shellcheck source=scripts/secret-service.sh
source ./scripts/secret-service.sh
start_secret_service

echo "== cargo test"
cargo test --workspace --locked --no-fail-fast
