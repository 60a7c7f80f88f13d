# The devcloud's private PostgreSQL 15 cluster: one database per service, on loopback.
# shellcheck shell=bash

PGROOT=$STATE/pg
PGDATA=$PGROOT/data
PGSOCK=$PGROOT/socket
PG_BIN=/usr/lib/postgresql/15/bin
PG_PORT=${DEVCLOUD_PG_PORT:-55432}
PG_LAUNCHED=0

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
    cat >"$PGDATA/devcloud.conf" <<EOC
# Written by devcloud.sh on every start.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PGSOCK'
# A crash may lose the last commits of a throwaway dev database, never corrupt it.
synchronous_commit = off
EOC
    chown postgres:postgres "$PGDATA/devcloud.conf"
}

start_pg() {
    FAIL_LOG=$LOGS/postgresql.log
    touch "$FAIL_LOG"
    chown postgres:postgres "$FAIL_LOG"
    as_postgres "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$FAIL_LOG" -w -t "$READY_TIMEOUT" start
}

# pg_up: initialises the cluster the first time, then starts it unless it runs.
pg_up() {
    local pg_pid
    once pg_init 1 init_pg
    write_pg_conf
    if pg_running; then
        pg_pid=$(head -n1 "$PGDATA/postmaster.pid")
        say "postgresql already running on 127.0.0.1:$PG_PORT, pid $pg_pid"
    else
        step "postgresql up on 127.0.0.1:$PG_PORT" start_pg
        PG_LAUNCHED=1
    fi
}

pg_stop() {
    local pid
    pg_running || return 1
    pid=$(head -n1 "$PGDATA/postmaster.pid")
    as_postgres "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast -w -t 60 stop >/dev/null
    say "stopped postgresql (pid $pid)"
}

pg_status() {
    if pg_running; then
        say "postgresql: running on 127.0.0.1:$PG_PORT, pid $(head -n1 "$PGDATA/postmaster.pid")"
    else
        say "postgresql: stopped"
        return 3
    fi
}

# psql_admin [PSQL ARGS...]: psql as the cluster's superuser, over its private socket.
psql_admin() {
    as_postgres "$PG_BIN/psql" -h "$PGSOCK" -p "$PG_PORT" -U postgres -d postgres \
        -v ON_ERROR_STOP=1 -q "$@"
}

# create_databases DB...: the devcloud role and the named databases it owns.
create_databases() {
    local IFS=,
    psql_admin -v pw="$PG_PASSWORD" -v dbs="$*" <<'SQL'
SELECT 'CREATE ROLE devcloud LOGIN'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'devcloud')\gexec
ALTER ROLE devcloud PASSWORD :'pw';
SELECT format('CREATE DATABASE %I OWNER devcloud', db) FROM unnest(string_to_array(:'dbs', ',')) db
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = db)\gexec
SQL
}

db_url() { printf 'postgresql+psycopg2://devcloud:%s@127.0.0.1:%s/%s' "$PG_PASSWORD" "$PG_PORT" "$1"; }
