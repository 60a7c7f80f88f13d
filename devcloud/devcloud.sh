#!/usr/bin/env bash
# A real Keystone + Glance on loopback, backed by a private PostgreSQL cluster, for demos and
# integration tests:   bash devcloud/devcloud.sh start|stop|status|restart keystone|glance [SECONDS]
#
# State lives in <repo>/.devcloud (delete it, after `stop`, to start from scratch). The services'
# venv lives in the user cache, keyed by devcloud/requirements.txt and the Python version, so
# every checkout shares it and a warm start never runs pip.
#
# Environment: DEVCLOUD_PG_PORT (55432), DEVCLOUD_KEYSTONE_PORT (5000), DEVCLOUD_GLANCE_PORT
# (9292), DEVCLOUD_GLANCE_WORKERS (the number of cores), DEVCLOUD_TOKEN_EXPIRATION (3600 s),
# DEVCLOUD_PYTHON (python3),
# DEVCLOUD_READY_TIMEOUT (60 s), XDG_CACHE_HOME.
set -euo pipefail

DC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$DC")
STATE=$REPO/.devcloud
LOGS=$STATE/logs
ETC=$STATE/etc
MARKERS=$STATE/markers
SETUP_LOG=$LOGS/setup.log
PGROOT=$STATE/pg
PGDATA=$PGROOT/data
PGSOCK=$PGROOT/socket
PG_BIN=/usr/lib/postgresql/15/bin
PG_PORT=${DEVCLOUD_PG_PORT:-55432}
KEYSTONE_URL=http://127.0.0.1:${DEVCLOUD_KEYSTONE_PORT:-5000}
GLANCE_URL=http://127.0.0.1:${DEVCLOUD_GLANCE_PORT:-9292}
REGION=RegionOne
PYTHON=${DEVCLOUD_PYTHON:-python3}
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/community-images
READY_TIMEOUT=${DEVCLOUD_READY_TIMEOUT:-60}
# A site's Glance runs several API workers; hashing an upload takes a core, so one worker would
# make concurrent uploads queue behind each other.
GLANCE_WORKERS=${DEVCLOUD_GLANCE_WORKERS:-$(nproc)}
# Seconds a Keystone token lives (Keystone's default); short ones are for the fault tests.
TOKEN_EXPIRATION=${DEVCLOUD_TOKEN_EXPIRATION:-3600}

VENV=
BUILD_TMP=
CURRENT_STEP=
FAIL_LOG=
declare -A PIDS=() LAUNCHED=()

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
    local rc=$?
    [[ -z $BUILD_TMP ]] || rm -rf "$BUILD_TMP"
    if ((rc)) && [[ -n $CURRENT_STEP ]]; then
        printf 'devcloud: ERROR: step "%s" failed (exit %d)\n' "$CURRENT_STEP" "$rc" >&2
        tail_log "$SETUP_LOG"
        [[ -z $FAIL_LOG ]] || tail_log "$FAIL_LOG"
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

