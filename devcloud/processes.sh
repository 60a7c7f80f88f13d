# Detached services of devcloud.sh: finding them by pid, launching gunicorn masters and plain
# daemons, waiting until they answer, stopping them and their status lines.
# shellcheck shell=bash

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

