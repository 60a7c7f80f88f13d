# Cinder on demand (`devcloud.sh start cinder`): cinder-api under gunicorn, cinder-scheduler and a
# cinder-volume with Cinder's fake LVM driver keeping its volumes as files under .devcloud, beside
# RabbitMQ (shared with Nova), in its own cached venv keyed by requirements-cinder.txt. Nova is
# not needed.
# shellcheck shell=bash

CINDER_URL=http://127.0.0.1:${DEVCLOUD_CINDER_PORT:-8776}
CINDER_HOST=devcloud
CINDER_BACKEND=fake
CINDER_VENV=
CINDER_SECRETS=(RABBIT_PASSWORD CINDER_PASSWORD)
CINDER_DAEMONS=(cinder-scheduler cinder-volume)
# Newest first, the order they stop in; RabbitMQ after them unless Nova still uses it.
CINDER_PARTS=(cinder-volume cinder-scheduler cinder-api)
KILL_ON_STOP+="${CINDER_DAEMONS[*]} "
CINDER_VOLUMES=$STATE/cinder/volumes

cinder_set_up() { [[ -f $MARKERS/cinder_db_sync ]]; }

# cinder.tests.fake_driver.FakeLoggingVolumeDriver is the LVM driver with every LVM and target
# command replaced by a log line, except the copy of an image into a new volume: that converts
# the downloaded image (qemu-img, as root) into the driver's local_path, a /dev/mapper/ device
# the fake never creates. This subclass keeps each volume as a sparse file in volumes_dir
# instead, so a volume made from an image really holds the image's bytes (raw) and /dev is never
# written. cinder-volume imports it from the state directory, where every start writes it.
CINDER_DRIVER_DIR=$STATE/cinder/driver
write_cinder_driver() {
    install -d -m 755 "$CINDER_DRIVER_DIR"
    cat >"$CINDER_DRIVER_DIR/devcloud_cinder_driver.py" <<'EOPY'
"""Written by devcloud.sh (cinder.sh) on every start."""

import os

from cinder.tests import fake_driver


class FileVolumeDriver(fake_driver.FakeLoggingVolumeDriver):
    """Cinder's fake driver, its volumes sparse files in volumes_dir."""

    def local_path(self, volume, vg=None):
        return os.path.join(self.configuration.volumes_dir, volume["name"])

    def create_volume(self, volume):
        model_update = super().create_volume(volume)
        with open(self.local_path(volume), "wb") as f:
            f.truncate(volume["size"] << 30)
        return model_update

    def delete_volume(self, volume):
        super().delete_volume(volume)
        try:
            os.unlink(self.local_path(volume))
        except FileNotFoundError:
            pass
EOPY
}

write_cinder_conf() {
    local privsep
    # Console scripts carry their build path (build_venv): run this one by its interpreter.
    privsep="$CINDER_VENV/bin/python $CINDER_VENV/bin/privsep-helper"
    privsep+=" --config-file $ETC/cinder/cinder.conf"
    install -d -m 700 "$ETC/cinder"
    install -d -m 755 "$STATE/cinder" "$STATE/cinder/conversion" "$CINDER_VOLUMES"
    cat >"$ETC/cinder/cinder.conf" <<EOC
# Written by devcloud.sh on every start.
[DEFAULT]
host = $CINDER_HOST
my_ip = 127.0.0.1
state_path = $STATE/cinder
log_file = $LOGS/cinder-api.log
transport_url = $(rabbit_url)
auth_strategy = keystone
api_paste_config = $CINDER_VENV/etc/cinder/api-paste.ini
resource_query_filters_file = $CINDER_VENV/etc/cinder/resource_filters.json
enabled_backends = $CINDER_BACKEND
glance_api_servers = $GLANCE_URL
image_conversion_dir = $STATE/cinder/conversion
# cinder-api forks a worker per core when run on its own; gunicorn runs one here.
osapi_volume_workers = 1
# cinder-volume republishes its capabilities to the scheduler with its periodic tasks: every
# 10 s from its start, not every 60 s after a random delay of up to 60 s, so that a first
# announcement the scheduler missed (cinder_pools.py) is made good within seconds.
periodic_interval = 10
periodic_fuzzy_delay = 0

[$CINDER_BACKEND]
volume_driver = devcloud_cinder_driver.FileVolumeDriver
volume_backend_name = $CINDER_BACKEND
volumes_dir = $CINDER_VOLUMES
target_helper = fake
volume_clear = none

# Cinder's privileged helpers (qemu-img info on a downloaded image, among others) start through
# "sudo cinder-rootwrap": this machine has no sudo and the devcloud already runs as root.
[cinder_sys_admin]
helper_command = $privsep

[privsep_osbrick]
helper_command = $privsep

[database]
connection = $(db_url cinder)
$DB_POOL

$(keystone_authtoken cinder "$CINDER_PASSWORD")

[oslo_concurrency]
lock_path = $STATE/locks

[oslo_messaging_notifications]
driver = noop

[oslo_messaging_rabbit]
rabbit_retry_interval = 1
rabbit_retry_backoff = 0

[coordination]
backend_url = file://$STATE/cinder
EOC
}

cinder_manage() {
    "$CINDER_VENV/bin/python" -c \
        'import sys; from cinder.cmd.manage import main; sys.exit(main())' \
        --config-file "$ETC/cinder/cinder.conf" "$@"
}