ensure_packages() {
    local missing=()
    [[ -x $PG_BIN/initdb ]] || missing+=(postgresql-15)
    command -v qemu-img >/dev/null || missing+=(qemu-utils)
    ((${#missing[@]})) || return 0
    say "installing Debian packages: ${missing[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
}

make_dirs() {
    # 755 on the top: the postgres user must reach pg/ and its log file below it.
    install -d -m 755 "$STATE" "$LOGS" "$STATE/images" "$STATE/staging" "$STATE/tasks" \
        "$STATE/tmp"
    install -d -m 700 "$ETC" "$ETC/keystone" "$ETC/glance" "$MARKERS" "$STATE/locks" \
        "$STATE/keys" "$STATE/keys/fernet" "$STATE/keys/credential"
}

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
    # shellcheck source=/dev/null
    source "$file"
}

venv_path() {
    local key
    key=$({
        cat "$DC/requirements.txt"
        "$PYTHON" -c 'import platform; print(platform.python_implementation(), platform.python_version())'
    } | sha256sum)
    printf '%s/devcloud-venv-%s' "$CACHE" "${key:0:16}"
}

# Built under a temporary name and renamed, so an interrupted build is never mistaken for a
# finished venv. Tools are always run as `$VENV/bin/python -m ...`: console scripts would carry the
# temporary path in their shebang.
build_venv() {
    mkdir -p "$CACHE"
    find "$CACHE" -maxdepth 1 -name 'devcloud-venv-*.partial.*' -mmin +120 -exec rm -rf {} +
    BUILD_TMP=$(mktemp -d "$VENV.partial.XXXXXX")
    "$PYTHON" -m venv "$BUILD_TMP"
    "$BUILD_TMP/bin/python" -m pip install --quiet --no-compile -r "$DC/requirements.txt"
    # Byte code records its source path: compile it for the final location so tracebacks can
    # show source lines.
    "$BUILD_TMP/bin/python" -m compileall -q -j 0 -s "$BUILD_TMP" -p "$VENV" "$BUILD_TMP/lib"
    # Another checkout may have finished the same venv meanwhile; then use theirs.
    mv -T "$BUILD_TMP" "$VENV" || [[ -d $VENV ]]
}

as_postgres() { (cd / && exec runuser -u postgres -- "$@") 9>&-; }
pg_running() {
    [[ -f $PGDATA/postmaster.pid ]] &&
        as_postgres "$PG_BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1
}

init_pg() {
    rm -rf "$PGROOT"
    install -d -o postgres -g postgres -m 700 "$PGROOT" "$PGSOCK"
    as_postgres "$PG_BIN/initdb" -D "$PGDATA" -U postgres --auth-local=peer \
        --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 --no-instructions
    # Settings that follow the environment (the port) are rewritten on every start.
    echo "include = 'devcloud.conf'" >>"$PGDATA/postgresql.conf"
}

write_pg_conf() {
    cat >"$PGDATA/devcloud.conf" <<EOF
# Written by devcloud.sh on every start.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PGSOCK'
# A crash may lose the last commits of a throwaway dev database, never corrupt it.
synchronous_commit = off
EOF
    chown postgres:postgres "$PGDATA/devcloud.conf"
}

start_pg() {
    FAIL_LOG=$LOGS/postgresql.log
    touch "$FAIL_LOG"
    chown postgres:postgres "$FAIL_LOG"
    as_postgres "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$FAIL_LOG" -w -t "$READY_TIMEOUT" start
}

create_databases() {
    as_postgres "$PG_BIN/psql" -h "$PGSOCK" -p "$PG_PORT" -U postgres -d postgres \
        -v ON_ERROR_STOP=1 -q -v pw="$PG_PASSWORD" <<'SQL'
SELECT 'CREATE ROLE devcloud LOGIN'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'devcloud')\gexec
ALTER ROLE devcloud PASSWORD :'pw';
SELECT format('CREATE DATABASE %I OWNER devcloud', db) FROM unnest(ARRAY['keystone', 'glance']) db
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = db)\gexec
SQL
}

db_url() { printf 'postgresql+psycopg2://devcloud:%s@127.0.0.1:%s/%s' "$PG_PASSWORD" "$PG_PORT" "$1"; }

write_service_confs() {
    cat >"$ETC/keystone/keystone.conf" <<EOF
# Written by devcloud.sh on every start.
[DEFAULT]
log_file = $LOGS/keystone.log

[database]
connection = $(db_url keystone)

[identity]
# bcrypt's default 12 rounds cost ~0.4 s per password login; tests log in often.
password_hash_rounds = 4

[token]
provider = fernet
expiration = $TOKEN_EXPIRATION

# Production Keystones cache (memcached). Uncached, a login plus Glance's check of the new
# token cost Keystone 0.19 CPU-s here, cached 0.03-0.06 s. Keystone runs one worker process
# (start_service below), so an in-process cache stays coherent, revocations included.
[cache]
enabled = true
backend = dogpile.cache.memory

[fernet_tokens]
key_repository = $STATE/keys/fernet

# fernet_setup initialises this repository too; its default is /etc/keystone/fernet-keys.
[fernet_receipts]
key_repository = $STATE/keys/fernet

[credential]
key_repository = $STATE/keys/credential
EOF
    cat >"$ETC/glance/glance-api.conf" <<EOF
# Written by devcloud.sh on every start.
[DEFAULT]
log_file = $LOGS/glance-api.log
enabled_backends = fs:file

[database]
connection = $(db_url glance)

[glance_store]
default_backend = fs

[fs]
filesystem_store_datadir = $STATE/images/
# The default 64 KiB chunk makes uploads ~1.5x slower.
filesystem_store_chunk_size = 1048576

# Reserved stores of interoperable import (glance-direct, web-download). A web-download is
# written here first, then copied to the store (two writes): 1 MiB chunks here too.
[os_glance_staging_store]
filesystem_store_datadir = $STATE/staging/
filesystem_store_chunk_size = 1048576

[os_glance_tasks_store]
filesystem_store_datadir = $STATE/tasks/

[import_filtering_opts]
# web-download only fetches from ports 80/443 by default; tests serve from loopback ports.
allowed_ports = []
# Glance 33 also refuses loopback and link-local addresses unless the host is whitelisted here
# (an SSRF guard). A whitelist admits nothing else: web-download fetches from this machine only,
# and by IP ("localhost" does not pass).
allowed_hosts = [127.0.0.1, ::1]

# An import runs in a thread pool of the API worker that received its request (glance/api/v2/
# images.py, import_image), [wsgi] task_pool_threads at a time, each task's flow on a parallel
# taskflow engine: Glance's defaults, written out because a pool of 1 or a serial engine would
# run imports one after another. What spreads them over the workers is the connection: Glance
# runs with keep-alive off (start_service ... 0), as behind a load balancer, so one client's
# imports do not all land on the worker its kept-alive connection reached.
[wsgi]
task_pool_threads = 16

[taskflow_executor]
engine_mode = parallel
max_workers = 10

[keystone_authtoken]
www_authenticate_uri = $KEYSTONE_URL
auth_url = $KEYSTONE_URL
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = glance
password = $GLANCE_PASSWORD

[paste_deploy]
flavor = keystone
config_file = $VENV/etc/glance/glance-api-paste.ini

[oslo_concurrency]
lock_path = $STATE/locks
EOF
}

