# shellcheck shell=bash
# A private, unlocked Secret Service (gnome-keyring on its own D-Bus session bus) for the keyring
# tests, on a headless machine. Source this file, then call the functions:
#
#     source scripts/secret-service.sh
#     start_secret_service          # installs what is missing, starts bus + keyring, exports
#                                   # DBUS_SESSION_BUS_ADDRESS
#     cargo test -p ack-ram-tool --test keyring_store
#     stop_secret_service           # kills the bus and the keyring, restores the environment
#
# Why a private bus: the tests must not touch a developer's real login keyring, and CI has no
# session bus at all. Everything lives in a throwaway directory (XDG_DATA_HOME and
# XDG_RUNTIME_DIR of the daemon point there), so a leftover `login.keyring` made with another
# password can never leave the collection locked.
#
# Cleanup composes with the caller's trap: start_secret_service adds stop_secret_service in front
# of whatever EXIT trap is set at that moment, and stop_secret_service puts that trap back. If you
# set your own EXIT trap *after* starting, call stop_secret_service from it.
#
# Idempotent (a second start while the first still answers does nothing), quiet unless something
# fails (SECRET_SERVICE_VERBOSE=1 shows progress), and every failure says why on stderr and
# returns non-zero (never `exit`: this file is sourced).
#
# Installs with apt-get, only what is missing: gnome-keyring, dbus, libsecret-tools
# (`secret-tool`, used by the tests to look at items) and keyutils (`keyctl`, for the kernel
# keyring tests). `apt-get update` runs once, and only when something must be installed.

_ss_say() {
    if [ "${SECRET_SERVICE_VERBOSE:-0}" = 1 ]; then
        echo "secret-service.sh: $*" >&2
    fi
}

_ss_fail() {
    echo "secret-service.sh: $*" >&2
    return 1
}

# Installs the packages whose commands are missing.
_ss_install() {
    local missing=() pair cmd pkg log
    for pair in gnome-keyring-daemon:gnome-keyring dbus-daemon:dbus dbus-send:dbus \
        secret-tool:libsecret-tools keyctl:keyutils; do
        cmd=${pair%%:*}
        pkg=${pair#*:}
        if ! command -v "$cmd" >/dev/null 2>&1; then
            case " ${missing[*]:-} " in
                *" $pkg "*) ;;
                *) missing+=("$pkg") ;;
            esac
        fi
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        return 0
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        _ss_fail "missing ${missing[*]} and there is no apt-get to install them; install them by hand"
        return 1
    fi
    local sudo=()
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo=(sudo -n)
        else
            _ss_fail "missing ${missing[*]}; run as root (or with sudo) to install them"
            return 1
        fi
    fi
    _ss_say "installing ${missing[*]}"
    log=$(mktemp "${TMPDIR:-/tmp}/secret-service-apt.XXXXXX") || return 1
    if ! "${sudo[@]}" apt-get update >"$log" 2>&1 ||
        ! DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends \
            "${missing[@]}" >>"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        _ss_fail "could not install ${missing[*]} (apt-get output above)"
        return 1
    fi
    rm -f "$log"
}

# Whether the bus this file started still answers.
_ss_running() {
    [ -n "${SECRET_SERVICE_DIR:-}" ] && [ -f "$SECRET_SERVICE_DIR/dbus.pid" ] &&
        [ "${DBUS_SESSION_BUS_ADDRESS:-}" = "unix:path=$SECRET_SERVICE_DIR/bus" ] &&
        kill -0 "$(cat "$SECRET_SERVICE_DIR/dbus.pid")" 2>/dev/null
}

