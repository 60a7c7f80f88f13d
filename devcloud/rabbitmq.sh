# RabbitMQ from Debian for Nova's RPC: its own node, state and ports under .devcloud, every
# listener (AMQP, Erlang distribution, epmd) on 127.0.0.1; never the system service.
# shellcheck shell=bash

RABBIT_PORT=${DEVCLOUD_RABBIT_PORT:-55672}
RABBIT_DIST_PORT=$((RABBIT_PORT + 1))
# A private epmd, so stopping it stops nothing another Erlang program relies on.
RABBIT_EPMD_PORT=$((RABBIT_PORT + 2))
RABBIT_HOME=$STATE/rabbitmq

rabbit_url() { printf 'rabbit://devcloud:%s@127.0.0.1:%s/' "$RABBIT_PASSWORD" "$RABBIT_PORT"; }

# Installing rabbitmq-server starts the system's node (on 0.0.0.0:5672) unless a policy-rc.d
# forbids it: forbid it for the install, as in container images.
install_rabbitmq() {
    local policy=/usr/sbin/policy-rc.d own=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        own=1
    fi
    apt_install rabbitmq-server || {
        ((own)) && rm -f "$policy"
        return 1
    }
    ((own)) && rm -f "$policy"
    return 0
}

# The node's environment: run `env "${RABBIT_ENV[@]}" COMMAND`.
RABBIT_ENV=(
    HOME="$RABBIT_HOME" RABBITMQ_NODENAME=devcloud@localhost
    RABBITMQ_CONF_ENV_FILE="$ETC/rabbitmq/rabbitmq-env.conf"
    RABBITMQ_CONFIG_FILE="$ETC/rabbitmq/rabbitmq.config"
    RABBITMQ_ENABLED_PLUGINS_FILE="$ETC/rabbitmq/enabled_plugins"
    RABBITMQ_MNESIA_BASE="$RABBIT_HOME/mnesia" RABBITMQ_LOG_BASE="$LOGS"
    RABBITMQ_LOGS="$LOGS/rabbitmq.log"
    RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$RABBIT_PORT"
    RABBITMQ_DIST_PORT="$RABBIT_DIST_PORT"
    ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT="$RABBIT_EPMD_PORT"
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS='-kernel inet_dist_use_interface {127,0,0,1}'
    RABBITMQ_CTL_ERL_ARGS='-kernel inet_dist_use_interface {127,0,0,1}'
)

write_rabbitmq_conf() {
    install -d -m 700 "$ETC/rabbitmq" "$RABBIT_HOME"
    : >"$ETC/rabbitmq/rabbitmq-env.conf"
    echo '[].' >"$ETC/rabbitmq/enabled_plugins"
    # The classic Erlang-term format: the new one is translated through its schema on every boot
    # (cuttlefish), which took seconds of CPU here. The user is created on the node's first boot;
    # a nearly full disk of a dev machine must not block every publisher.
    cat >"$ETC/rabbitmq/rabbitmq.config" <<EOC
%% Written by devcloud.sh on every start.
[{rabbit, [{tcp_listeners, [{"127.0.0.1", $RABBIT_PORT}]},
           {default_user, <<"devcloud">>},
           {default_pass, <<"$RABBIT_PASSWORD">>},
           {disk_free_limit, 50000000}]}].
EOC
}

start_rabbitmq() {
    svc_pid rabbitmq >/dev/null || ! port_in_use "$RABBIT_PORT" ||
        die "127.0.0.1:$RABBIT_PORT is taken by a process this devcloud did not start"
    start_daemon rabbitmq env "${RABBIT_ENV[@]}" /usr/lib/rabbitmq/bin/rabbitmq-server
}

wait_rabbitmq() {
    wait_for rabbitmq " on 127.0.0.1:$RABBIT_PORT" "listen on 127.0.0.1:$RABBIT_PORT" \
        "$LOGS/rabbitmq.log" port_in_use "$RABBIT_PORT"
}

stop_rabbitmq() {
    stop_named rabbitmq || return 1
    env "${RABBIT_ENV[@]}" epmd -kill >/dev/null 2>&1 || true
}

status_rabbitmq() { status_of rabbitmq "" ""; }
