# Keystone under gunicorn, its fernet keys, the catalog, and the clients' clouds.yaml.
# shellcheck shell=bash

# Seconds a Keystone token lives (Keystone's default); short ones are for the fault tests.
TOKEN_EXPIRATION=${DEVCLOUD_TOKEN_EXPIRATION:-3600}

write_keystone_conf() {
    cat >"$ETC/keystone/keystone.conf" <<EOC
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
# (start_keystone below), so an in-process cache stays coherent, revocations included.
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
EOC
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
            cat <<EOC
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
EOC
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

# The one-time database, key and bootstrap steps.
setup_keystone() {
    once keystone_db_sync "$VENV" keystone_manage db_sync
    once keystone_keys 1 setup_keystone_keys
    once keystone_bootstrap "$KEYSTONE_URL" bootstrap_keystone
}

register() {
    DEVCLOUD_ADMIN_PASSWORD=$ADMIN_PASSWORD DEVCLOUD_GLANCE_PASSWORD=$GLANCE_PASSWORD \
        DEVCLOUD_DEMO_PASSWORD=$DEMO_PASSWORD PYTHONDONTWRITEBYTECODE=1 \
        "$VENV/bin/python" "$DC/register.py" --auth-url "$KEYSTONE_URL/v3" \
        --glance-url "$GLANCE_URL" --region "$REGION"
}

start_keystone() { start_service keystone "$KEYSTONE_URL" 1 4 120 keystone_wsgi:application; }
wait_keystone() {
    wait_ready keystone "$KEYSTONE_URL/v3" 200 "$LOGS/keystone.log"
    warm_keystone
}

# Keystone loads its policy rules at the first request that checks one, and token checks that
# arrive together in a fresh process are refused meanwhile (403, or 500): 16 at once right after
# a restart got one or two 403s in each of three tries, which Glance passes on as 401. One login
# and one check of its token therefore go first, alone, before any client runs.
warm_keystone() {
    local token code
    token=$(printf '{"auth": {"identity": {"methods": ["password"], "password": {"user":
        {"name": "admin", "domain": {"id": "default"}, "password": "%s"}}}}}' "$ADMIN_PASSWORD" |
        curl -s -D - -o /dev/null --max-time 10 -H 'Content-Type: application/json' -d @- \
            "$KEYSTONE_URL/v3/auth/tokens" |
        tr -d '\r' | awk 'tolower($1) == "x-subject-token:" { print $2 }')
    [[ -n $token ]] || die "keystone: the admin login failed; see $LOGS/keystone.log"
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H "X-Auth-Token: $token" \
        -H "X-Subject-Token: $token" "$KEYSTONE_URL/v3/auth/tokens")
    [[ $code == 200 ]] || die "keystone: checking a token answered HTTP $code; see $LOGS/keystone.log"
}
status_keystone() { status_of keystone "$KEYSTONE_URL/v3" 200; }
