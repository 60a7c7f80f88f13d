# Glance under gunicorn with the file store.
# shellcheck shell=bash

# A site's Glance runs several API workers; hashing an upload takes a core, so one worker would
# make concurrent uploads queue behind each other.
GLANCE_WORKERS=${DEVCLOUD_GLANCE_WORKERS:-$(nproc)}

write_glance_conf() {
    cat >"$ETC/glance/glance-api.conf" <<EOC
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
# runs with keep-alive off (start_glance), as behind a load balancer, so one client's imports do
# not all land on the worker its kept-alive connection reached.
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
EOC
}

glance_manage() {
    "$VENV/bin/python" -c 'import sys; from glance.cmd.manage import main; sys.exit(main())' \
        --config-file "$ETC/glance/glance-api.conf" "$@"
}

start_glance() {
    start_service glance "$GLANCE_URL" "$GLANCE_WORKERS" 8 600 glance.wsgi.api:application 0
}
wait_glance() { wait_ready glance "$GLANCE_URL/" 300 "$LOGS/glance-api.log"; }
status_glance() { status_of glance "$GLANCE_URL/" 300; }
