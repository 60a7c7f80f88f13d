# Common helpers of devcloud.sh: logging, one-time steps, cached venvs and detached services.
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

pidfile() { printf '%s/%s.pid' "$STATE" "$1"; }

alive() {
    local stat
    # A dead child of this shell stays a zombie until reaped, and kill -0 still succeeds on it.
    read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]]
}

# Each process tags itself with its service and this checkout: gunicorn's --name shows in the
# command line both before and after gunicorn retitles the process ("gunicorn: master [<name>]");
# other daemons carry it in their environment as DEVCLOUD_PROC, or, if they retitle themselves
# (setproctitle overwrites the environment the kernel shows), keep their arguments, which name
# their log file <logs>/<service>.log.
proc_name() { printf 'devcloud-%s@%s' "$1" "$STATE"; }

# Prints the PID of the named service if it runs; a stale pid file, or a PID since reused by
# another program, does not count.
svc_pid() {
    local file pid cmdline tag
    file=$(pidfile "$1")
    tag=$(proc_name "$1")
    [[ -f $file ]] || return 1
    pid=$(<"$file")
    [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" || return 1
    cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
    if [[ $cmdline != *" $tag "* && $cmdline != *"[$tag]"* && $cmdline != *" $LOGS/$1.log"* ]]
    then
        tr '\0' '\n' 2>/dev/null <"/proc/$pid/environ" | grep -qxF "DEVCLOUD_PROC=$tag" ||
            return 1
    fi
    printf '%s' "$pid"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The worker of a master killed with SIGKILL keeps the listening socket until it notices its
# parent is gone (about a second), so give a taken port a moment before calling it foreign.
wait_port_free() {
    local i
    for ((i = 0; i < 100; i++)); do
        port_in_use "$1" || return 0
        sleep 0.1
    done
    return 1
}

http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" || true; }

launched() {
    PIDS[$1]=$2
    LAUNCHED[$1]=$(usec)
    LAUNCH_ORDER+=("$1")
}

# start_service NAME URL WORKERS THREADS TIMEOUT APP [KEEPALIVE [VENV]]: launches a detached
# gunicorn master unless one runs; KEEPALIVE (seconds, default gunicorn's 2) 0 closes every
# connection after its response. Every service finds its config through its own OS_*_CONFIG_DIR.
start_service() {
    local name=$1 url=$2 workers=$3 threads=$4 timeout=$5 app=$6 keepalive=${7:-2}
    local venv=${8:-$VENV} pid
    if pid=$(svc_pid "$name"); then
        PIDS[$name]=$pid
        return 0
    fi
    rm -f "$(pidfile "$name")"
    wait_port_free "${url##*:}" ||
        die "$url is taken by a process this devcloud did not start; stop that first"
    # fd 9 holds the start/stop lock; the daemon must not keep it.
    TMPDIR=$STATE/tmp PYTHONDONTWRITEBYTECODE=1 \
        OS_KEYSTONE_CONFIG_DIR=$ETC/keystone OS_GLANCE_CONFIG_DIR=$ETC/glance \
        OS_PLACEMENT_CONFIG_DIR=$ETC/placement OS_NOVA_CONFIG_DIR=$ETC/nova \
        OS_NEUTRON_CONFIG_DIR=$ETC/neutron \
        setsid "$venv/bin/python" -m gunicorn --bind "${url#http://}" \
        --workers "$workers" --worker-class gthread --threads "$threads" --timeout "$timeout" \
        --keep-alive "$keepalive" \
        --no-control-socket --name "$(proc_name "$name")" --pid "$(pidfile "$name")" \
        --worker-tmp-dir "$STATE/tmp" --chdir "$STATE" --pythonpath "$DC" \
        --access-logfile "$LOGS/$name-access.log" \
        "$app" >>"$LOGS/$name-gunicorn.log" 2>&1 </dev/null 9>&- &
    launched "$name" $!
}

# start_daemon NAME COMMAND...: launches a detached process (its own session, so stop_service
# reaches its children too) unless one runs; its output goes to NAME-console.log.
start_daemon() {
    local name=$1 pid
    shift
    if pid=$(svc_pid "$name"); then
        PIDS[$name]=$pid
        return 0
    fi
    DEVCLOUD_PROC=$(proc_name "$name") TMPDIR=$STATE/tmp PYTHONDONTWRITEBYTECODE=1 \
        setsid "$@" >>"$LOGS/$name-console.log" 2>&1 </dev/null 9>&- &
    printf '%s\n' $! >"$(pidfile "$name")"
    launched "$name" $!
    # Stopped by a kill, never waited for: no "Killed" notice from bash.
    disown $!
}

# wait_for NAME WHERE WHAT APP_LOG CHECK...: polls until CHECK succeeds; on failure shows the logs
# and stops a process this run launched (a Keystone that cannot boot respawns its worker forever).
wait_for() {
    local name=$1 where=$2 what=$3 app_log=$4 pid=${PIDS[$1]} deadline problem=
    shift 4
    deadline=$(($(usec) + READY_TIMEOUT * 1000000))
    until "$@"; do
        if ! alive "$pid"; then
            problem="exited"
        elif (($(usec) > deadline)); then
            problem="did not $what within ${READY_TIMEOUT}s"
        fi
        if [[ -n $problem ]]; then
            tail_log "$LOGS/$name-gunicorn.log"
            tail_log "$LOGS/$name-console.log"
            tail_log "$app_log"
            if [[ -n ${LAUNCHED[$name]:-} ]] && alive "$pid"; then
                stop_service "$name" "$pid"
            fi
            die "$name (pid $pid) $problem; logs above"
        fi
        sleep 0.1
    done
    if [[ -n ${LAUNCHED[$name]:-} ]]; then
        say "$name up$where, pid $pid ($(since "${LAUNCHED[$name]}"))"
    else
        say "$name already running$where, pid $pid"
    fi
}

answers() { [[ $(http_code "$1") == "$2" ]]; }

# wait_ready NAME URL CODE APP_LOG: until URL answers HTTP CODE.
wait_ready() { wait_for "$1" " on $2" "answer $2 with HTTP $3" "$4" answers "$2" "$3"; }

# stop_service NAME PID: SIGTERM lets gunicorn finish requests in flight and RabbitMQ shut down
# cleanly; KILL (of the whole session) after 30 s. Services named in KILL_ON_STOP are killed at
# once: they keep no state a kill could lose, and Nova's daemons drain their RPC servers for 10 s
# or more on SIGTERM.
KILL_ON_STOP=" "
stop_service() {
    local name=$1 pid=$2 i
    if [[ $KILL_ON_STOP == *" $name "* ]]; then
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    else
        kill -TERM "$pid" 2>/dev/null || true
    fi
    for ((i = 0; i < 300; i++)); do
        alive "$pid" || break
        sleep 0.1
    done
    if alive "$pid"; then
        say "$name (pid $pid) ignored SIGTERM for 30 s; killing it"
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$(pidfile "$name")"
    say "stopped $name (pid $pid)"
}

# stop_named NAME...: stops those of the services that run; fails if none did.
stop_named() {
    local name pid stopped=1
    for name in "$@"; do
        if pid=$(svc_pid "$name"); then
            stop_service "$name" "$pid"
            stopped=0
        fi
        rm -f "$(pidfile "$name")"
    done
    return "$stopped"
}

# status_of NAME URL CODE: one status line; fails unless the service runs and answers.
status_of() {
    local name=$1 url=$2 code=$3 pid
    if ! pid=$(svc_pid "$name"); then
        say "$name: stopped"
        return 3
    elif [[ -z $url ]]; then
        say "$name: running, pid $pid"
    elif [[ $(http_code "$url") == "$code" ]]; then
        say "$name: running on $url, pid $pid"
    else
        say "$name: pid $pid runs but $url does not answer HTTP $code"
        return 3
    fi
}

lock() {
    exec 9>"$STATE/devcloud.lock"
    flock -w 600 9 || die "another devcloud.sh still holds $STATE/devcloud.lock"
}
