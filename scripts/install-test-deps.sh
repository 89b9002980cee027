#!/usr/bin/env bash
# Installs what the test suite needs on a fresh machine of the project's kind (Debian, root).
# The Rust toolchain's components and the shells of the completion tests; the Secret Service and
# kubectl have scripts of their own (secret-service.sh, install-kubectl.sh).
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

# The shells whose completion scripts the tests load for real (bash is always there).
missing=()
for shell in zsh fish; do
    command -v "$shell" >/dev/null 2>&1 || missing+=("$shell")
done
if ((${#missing[@]})); then
    echo "== apt-get install ${missing[*]} (completion tests)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
