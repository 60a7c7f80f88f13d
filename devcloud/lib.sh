# Common helpers of devcloud.sh: logging, one-time steps, secrets and cached venvs (processes.sh
# has the detached services).
# shellcheck shell=bash

DC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$DC")
STATE=$REPO/.devcloud
LOGS=$STATE/logs
ETC=$STATE/etc
MARKERS=$STATE/markers
SETUP_LOG=$LOGS/setup.log
KEYSTONE_URL=http://127.0.0.1:${DEVCLOUD_KEYSTONE_PORT:-5000}
GLANCE_URL=http://127.0.0.1:${DEVCLOUD_GLANCE_PORT:-9292}
REGION=RegionOne
PYTHON=${DEVCLOUD_PYTHON:-python3}
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/community-images
READY_TIMEOUT=${DEVCLOUD_READY_TIMEOUT:-60}

VENV=
BUILD_TMP=
CURRENT_STEP=
FAIL_LOG=
# ROLLBACK=1: a failing command stops every service it launched (LAUNCH_ORDER, newest first).
ROLLBACK=0
declare -A PIDS=() LAUNCHED=()
LAUNCH_ORDER=()

say() { printf 'devcloud: %s\n' "$*"; }
die() {
    printf 'devcloud: ERROR: %s\n' "$*" >&2
    exit 1
}
usec() { printf '%s' "${EPOCHREALTIME/[.,]/}"; }
since() {
    local ms=$((($(usec) - $1) / 1000))
    printf '%d.%ds' $((ms / 1000)) $((ms % 1000 / 100))
}
tail_log() {
    [[ -s $1 ]] || return 0
    printf -- '--- last lines of %s\n' "$1" >&2
    tail -n "${2:-25}" "$1" >&2
}

on_exit() {
    local rc=$? i name
    [[ -z $BUILD_TMP ]] || rm -rf "$BUILD_TMP"
    if ((rc)) && [[ -n $CURRENT_STEP ]]; then
        printf 'devcloud: ERROR: step "%s" failed (exit %d)\n' "$CURRENT_STEP" "$rc" >&2
        tail_log "$SETUP_LOG"
        [[ -z $FAIL_LOG ]] || tail_log "$FAIL_LOG"
    fi
    if ((rc && ROLLBACK)); then
        for ((i = ${#LAUNCH_ORDER[@]} - 1; i >= 0; i--)); do
            name=${LAUNCH_ORDER[i]}
            ! alive "${PIDS[$name]}" || stop_service "$name" "${PIDS[$name]}"
        done
        ! declare -F rollback_hook >/dev/null || rollback_hook
    fi
}
trap on_exit EXIT

# Runs a setup step with its output in setup.log. Not called in a condition, so `set -e` stays in
# force inside; on failure the EXIT trap names the step and shows the logs.
step() {
    local label=$1 t0
    shift
    t0=$(usec)
    CURRENT_STEP=$label
    FAIL_LOG=
    printf '=== %s %s\n' "$(date -Is)" "$label" >>"$SETUP_LOG"
    "$@" >>"$SETUP_LOG" 2>&1
    CURRENT_STEP=
    say "$label ($(since "$t0"))"
}

# A one-time setup step: skipped while its marker holds the same key. Keys name what the step
# depends on (the venv for schema migrations, URLs for catalog entries), so a change re-runs it.
once() {
    local name=$1 key=$2
    shift 2
    [[ -f $MARKERS/$name && $(<"$MARKERS/$name") == "$key" ]] && return 0
    step "$name" "$@"
    printf '%s\n' "$key" >"$MARKERS/$name"
}

# apt_install PACKAGE...: installs the Debian packages not installed yet.
apt_install() {
    ((${#@})) || return 0
    say "installing Debian packages: $*"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"
}

make_dirs() {
    # 755 on the top: the postgres user must reach pg/ and its log file below it.
    install -d -m 755 "$STATE" "$LOGS" "$STATE/images" "$STATE/staging" "$STATE/tasks" \
        "$STATE/tmp"
    install -d -m 700 "$ETC" "$ETC/keystone" "$ETC/glance" "$MARKERS" "$STATE/locks" \
        "$STATE/keys" "$STATE/keys/fernet" "$STATE/keys/credential"
}

# load_secrets [NAME...]: the core's passwords, and those named, from secrets.env. A name missing
# there is added: it belongs to a service set up after the file was written (nova's), whose
# accounts do not exist yet.
load_secrets() {
    local file=$STATE/secrets.env name
    if [[ ! -f $file ]]; then
        # New passwords would not match a database set up with the old ones.
        [[ -z $(ls -A "$MARKERS") ]] ||
            die "$file is missing but $STATE is already set up; run stop, delete $STATE, start"
        (
            umask 077
            for name in PG_PASSWORD ADMIN_PASSWORD GLANCE_PASSWORD DEMO_PASSWORD; do
                printf '%s=%s\n' "$name" "$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
            done >"$file.tmp"
        )
        mv "$file.tmp" "$file"
    fi
    for name in "$@"; do
        grep -q "^$name=" "$file" ||
            printf '%s=%s\n' "$name" "$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" >>"$file"
    done
    # shellcheck source=/dev/null
    source "$file"
}

# venv_path REQUIREMENTS PREFIX
venv_path() {
    local key
    key=$({
        cat "$1"
        "$PYTHON" -c 'import platform; print(platform.python_implementation(), platform.python_version())'
    } | sha256sum)
    printf '%s/%s-%s' "$CACHE" "$2" "${key:0:16}"
}

# build_venv REQUIREMENTS VENV: built under a temporary name and renamed, so an interrupted build
# is never mistaken for a finished venv. Tools are always run as `$VENV/bin/python -m ...`:
# console scripts would carry the temporary path in their shebang.
build_venv() {
    local req=$1 venv=$2
    mkdir -p "$CACHE"
    find "$CACHE" -maxdepth 1 -name "${venv##*/}"'.partial.*' -mmin +120 -exec rm -rf {} +
    BUILD_TMP=$(mktemp -d "$venv.partial.XXXXXX")
    "$PYTHON" -m venv "$BUILD_TMP"
    "$BUILD_TMP/bin/python" -m pip install --quiet --no-compile -r "$req"
    # Byte code records its source path: compile it for the final location so tracebacks can
    # show source lines.
    "$BUILD_TMP/bin/python" -m compileall -q -j 0 -s "$BUILD_TMP" -p "$venv" "$BUILD_TMP/lib"
    # Another checkout may have finished the same venv meanwhile; then use theirs.
    mv -T "$BUILD_TMP" "$venv" || [[ -d $venv ]]
    BUILD_TMP=
}

lock() {
    exec 9>"$STATE/devcloud.lock"
    flock -w 600 9 || die "another devcloud.sh still holds $STATE/devcloud.lock"
}
