#!/usr/bin/env bash
# Installs what the test suite needs on a fresh machine of the project's kind (Debian, root).
# Today that is the Rust toolchain's own components; system packages join this list as the
# tests that need them land (the Secret Service and kubectl, for instance).
set -euo pipefail

if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo is not installed; install the Rust toolchain (https://rustup.rs) first" >&2
    exit 1
fi
for component in rustfmt clippy; do
    if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
        rustup component add "$component"
    fi
done