register_cinder() {
    DEVCLOUD_ADMIN_PASSWORD=$ADMIN_PASSWORD DEVCLOUD_CINDER_PASSWORD=$CINDER_PASSWORD \
        PYTHONDONTWRITEBYTECODE=1 "$VENV/bin/python" "$DC/register_cinder.py" \
        --auth-url "$KEYSTONE_URL/v3" --region "$REGION" --volume-url "$CINDER_URL/v3"
}

# cinder-api reads its config from the command line only, which argv_wsgi hides from it (it is
# gunicorn's), or from oslo.config's default places, ~/cinder.conf among them: HOME=$ETC/cinder
# makes that $ETC/cinder/cinder.conf.
start_cinder_api() {
    HOME=$ETC/cinder start_service cinder-api "$CINDER_URL" 1 4 120 \
        'argv_wsgi:app("cinder.wsgi.api")' 2 "$CINDER_VENV"
}

# start_cinder_daemon NAME: cinder-NAME as a plain process (which finds write_cinder_driver's).
start_cinder_daemon() {
    local code="import sys; sys.path.insert(0, '$CINDER_DRIVER_DIR')"
    code+="; from cinder.cmd.$1 import main; sys.exit(main())"
    start_daemon "cinder-$1" "$CINDER_VENV/bin/python" -c "$code" \
        --config-file "$ETC/cinder/cinder.conf" --log-file "$LOGS/cinder-$1.log"
}

cinder_consumed() {
    DEVCLOUD_RABBIT_URL=$(rabbit_url | sed 's/^rabbit:/amqp:/') \
        "$CINDER_VENV/bin/python" "$DC/amqp_consumed.py" "$@"
}

# The scheduler passes over a backend whose last heartbeat is older than service_down_time (60 s)
# and cinder-volume sends its first one report_interval (10 s) after it starts: after a longer
# stop, creates would fail with "No valid backend" until then.
volume_heard_from() {
    [[ $(psql_admin -d cinder -tA -c "SELECT count(*) FROM services WHERE NOT deleted
        AND host = '$CINDER_HOST@$CINDER_BACKEND' AND \"binary\" = 'cinder-volume'
        AND coalesce(updated_at, created_at) > now() AT TIME ZONE 'UTC' - interval '50 s'") == 1 ]]
}

scheduler_knows_pools() {
    DEVCLOUD_ADMIN_PASSWORD=$ADMIN_PASSWORD PYTHONDONTWRITEBYTECODE=1 "$VENV/bin/python" \
        "$DC/cinder_pools.py" --auth-url "$KEYSTONE_URL/v3" --region "$REGION" \
        --backend "$CINDER_HOST@$CINDER_BACKEND"
}

volume_ready() {
    cinder_consumed "cinder-volume.$CINDER_HOST@$CINDER_BACKEND" && volume_heard_from \
        && scheduler_knows_pools
}

# Expects the core up, the lock held and the secrets loaded.
start_cinder() {
    local t0
    t0=$(usec)
    CINDER_VENV=$(venv_path "$DC/requirements-cinder.txt" devcloud-cinder-venv)
    [[ -d $CINDER_VENV ]] || step "built cinder venv $CINDER_VENV" \
        build_venv "$DC/requirements-cinder.txt" "$CINDER_VENV"
    once cinder_databases 1 create_databases cinder
    write_rabbitmq_conf
    write_cinder_conf
    write_cinder_driver
    once register_cinder "$CINDER_URL" register_cinder
    once cinder_db_sync "$CINDER_VENV" cinder_manage db sync
    start_rabbitmq
    start_cinder_api
    start_cinder_daemon scheduler
    start_cinder_daemon volume
    wait_rabbitmq
    wait_ready cinder-api "$CINDER_URL/" 300 "$LOGS/cinder-api.log"
    wait_for cinder-scheduler "" "consume its queue" "$LOGS/cinder-scheduler.log" \
        cinder_consumed cinder-scheduler
    wait_for cinder-volume "" "consume its queue, report to the database and the scheduler" \
        "$LOGS/cinder-volume.log" volume_ready
    say "cinder ready in $(since "$t0"); block storage API $CINDER_URL/v3"
}

# running NAME...: succeeds if one of those services runs.
running() {
    local name
    for name in "$@"; do
        if svc_pid "$name" >/dev/null; then return 0; fi
    done
    return 1
}

# Fails if nothing ran. RabbitMQ stops with the last of Nova and Cinder.
stop_cinder() {
    local stopped=1
    ! stop_named "${CINDER_PARTS[@]}" || stopped=0
    if ! running "${NOVA_PARTS[@]}"; then
        ! stop_rabbitmq || stopped=0
    fi
    return "$stopped"
}

# `stop nova` leaves RabbitMQ to a Cinder that still runs.
stop_nova_beside_cinder() {
    if running "${CINDER_PARTS[@]}"; then
        stop_named "${NOVA_PARTS[@]}"
    else
        stop_nova
    fi
}

status_cinder() {
    local rc=0 name
    # Nova's status lines, when it is set up, already show RabbitMQ.
    if nova_set_up; then
        svc_pid rabbitmq >/dev/null || rc=3
    else
        status_rabbitmq || rc=3
    fi
    status_of cinder-api "$CINDER_URL/" 300 || rc=3
    for name in "${CINDER_DAEMONS[@]}"; do
        status_of "$name" "" "" || rc=3
    done
    return "$rc"
}
