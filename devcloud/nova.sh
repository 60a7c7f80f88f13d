# Nova on demand (`devcloud.sh start nova`): nova-api under gunicorn, conductor, scheduler and a
# nova-compute with Nova's fake virt driver, beside RabbitMQ, Placement and Neutron, all in one
# cached venv keyed by requirements-nova.txt.
# shellcheck shell=bash

NOVA_URL=http://127.0.0.1:${DEVCLOUD_NOVA_PORT:-8774}
NOVA_HOST=devcloud
NOVA_VENV=
NOVA_SECRETS=(RABBIT_PASSWORD PLACEMENT_PASSWORD NEUTRON_PASSWORD NOVA_PASSWORD)
NOVA_DAEMONS=(nova-conductor nova-scheduler nova-compute)
# Newest first, the order they stop in; RabbitMQ last (stop_rabbitmq).
NOVA_PARTS=(nova-compute nova-scheduler nova-conductor nova-api neutron placement)
KILL_ON_STOP+="${NOVA_DAEMONS[*]} "

ensure_nova_packages() { [[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]] || install_rabbitmq; }

nova_set_up() { [[ -f $MARKERS/nova_db_sync ]]; }

# Settings of every Nova process. nova-compute gets these alone: it refuses to start with
# database credentials ("No DB access allowed in nova-compute").
nova_common_conf() {
    local section
    cat <<EOC
[DEFAULT]
host = $NOVA_HOST
my_ip = 127.0.0.1
state_path = $STATE/nova
transport_url = $(rabbit_url)
# fake.FakeDriver names its node with a new UUID per process, and Nova then refuses to restart
# ("No local node identity found, but this is not our first startup"); this one keeps the
# node's compute_id in state_path.
compute_driver = fake.FakeDriverWithoutFakeNodes
enabled_apis = osapi_compute

[api]
auth_strategy = keystone

$(keystone_authtoken nova "$NOVA_PASSWORD")

# One process each; by default they fork a worker per core.
[conductor]
workers = 1

[scheduler]
workers = 1
# One discover_hosts after the first compute registers (start_nova) instead of a periodic one.
discover_hosts_in_cells_interval = -1

[vnc]
enabled = false

[oslo_messaging_notifications]
driver = noop

# Retry a broker still booting every second (the default backs off: 1, 3, 5 s...).
[oslo_messaging_rabbit]
rabbit_retry_interval = 1
rabbit_retry_backoff = 0

[oslo_concurrency]
lock_path = $STATE/locks
EOC
    # Nova as a client of the other services, which it finds in the catalog (public interface:
    # the devcloud registers loopback URLs only). [service_user] sends Nova's own token beside
    # the user's, so calls made on a user's behalf survive that token expiring mid-build.
    for section in service_user placement neutron glance; do
        printf '\n[%s]\n' "$section"
        case $section in
        service_user) echo "send_service_user_token = true" ;;
        neutron) echo "endpoint_override = $NEUTRON_URL" ;;
        esac
        [[ $section == glance ]] || cat <<EOC
auth_type = password
auth_url = $KEYSTONE_URL
project_domain_name = Default
user_domain_name = Default
project_name = service
username = nova
password = $NOVA_PASSWORD
EOC
        printf 'region_name = %s\nvalid_interfaces = public\n' "$REGION"
    done
}

write_nova_conf() {
    install -d -m 700 "$ETC/nova"
    install -d -m 755 "$STATE/nova"
    # nova-api reads its pipeline from the first file it loads, api-paste.ini in OS_NOVA_CONFIG_DIR.
    cp "$NOVA_VENV/etc/nova/api-paste.ini" "$ETC/nova/"
    nova_common_conf >"$ETC/nova/nova-compute.conf"
    {
        nova_common_conf
        cat <<EOC

[api_database]
connection = $(db_url nova_api)
$DB_POOL

[database]
connection = $(db_url nova)
$DB_POOL
EOC
    } >"$ETC/nova/nova.conf"
}

nova_manage() {
    "$NOVA_VENV/bin/python" -c 'import sys; from nova.cmd.manage import main; sys.exit(main())' \
        --config-file "$ETC/nova/nova.conf" "$@"
}

# The cells' URLs are templates Nova fills in from its own config, so the mappings follow the
# ports and passwords of later starts and hold no password themselves.
setup_nova_cells() {
    local url='{scheme}://{username}:{password}@{hostname}:{port}'
    nova_manage cell_v2 map_cell0 --database_connection "$url/nova_cell0"
    nova_manage cell_v2 create_cell --name cell1 --transport-url "$url/{path}" \
        --database_connection "$url/{path}"
}