start_secret_service() {
    if _ss_running; then
        _ss_say "already running at $DBUS_SESSION_BUS_ADDRESS"
        return 0
    fi
    _ss_install || return 1

    local dir
    dir=$(mktemp -d "${TMPDIR:-/tmp}/secret-service.XXXXXX") || {
        _ss_fail "could not create a temporary directory"
        return 1
    }
    mkdir -m 700 "$dir/data" "$dir/run" || return 1

    # Remember what we change so stop_secret_service can put it back.
    SECRET_SERVICE_SAVED_BUS=${DBUS_SESSION_BUS_ADDRESS-__unset__}
    SECRET_SERVICE_SAVED_TRAP=$(trap -p EXIT)
    SECRET_SERVICE_DIR=$dir
    export SECRET_SERVICE_DIR

    if ! dbus-daemon --session --fork --nopidfile --address="unix:path=$dir/bus" \
        --print-pid=3 3>"$dir/dbus.pid" 2>"$dir/dbus.log"; then
        cat "$dir/dbus.log" >&2
        rm -rf "$dir"
        unset SECRET_SERVICE_DIR
        _ss_fail "dbus-daemon did not start (output above)"
        return 1
    fi
    export DBUS_SESSION_BUS_ADDRESS="unix:path=$dir/bus"

    # Register cleanup in front of the caller's EXIT trap, keeping theirs.
    local previous=""
    if [ -n "$SECRET_SERVICE_SAVED_TRAP" ]; then
        eval "set -- $SECRET_SERVICE_SAVED_TRAP"
        previous=${3:-}
    fi
    # shellcheck disable=SC2064 # expand now: the caller's trap text as it is at this moment
    trap "stop_secret_service${previous:+; $previous}" EXIT

    # gnome-keyring reads the password on stdin, creates the `login` collection with it (in our
    # throwaway XDG_DATA_HOME) and unlocks it. It must be non-empty: an empty password leaves
    # the collection locked. It forks into the background and dies with the bus.
    if ! printf '%s' "ack-ram-tool-tests" |
        XDG_DATA_HOME="$dir/data" XDG_RUNTIME_DIR="$dir/run" \
            gnome-keyring-daemon --unlock --components=secrets >"$dir/keyring.env" 2>"$dir/keyring.log"; then
        cat "$dir/keyring.log" >&2
        stop_secret_service
        _ss_fail "gnome-keyring-daemon did not start (output above)"
        return 1
    fi

    # Wait until the service owns its name and the default collection takes a write.
    local i ok=""
    for i in $(seq 1 50); do
        if dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
            org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null |
            grep -q 'boolean true'; then
            ok=1
            break
        fi
        sleep 0.1
    done
    if [ -z "$ok" ]; then
        cat "$dir/keyring.log" >&2
        stop_secret_service
        _ss_fail "org.freedesktop.secrets did not appear on the private bus within 5 s (gnome-keyring output above)"
        return 1
    fi
    if ! printf 'probe' | timeout 10 secret-tool store --label='ack-ram-tool probe' \
        ack-ram-tool-probe start >/dev/null 2>"$dir/probe.log" ||
        [ "$(timeout 10 secret-tool lookup ack-ram-tool-probe start 2>>"$dir/probe.log")" != probe ]; then
        cat "$dir/probe.log" "$dir/keyring.log" >&2
        stop_secret_service
        _ss_fail "the Secret Service runs but its default collection does not take a write (locked?); output above"
        return 1
    fi
    timeout 10 secret-tool clear ack-ram-tool-probe start >/dev/null 2>&1 || true
    _ss_say "Secret Service ready at $DBUS_SESSION_BUS_ADDRESS"
    return 0
}

stop_secret_service() {
    local dir=${SECRET_SERVICE_DIR:-}
    if [ -z "$dir" ]; then
        return 0
    fi
    if [ -f "$dir/dbus.pid" ]; then
        local pid
        pid=$(cat "$dir/dbus.pid" 2>/dev/null || true)
        if [ -n "$pid" ]; then
            kill "$pid" 2>/dev/null || true
        fi
    fi
    # gnome-keyring exits when its bus goes away; make sure of it for the daemon we started
    # (matched by our private directory in its environment, never by name alone).
    local p
    for p in $(pgrep -x gnome-keyring-d 2>/dev/null || true); do
        if tr '\0' '\n' 2>/dev/null <"/proc/$p/environ" | grep -qx "XDG_DATA_HOME=$dir/data"; then
            kill "$p" 2>/dev/null || true
        fi
    done
    rm -rf "$dir"
    unset SECRET_SERVICE_DIR

    if [ "${SECRET_SERVICE_SAVED_BUS:-__unset__}" = __unset__ ]; then
        unset DBUS_SESSION_BUS_ADDRESS
    else
        export DBUS_SESSION_BUS_ADDRESS="$SECRET_SERVICE_SAVED_BUS"
    fi
    if [ -n "${SECRET_SERVICE_SAVED_TRAP:-}" ]; then
        eval "$SECRET_SERVICE_SAVED_TRAP"
    else
        trap - EXIT
    fi
    unset SECRET_SERVICE_SAVED_BUS SECRET_SERVICE_SAVED_TRAP
    return 0
}
