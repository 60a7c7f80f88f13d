# Neutron's API server under gunicorn, ML2 with no mechanism driver and no agents: networks and
# ports live in its database only, which is all Nova asks of it for servers booted with
# `networks: none` (its port and network GETs).
# shellcheck shell=bash

NEUTRON_URL=http://127.0.0.1:${DEVCLOUD_NEUTRON_PORT:-9696}

write_neutron_conf() {
    install -d -m 700 "$ETC/neutron" "$ETC/neutron/plugins/ml2"
    install -d -m 755 "$STATE/neutron"
    cat >"$ETC/neutron/neutron.conf" <<EOC
# Written by devcloud.sh on every start.
[DEFAULT]
log_file = $LOGS/neutron.log
host = devcloud
state_path = $STATE/neutron
core_plugin = ml2
# Every port listing reads Port.port_forwardings, a relation only the L3 models (loaded with the
# router plugin) define: without them GET /v2.0/ports answers 500 (see also argv_wsgi.py).
service_plugins = router
auth_strategy = keystone
api_paste_config = $NOVA_VENV/etc/neutron/api-paste.ini
transport_url = $(rabbit_url)
# No agents and no Nova callbacks: nothing would receive these.
dhcp_agent_notification = false
notify_nova_on_port_status_changes = false
notify_nova_on_port_data_changes = false

[database]
connection = $(db_url neutron)
$DB_POOL

$(keystone_authtoken neutron "$NEUTRON_PASSWORD")

[oslo_concurrency]
lock_path = $STATE/locks

[oslo_messaging_notifications]
driver = noop
EOC
    cat >"$ETC/neutron/plugins/ml2/ml2_conf.ini" <<EOC
# Written by devcloud.sh on every start.
[ml2]
type_drivers = flat
tenant_network_types =
mechanism_drivers =
extension_drivers = port_security

[ml2_type_flat]
flat_networks = *
EOC
}

neutron_db_manage() {
    "$NOVA_VENV/bin/python" -c \
        'import sys; from neutron.db.migration.cli import main; sys.exit(main())' \
        --config-file "$ETC/neutron/neutron.conf" \
        --config-file "$ETC/neutron/plugins/ml2/ml2_conf.ini" "$@"
}

# Neutron supports MySQL only, but its migrations run on PostgreSQL except one, 2025.2's
# d553edeb540f, which makes the tags table case-sensitive with MySQL's "ALTER TABLE tags CONVERT
# TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin" (a syntax error on PostgreSQL, whose comparisons
# in this cluster's C.UTF-8 locale already are): run every migration up to it, record it as
# done, then the rest.
skip_mysql_only_migration() {
    neutron_db_manage upgrade ad80a9f07c5c
    neutron_db_manage stamp d553edeb540f
}

start_neutron() {
    start_service neutron "$NEUTRON_URL" 1 4 120 \
        'argv_wsgi:app("neutron.wsgi.api", configure_mappers=True)' 2 "$NOVA_VENV"
}
wait_neutron() { wait_ready neutron "$NEUTRON_URL/" 200 "$LOGS/neutron.log"; }
status_neutron() { status_of neutron "$NEUTRON_URL/" 200; }
