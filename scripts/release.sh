#!/usr/bin/env bash
# The portable Linux release, from a fresh machine: builds ack-ram-tool for x86_64 Linux against
# an old glibc floor (cargo-zigbuild + zig, both from PyPI into a private venv under target/),
# checks the binary (highest GLIBC symbol version it needs, only base-system shared libraries,
# it runs), then packs
#   dist/ack-ram-tool-<version>-x86_64-unknown-linux-gnu.tar.gz   (binary, completions, README, LICENSE)
#   dist/ack-ram-tool-<version>-x86_64-unknown-linux-gnu.tar.gz.sha256   (`sha256sum -c` format)
# Safe to re-run. Fails loudly when any check fails.
#
# Settings (environment): GLIBC_FLOOR (default 2.17), CARGO_TARGET_DIR (default target/dist, so
# the release build never shares a build lock or artifacts with the everyday target/),
# DIST_DIR (default dist), ZIGLANG_VERSION / CARGO_ZIGBUILD_VERSION (the PyPI pins).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

TRIPLE=x86_64-unknown-linux-gnu
GLIBC_FLOOR="${GLIBC_FLOOR:-2.17}"
ZIGLANG_VERSION="${ZIGLANG_VERSION:-0.17.1}"
CARGO_ZIGBUILD_VERSION="${CARGO_ZIGBUILD_VERSION:-0.24.1}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target/dist}"
DIST_DIR="${DIST_DIR:-dist}"
TOOLS="$PWD/target/dist-tools"   # the venv holding zig and cargo-zigbuild, nothing outside it

die() { echo "release.sh: FAILED: $*" >&2; exit 1; }

[[ "$(uname -s)/$(uname -m)" == Linux/x86_64 ]] \
    || die "run this on x86_64 Linux: the script runs the built binary to check it and to generate the completions"

apt_install() {  # apt_install PACKAGE: Debian's package, when a needed command is missing
    command -v apt-get >/dev/null || die "$1 is missing and there is no apt-get to install it"
    echo "== apt-get install $1"
    apt-get update -qq && apt-get install -y -qq "$1" >/dev/null
}
command -v objdump >/dev/null && command -v readelf >/dev/null || apt_install binutils
command -v python3 >/dev/null || apt_install python3
command -v tar >/dev/null || apt_install tar
command -v gzip >/dev/null || apt_install gzip

echo "== version"
VERSION="$(cargo metadata --format-version 1 --no-deps --locked \
    | python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "ack-ram-tool"))')"
[[ -n "$VERSION" ]] || die "no version for package ack-ram-tool in cargo metadata"
NAME="ack-ram-tool-$VERSION-$TRIPLE"
echo "ack-ram-tool $VERSION, target $TRIPLE, glibc floor $GLIBC_FLOOR"

echo "== rust target $TRIPLE"
if command -v rustup >/dev/null; then
    rustup target list --installed | grep -x "$TRIPLE" >/dev/null || rustup target add "$TRIPLE"
else
    [[ -d "$(rustc --print sysroot)/lib/rustlib/$TRIPLE" ]] \
        || die "rustup is unavailable and the toolchain has no standard library for $TRIPLE"
fi

echo "== zig $ZIGLANG_VERSION and cargo-zigbuild $CARGO_ZIGBUILD_VERSION (PyPI, venv in ${TOOLS#"$PWD"/})"
if [[ ! -x "$TOOLS/bin/python" ]]; then
    python3 -m venv "$TOOLS" 2>/dev/null || { rm -rf "$TOOLS"; apt_install python3-venv; python3 -m venv "$TOOLS"; }
fi
if [[ "$("$TOOLS/bin/python" -m ziglang version 2>/dev/null)" != "$ZIGLANG_VERSION" \
      || "$("$TOOLS/bin/cargo-zigbuild" --version 2>/dev/null)" != "cargo-zigbuild $CARGO_ZIGBUILD_VERSION" ]]; then
    "$TOOLS/bin/python" -m pip install -q --disable-pip-version-check --no-cache-dir \
        "ziglang==$ZIGLANG_VERSION" "cargo-zigbuild==$CARGO_ZIGBUILD_VERSION"
fi
# Use exactly this zig, and keep zig's and cargo-zigbuild's caches under target/ as well.
CARGO_ZIGBUILD_ZIG_PATH="$("$TOOLS/bin/python" -c 'import os, ziglang; print(os.path.join(os.path.dirname(ziglang.__file__), "zig"))')"
export CARGO_ZIGBUILD_ZIG_PATH
export CARGO_ZIGBUILD_CACHE_DIR="$TOOLS/cache/cargo-zigbuild"
export ZIG_GLOBAL_CACHE_DIR="$TOOLS/cache/zig" ZIG_LOCAL_CACHE_DIR="$TOOLS/cache/zig-local"
"$CARGO_ZIGBUILD_ZIG_PATH" version >/dev/null || die "zig from the ziglang wheel does not run"

