# Placement under gunicorn, in the nova venv, for Nova's scheduler and compute.
# shellcheck shell=bash

PLACEMENT_URL=http://127.0.0.1:${DEVCLOUD_PLACEMENT_PORT:-8778}

# keystone_authtoken USER PASSWORD: the section a service checks its callers' tokens with.
keystone_authtoken() {
    cat <<EOC
[keystone_authtoken]
www_authenticate_uri = $KEYSTONE_URL
auth_url = $KEYSTONE_URL
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $1
password = $2
EOC
}

# Every service of `start nova` holds a pool per database, and Nova's hold one per cell: small
# pools keep them all within the cluster's 100 connections beside Keystone's and Glance's.
DB_POOL="max_pool_size = 2
max_overflow = 3"

write_placement_conf() {
    install -d -m 700 "$ETC/placement"
    cat >"$ETC/placement/placement.conf" <<EOC
# Written by devcloud.sh on every start.
[DEFAULT]
log_file = $LOGS/placement.log

[api]
auth_strategy = keystone

$(keystone_authtoken placement "$PLACEMENT_PASSWORD")

[placement_database]
connection = $(db_url placement)
$DB_POOL
EOC
}

# placement-manage reads no OS_PLACEMENT_CONFIG_DIR: name the file.
placement_manage() {
    "$NOVA_VENV/bin/python" -c \
        'import sys; from placement.cmd.manage import main; sys.exit(main())' \
        --config-file "$ETC/placement/placement.conf" "$@"
}

start_placement() {
    start_service placement "$PLACEMENT_URL" 1 4 120 placement.wsgi.api:application 2 "$NOVA_VENV"
}
wait_placement() { wait_ready placement "$PLACEMENT_URL/" 200 "$LOGS/placement.log"; }
status_placement() { status_of placement "$PLACEMENT_URL/" 200; }