write_client_confs() {
    local cloud user project password
    (
        umask 077
        echo "clouds:" >"$STATE/clouds.yaml.tmp"
        for cloud in devcloud devcloud-demo; do
            if [[ $cloud == devcloud ]]; then
                user=admin project=admin password=$ADMIN_PASSWORD
            else
                user=demo project=demo password=$DEMO_PASSWORD
            fi
            cat <<EOF
  $cloud:
    auth:
      auth_url: $KEYSTONE_URL/v3
      username: $user
      password: $password
      project_name: $project
      user_domain_name: Default
      project_domain_name: Default
    region_name: $REGION
    identity_api_version: 3
    interface: public
EOF
        done >>"$STATE/clouds.yaml.tmp"
    )
    mv "$STATE/clouds.yaml.tmp" "$STATE/clouds.yaml"
    printf 'export OS_CLIENT_CONFIG_FILE=%q\nexport OS_CLOUD=devcloud\n' \
        "$STATE/clouds.yaml" >"$STATE/env"
}

keystone_manage() {
    # keystone-manage logs its errors only to keystone.log (glance-manage also to stderr).
    FAIL_LOG=$LOGS/keystone.log
    "$VENV/bin/python" -c 'import sys; from keystone.cmd.manage import main; sys.exit(main())' \
        --config-file "$ETC/keystone/keystone.conf" "$@"
}

glance_manage() {
    "$VENV/bin/python" -c 'import sys; from glance.cmd.manage import main; sys.exit(main())' \
        --config-file "$ETC/glance/glance-api.conf" "$@"
}

setup_keystone_keys() {
    keystone_manage fernet_setup --keystone-user root --keystone-group root
    keystone_manage credential_setup --keystone-user root --keystone-group root
    # Keystone warns on every request about a world-readable key repository.
    chmod 700 "$STATE/keys/fernet" "$STATE/keys/credential"
}

bootstrap_keystone() {
    keystone_manage bootstrap --bootstrap-password "$ADMIN_PASSWORD" \
        --bootstrap-admin-url "$KEYSTONE_URL/v3" --bootstrap-internal-url "$KEYSTONE_URL/v3" \
        --bootstrap-public-url "$KEYSTONE_URL/v3" --bootstrap-region-id "$REGION"
}

register() {
    DEVCLOUD_ADMIN_PASSWORD=$ADMIN_PASSWORD DEVCLOUD_GLANCE_PASSWORD=$GLANCE_PASSWORD \
        DEVCLOUD_DEMO_PASSWORD=$DEMO_PASSWORD PYTHONDONTWRITEBYTECODE=1 \
        "$VENV/bin/python" "$DC/register.py" --auth-url "$KEYSTONE_URL/v3" \
        --glance-url "$GLANCE_URL" --region "$REGION"
}