echo "== cargo zigbuild --release --target $TRIPLE.$GLIBC_FLOOR (into ${CARGO_TARGET_DIR#"$PWD"/}; a cold build takes minutes)"
start=$SECONDS
"$TOOLS/bin/cargo-zigbuild" zigbuild --release --locked -p ack-ram-tool --target "$TRIPLE.$GLIBC_FLOOR" \
    || die "cargo zigbuild exited $? (the compiler's messages are above)"
echo "build took $((SECONDS - start)) s"
BIN="$CARGO_TARGET_DIR/$TRIPLE/release/ack-ram-tool"
[[ -x "$BIN" ]] || die "no binary at $BIN"

echo "== check: the GLIBC symbol versions the binary needs"
needed_glibc="$(objdump -T "$BIN" | grep -oE 'GLIBC_[0-9]+(\.[0-9]+)+' | sed 's/^GLIBC_//' | sort -uV)"
[[ -n "$needed_glibc" ]] || die "no GLIBC symbol versions in $BIN: not a dynamically linked glibc binary?"
max_glibc="$(tail -n1 <<<"$needed_glibc")"
echo "versions: $(tr '\n' ' ' <<<"$needed_glibc")"
echo "highest: GLIBC_$max_glibc (floor $GLIBC_FLOOR)"
if [[ "$(printf '%s\n%s\n' "$max_glibc" "$GLIBC_FLOOR" | sort -V | tail -n1)" != "$GLIBC_FLOOR" ]]; then
    echo "symbols above the floor:" >&2
    objdump -T "$BIN" | grep -E "GLIBC_$max_glibc[^.0-9]" >&2 || true
    die "the binary needs GLIBC_$max_glibc, above the floor $GLIBC_FLOOR"
fi

echo "== check: the shared libraries the binary needs are base system ones"
needed_libs="$(readelf -d "$BIN" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')"
echo "needed: $(tr '\n' ' ' <<<"$needed_libs")"
while read -r lib; do
    case "$lib" in
        libc.so.6 | libm.so.6 | libpthread.so.0 | libdl.so.2 | librt.so.1 | libutil.so.1 \
            | ld-linux-x86-64.so.2 | libgcc_s.so.1) ;;
        *) die "the binary needs $lib, which is not part of every glibc system" ;;
    esac
done <<<"$needed_libs"
interp="$(readelf -l "$BIN" | sed -n 's/.*Requesting program interpreter: \(.*\)\]/\1/p')"
[[ "$interp" == /lib64/ld-linux-x86-64.so.2 ]] || die "unexpected program interpreter: '$interp'"

echo "== check: the binary runs"
"$BIN" --version || die "'ack-ram-tool --version' exited $?"

echo "== package $NAME"
STAGE="$CARGO_TARGET_DIR/package/$NAME"
rm -rf "$STAGE"
mkdir -p "$STAGE/completions"
install -m 0755 "$BIN" "$STAGE/ack-ram-tool"
install -m 0644 README.md LICENSE "$STAGE/"
"$BIN" completion bash >"$STAGE/completions/ack-ram-tool.bash" || die "'ack-ram-tool completion bash' exited $?"
"$BIN" completion zsh >"$STAGE/completions/_ack-ram-tool" || die "'ack-ram-tool completion zsh' exited $?"
"$BIN" completion fish >"$STAGE/completions/ack-ram-tool.fish" || die "'ack-ram-tool completion fish' exited $?"
for f in "$STAGE"/completions/*; do
    [[ -s "$f" ]] || die "empty completion script ${f#"$STAGE"/}"
done
chmod 0644 "$STAGE"/completions/*

# Same inputs, same tarball: sorted names, no owners, one timestamp (the last commit's).
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}"
mkdir -p "$DIST_DIR"
TARBALL="$DIST_DIR/$NAME.tar.gz"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
    -C "$CARGO_TARGET_DIR/package" -cf - "$NAME" | gzip -9n >"$TARBALL.tmp"
mv -f "$TARBALL.tmp" "$TARBALL"
(cd "$DIST_DIR" && sha256sum "$NAME.tar.gz" >"$NAME.tar.gz.sha256" && sha256sum --quiet -c "$NAME.tar.gz.sha256") \
    || die "the checksum of $TARBALL does not verify"

echo "== done"
tar -tvzf "$TARBALL"
echo "$TARBALL: $(stat -c %s "$TARBALL") bytes; binary $(stat -c %s "$BIN") bytes; needs GLIBC_$max_glibc at most"
cat "$TARBALL.sha256"
