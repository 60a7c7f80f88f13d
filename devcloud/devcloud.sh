#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# A real Keystone + Glance on loopback, backed by a private PostgreSQL cluster, for demos and
# integration tests, and on demand a real Nova or Cinder beside them:
#   bash devcloud/devcloud.sh start|stop|status [nova|cinder] | restart keystone|glance [SECONDS]
#
# `start nova` adds RabbitMQ, Placement, Neutron (ML2, no agents) and Nova with its fake virt
# driver (nova.sh); `start cinder` RabbitMQ and Cinder with its fake volume driver (cinder.sh);
# `stop nova` or `stop cinder` stops those alone (RabbitMQ with the last of them), `stop`
# everything.
#
# State lives in <repo>/.devcloud (delete it, after `stop`, to start from scratch). The services'
# venvs live in the user cache, keyed by devcloud/requirements*.txt and the Python version, so
# every checkout shares them and a warm start never runs pip.
#
# Environment: DEVCLOUD_PG_PORT (55432), DEVCLOUD_KEYSTONE_PORT (5000), DEVCLOUD_GLANCE_PORT
# (9292), DEVCLOUD_GLANCE_WORKERS (the number of cores), DEVCLOUD_TOKEN_EXPIRATION (3600 s),
# DEVCLOUD_PYTHON (python3), DEVCLOUD_READY_TIMEOUT (60 s), XDG_CACHE_HOME; for nova:
# DEVCLOUD_RABBIT_PORT (55672), DEVCLOUD_PLACEMENT_PORT (8778), DEVCLOUD_NEUTRON_PORT (9696),
# DEVCLOUD_NOVA_PORT (8774); for cinder: DEVCLOUD_RABBIT_PORT, DEVCLOUD_CINDER_PORT (8776).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
source "$here/processes.sh"
source "$here/postgres.sh"
source "$here/keystone.sh"
source "$here/glance.sh"
source "$here/rabbitmq.sh"
source "$here/placement.sh"
source "$here/neutron.sh"
source "$here/nova.sh"
source "$here/cinder.sh"

ensure_packages() {
    local missing=()
    [[ -x $PG_BIN/initdb ]] || missing+=(postgresql-15)
    command -v qemu-img >/dev/null || missing+=(qemu-utils)
    apt_install "${missing[@]}"
}

# After the services a failed `start nova` or `start cinder` launched (lib.sh, on_exit): what
# they leave running.
rollback_hook() {
    [[ -z ${LAUNCHED[rabbitmq]:-} ]] || env "${RABBIT_ENV[@]}" epmd -kill >/dev/null 2>&1 || true
    ((!PG_LAUNCHED)) || pg_stop
}

# The core: PostgreSQL, Keystone and Glance. Expects the lock held and the secrets loaded.
start_core() {
    local t0
    t0=$(usec)
    VENV=$(venv_path "$DC/requirements.txt" devcloud-venv)
    [[ -d $VENV ]] || step "built services venv $VENV" build_venv "$DC/requirements.txt" "$VENV"
    pg_up
    once pg_databases 1 create_databases keystone glance
    write_keystone_conf
    write_glance_conf
    setup_keystone
    once glance_db_sync "$VENV" glance_manage db_sync
    # Glance does not need Keystone until the first authenticated request: boot both at once.
    start_keystone
    start_glance
    wait_keystone
    once register "$GLANCE_URL" register
    wait_glance
    write_client_confs
    say "ready in $(since "$t0"); for clients: source $STATE/env"
}

cmd_start() {
    ensure_packages
    make_dirs
    lock
    if [[ $1 == nova ]]; then
        ensure_nova_packages
        ROLLBACK=1
        load_secrets "${NOVA_SECRETS[@]}"
        start_core
        start_nova
    elif [[ $1 == cinder ]]; then
        ensure_nova_packages
        ROLLBACK=1
        load_secrets "${CINDER_SECRETS[@]}"
        start_core
        start_cinder
    else
        load_secrets
        start_core
    fi
}

cmd_stop() {
    local stopped=0
    [[ -d $STATE ]] || {
        say "nothing to stop"
        return 0
    }
    lock
    if [[ $1 == nova ]]; then
        ! stop_nova_beside_cinder || stopped=1
    elif [[ $1 == cinder ]]; then
        ! stop_cinder || stopped=1
    else
        ! stop_cinder || stopped=1
        ! stop_nova || stopped=1
        ! stop_named glance keystone || stopped=1
        ! pg_stop || stopped=1
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
    VENV=$(venv_path "$DC/requirements.txt" devcloud-venv)
    t0=$(usec)
    write_keystone_conf
    write_glance_conf
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
    "start_$name"
    "wait_$name"
    say "$name restarted in $(since "$t0")"
}

cmd_status() {
    local rc=0
    pg_status || rc=3
    status_keystone || rc=3
    status_glance || rc=3
    # Nova is started on demand: it counts only when asked for, or once set up.
    if [[ $1 == nova ]]; then
        status_nova || rc=3
    elif nova_set_up; then
        status_nova || true
    fi
    if [[ $1 == cinder ]]; then
        status_cinder || rc=3
    elif cinder_set_up; then
        status_cinder || true
    fi
    [[ ! -f $STATE/env ]] || say "clients: source $STATE/env"
    return "$rc"
}

case ${1:-}:${2:-} in
start: | start:nova | start:cinder) cmd_start "${2:-}" ;;
stop: | stop:nova | stop:cinder) cmd_stop "${2:-}" ;;
status: | status:nova | status:cinder) cmd_status "${2:-}" ;;
restart:*) cmd_restart "${2:-}" "${3:-0}" ;;
*)
    echo "usage: $0 start|stop|status [nova|cinder]" \
        "| restart keystone|glance [SECONDS of 503 first]" >&2
    exit 2
    ;;
esac
