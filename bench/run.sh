#!/usr/bin/env bash
# Benchmarks, from a fresh machine: release build, then bench/bench.py (whole-process timings,
# each paired with its baseline run interleaved in the same session). Extra arguments go to
# bench.py, e.g. `bench/run.sh --runs 50 --max-hit-ratio 5` (the CI smoke run).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export NO_PROXY="127.0.0.1,localhost"

command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl >/dev/null; }
command -v strace >/dev/null || { apt-get update -qq && apt-get install -y -qq strace >/dev/null; } || true

echo "== release build" >&2
# Two builds: built together, cargo would unify the emulator's features of shared crates into
# ack-ram-tool, and the binary measured would not be the one users install.
cargo build --release --locked -q -p ack-ram-tool
cargo build --release --locked -q -p ack-ram-emulator

# The keyring figures need a Secret Service; start a private one when none is running.
if [[ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ]]; then
    # shellcheck source=scripts/secret-service.sh
    source scripts/secret-service.sh
    start_secret_service || echo "(no Secret Service: the keyring row is skipped)" >&2
fi

echo "== $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uname -sr)" >&2
python3 bench/bench.py --bin target/release/ack-ram-tool --emulator target/release/ack-ram-emulator "$@"