register_nova() {
    DEVCLOUD_ADMIN_PASSWORD=$ADMIN_PASSWORD DEVCLOUD_NOVA_PASSWORD=$NOVA_PASSWORD \
        DEVCLOUD_PLACEMENT_PASSWORD=$PLACEMENT_PASSWORD \
        DEVCLOUD_NEUTRON_PASSWORD=$NEUTRON_PASSWORD \
        PYTHONDONTWRITEBYTECODE=1 "$VENV/bin/python" "$DC/register_nova.py" "$1" \
        --auth-url "$KEYSTONE_URL/v3" --region "$REGION" --compute-url "$NOVA_URL/v2.1" \
        --placement-url "$PLACEMENT_URL" --network-url "$NEUTRON_URL"
}

# start_nova_daemon NAME CONFIG: nova-NAME as a plain process.
start_nova_daemon() {
    start_daemon "nova-$1" "$NOVA_VENV/bin/python" -c \
        "import sys; from nova.cmd.$1 import main; sys.exit(main())" \
        --config-file "$ETC/nova/$2" --log-file "$LOGS/nova-$1.log"
}

consumed() {
    DEVCLOUD_RABBIT_URL=$(rabbit_url | sed 's/^rabbit:/amqp:/') \
        "$NOVA_VENV/bin/python" "$DC/amqp_consumed.py" "$@"
}

# The scheduler counts a compute whose last heartbeat is older than service_down_time (60 s) as
# down, and nova-compute sends its first one 5 s after it starts: after a longer stop, builds
# would fail with NoValidHost until then.
compute_heard_from() {
    [[ $(psql_admin -d nova -tA -c "SELECT count(*) FROM services WHERE deleted = 0
        AND host = '$NOVA_HOST' AND \"binary\" = 'nova-compute'
        AND coalesce(updated_at, created_at) > now() AT TIME ZONE 'UTC' - interval '50 s'") == 1 ]]
}

compute_ready() { consumed "compute.$NOVA_HOST" && compute_heard_from; }

# wait_nova_daemon NAME WHAT CHECK...
wait_nova_daemon() {
    local name=$1 what=$2
    shift 2
    wait_for "$name" "" "$what" "$LOGS/$name.log" "$@"
}

# Expects the core up, the lock held and the secrets loaded.
start_nova() {
    local t0
    t0=$(usec)
    NOVA_VENV=$(venv_path "$DC/requirements-nova.txt" devcloud-nova-venv)
    [[ -d $NOVA_VENV ]] ||
        step "built nova venv $NOVA_VENV" build_venv "$DC/requirements-nova.txt" "$NOVA_VENV"
    once nova_databases 1 create_databases placement nova_api nova_cell0 nova neutron
    write_rabbitmq_conf
    write_placement_conf
    write_neutron_conf
    write_nova_conf
    once register_nova "$NOVA_URL $PLACEMENT_URL $NEUTRON_URL" register_nova identity
    once placement_db_sync "$NOVA_VENV" placement_manage db sync
    once neutron_db_mysql_only 1 skip_mysql_only_migration
    once neutron_db_sync "$NOVA_VENV" neutron_db_manage upgrade heads
    once nova_api_db_sync "$NOVA_VENV" nova_manage api_db sync
    once nova_cells 1 setup_nova_cells
    once nova_db_sync "$NOVA_VENV" nova_manage db sync
    # All at once: the Python services spend seconds importing while RabbitMQ boots, then
    # connect to it. Only nova-compute waits (for the conductor).
    start_rabbitmq
    start_placement
    start_neutron
    start_service nova-api "$NOVA_URL" 1 4 120 'argv_wsgi:app("nova.wsgi.osapi_compute")' 2 \
        "$NOVA_VENV"
    start_nova_daemon conductor nova.conf
    start_nova_daemon scheduler nova.conf
    wait_rabbitmq
    wait_nova_daemon nova-conductor "consume its queue" consumed conductor
    start_nova_daemon compute nova-compute.conf
    wait_placement
    wait_neutron
    wait_ready nova-api "$NOVA_URL/" 200 "$LOGS/nova-api-gunicorn.log"
    wait_nova_daemon nova-scheduler "consume its queue" consumed scheduler
    wait_nova_daemon nova-compute "consume its queue and report to the database" compute_ready
    once nova_discover_hosts "$NOVA_HOST" nova_manage cell_v2 discover_hosts
    once nova_flavor "$NOVA_URL" register_nova flavor
    say "nova ready in $(since "$t0"); compute API $NOVA_URL/v2.1"
}

# Fails if nothing ran.
stop_nova() {
    local stopped=1
    ! stop_named "${NOVA_PARTS[@]}" || stopped=0
    ! stop_rabbitmq || stopped=0
    return "$stopped"
}

status_nova() {
    local rc=0 name
    status_rabbitmq || rc=3
    status_placement || rc=3
    status_neutron || rc=3
    status_of nova-api "$NOVA_URL/" 200 || rc=3
    for name in "${NOVA_DAEMONS[@]}"; do
        status_of "$name" "" "" || rc=3
    done
    return "$rc"
}