pidfile() { printf '%s/%s.pid' "$STATE" "$1"; }

alive() {
    local stat
    # A dead child of this shell stays a zombie until reaped, and kill -0 still succeeds on it.
    read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]]
}

# Gunicorn's --name tags each master with its service and this checkout; it shows in the command
# line both before and after gunicorn retitles the process ("gunicorn: master [<name>]").
proc_name() { printf 'devcloud-%s@%s' "$1" "$STATE"; }

# Prints the PID of the named gunicorn master if it runs; a stale pid file, or a PID since
# reused by another program, does not count.
svc_pid() {
    local file pid cmdline tag
    file=$(pidfile "$1")
    tag=$(proc_name "$1")
    [[ -f $file ]] || return 1
    pid=$(<"$file")
    [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" || return 1
    cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
    [[ $cmdline == *" $tag "* || $cmdline == *"[$tag]"* ]] || return 1
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

# start_service NAME URL WORKERS THREADS TIMEOUT APP [KEEPALIVE]: launches a detached gunicorn
# master unless one runs; KEEPALIVE (seconds, default gunicorn's 2) 0 closes every connection
# after its response.
start_service() {
    local name=$1 url=$2 workers=$3 threads=$4 timeout=$5 app=$6 keepalive=${7:-2} pid
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
        setsid "$VENV/bin/python" -m gunicorn --bind "${url#http://}" \
        --workers "$workers" --worker-class gthread --threads "$threads" --timeout "$timeout" \
        --keep-alive "$keepalive" \
        --no-control-socket --name "$(proc_name "$name")" --pid "$(pidfile "$name")" \
        --worker-tmp-dir "$STATE/tmp" --chdir "$STATE" --pythonpath "$DC" \
        --access-logfile "$LOGS/$name-access.log" \
        "$app" >>"$LOGS/$name-gunicorn.log" 2>&1 </dev/null 9>&- &
    PIDS[$name]=$!
    LAUNCHED[$name]=$(usec)
}

# wait_ready NAME URL CODE APP_LOG: polls until URL answers CODE; on failure shows the logs and
# stops a master this run launched (a Keystone that cannot boot respawns its worker forever).
wait_ready() {
    local name=$1 url=$2 code=$3 app_log=$4 pid=${PIDS[$1]} deadline problem=
    deadline=$(($(usec) + READY_TIMEOUT * 1000000))
    until [[ $(http_code "$url") == "$code" ]]; do
        if ! alive "$pid"; then
            problem="exited"
        elif (($(usec) > deadline)); then
            problem="did not answer $url with HTTP $code within ${READY_TIMEOUT}s"
        fi
        if [[ -n $problem ]]; then
            tail_log "$LOGS/$name-gunicorn.log"
            tail_log "$app_log"
            if [[ -n ${LAUNCHED[$name]:-} ]] && alive "$pid"; then
                kill -TERM "$pid"
                wait "$pid" || true
            fi
            die "$name (pid $pid) $problem; logs above"
        fi
        sleep 0.1
    done
    if [[ -n ${LAUNCHED[$name]:-} ]]; then
        say "$name up on $url, pid $pid ($(since "${LAUNCHED[$name]}"))"
    else
        say "$name already running on $url, pid $pid"
    fi
}

# stop_pid NAME PID: SIGTERM lets gunicorn finish requests in flight; KILL after 30 s.
stop_pid() {
    local name=$1 pid=$2 i
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do
        alive "$pid" || break
        sleep 0.1
    done
    if alive "$pid"; then
        say "$name (pid $pid) ignored SIGTERM for 30 s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    say "stopped $name (pid $pid)"
}

lock() {
    exec 9>"$STATE/devcloud.lock"
    flock -w 600 9 || die "another devcloud.sh still holds $STATE/devcloud.lock"
}

cmd_start() {
    local t0 pg_pid
    t0=$(usec)
    ensure_packages
    make_dirs
    lock
    load_secrets
    VENV=$(venv_path)
    [[ -d $VENV ]] || step "built services venv $VENV" build_venv
    once pg_init 1 init_pg
    write_pg_conf
    if pg_running; then
        pg_pid=$(head -n1 "$PGDATA/postmaster.pid")
        say "postgresql already running on 127.0.0.1:$PG_PORT, pid $pg_pid"
    else
        step "postgresql up on 127.0.0.1:$PG_PORT" start_pg
    fi
    once pg_databases 1 create_databases
    write_service_confs
    once keystone_db_sync "$VENV" keystone_manage db_sync
    once keystone_keys 1 setup_keystone_keys
    once keystone_bootstrap "$KEYSTONE_URL" bootstrap_keystone
    once glance_db_sync "$VENV" glance_manage db_sync
    # Glance does not need Keystone until the first authenticated request: boot both at once.
    start_service keystone "$KEYSTONE_URL" 1 4 120 keystone_wsgi:application
    start_service glance "$GLANCE_URL" "$GLANCE_WORKERS" 8 600 glance.wsgi.api:application 0
    wait_ready keystone "$KEYSTONE_URL/v3" 200 "$LOGS/keystone.log"
    once register "$GLANCE_URL" register
    wait_ready glance "$GLANCE_URL/" 300 "$LOGS/glance-api.log"
    write_client_confs
    say "ready in $(since "$t0"); for clients: source $STATE/env"
}

cmd_stop() {
    local name pid stopped=0
    [[ -d $STATE ]] || {
        say "nothing to stop"
        return 0
    }
    lock
    for name in glance keystone; do
        if pid=$(svc_pid "$name"); then
            stop_pid "$name" "$pid"
            stopped=1
        fi
        rm -f "$(pidfile "$name")"
    done
    if pg_running; then
        pid=$(head -n1 "$PGDATA/postmaster.pid")
        as_postgres "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast -w -t 60 stop >/dev/null
        say "stopped postgresql (pid $pid)"
        stopped=1
    fi
    ((stopped)) || say "nothing was running"
}

# restart NAME [SECONDS]: the service killed as a crash or a hard restart would (master and
# workers at once, requests in flight cut), its config written again (so DEVCLOUD_* settings such
# as DEVCLOUD_TOKEN_EXPIRATION apply), then started: for the fault tests. With SECONDS, its
# address answers 503 Service Unavailable for that long first, as a load balancer does.
cmd_restart() {
    local name=$1 unavailable=${2:-0} pid t0 url
    [[ $name == keystone || $name == glance ]] || die "restart keystone|glance, not '$name'"
    url=$KEYSTONE_URL
    [[ $name == keystone ]] || url=$GLANCE_URL
    lock
    load_secrets
    VENV=$(venv_path)
    t0=$(usec)
    write_service_confs
    if pid=$(svc_pid "$name"); then
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid"
        while alive "$pid"; do sleep 0.05; done
        rm -f "$(pidfile "$name")"
        say "killed $name (pid $pid and its workers)"
    fi
    if ((unavailable > 0)); then
        "$VENV/bin/python" "$DC/unavailable.py" "${url##*:}" "$unavailable"
        say "$url answered 503 for ${unavailable}s"
    fi
    if [[ $name == keystone ]]; then
        start_service keystone "$KEYSTONE_URL" 1 4 120 keystone_wsgi:application
        wait_ready keystone "$KEYSTONE_URL/v3" 200 "$LOGS/keystone.log"
    else
        start_service glance "$GLANCE_URL" "$GLANCE_WORKERS" 8 600 glance.wsgi.api:application 0 0
        wait_ready glance "$GLANCE_URL/" 300 "$LOGS/glance-api.log"
    fi
    say "$name restarted in $(since "$t0")"
}

cmd_status() {
    local rc=0 name url code pid
    if pg_running; then
        say "postgresql: running on 127.0.0.1:$PG_PORT, pid $(head -n1 "$PGDATA/postmaster.pid")"
    else
        say "postgresql: stopped"
        rc=3
    fi
    for name in keystone glance; do
        if [[ $name == keystone ]]; then
            url=$KEYSTONE_URL/v3 code=200
        else
            url=$GLANCE_URL/ code=300
        fi
        if ! pid=$(svc_pid "$name"); then
            say "$name: stopped"
            rc=3
        elif [[ $(http_code "$url") == "$code" ]]; then
            say "$name: running on $url, pid $pid"
        else
            say "$name: pid $pid runs but $url does not answer HTTP $code"
            rc=3
        fi
    done
    [[ ! -f $STATE/env ]] || say "clients: source $STATE/env"
    return "$rc"
}

case ${1:-} in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
restart) cmd_restart "${2:-}" "${3:-0}" ;;
*)
    echo "usage: $0 start|stop|status|restart keystone|glance [SECONDS of 503 first]" >&2
    exit 2
    ;;
esac
