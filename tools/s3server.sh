#!/usr/bin/env bash
# A real S3-compatible server on loopback (MinIO, built from its Go module), for trying and
# testing the `s3://` state backend as a site would run it against Ceph RGW. Started on demand
# (the shared-backend tests, `make s3-server`), never by `make demo`.
#
#   bash tools/s3server.sh start|stop|status
#   bash tools/s3server.sh bucket create|delete NAME   (delete removes the bucket's objects too)
#
# The binary is built once into ~/.cache/community-images/minio-<version>/ (keyed by version,
# outside the repository). State: $S3SERVER_STATE (default .devcloud/s3 in the checkout), with the
# data, the log, the pid and credentials.env, which holds the keys, the endpoint, the bucket
# created on the first start and the PULUMI_BACKEND_URL for it, ready to `source`.
# Environment: S3SERVER_PORT (9000).
set -euo pipefail

# MinIO publishes no semver tags, so the Go module proxy serves its commits as pseudo-versions;
# this is the newest it served (upstream commit 7aac2a2c5b7c, 2026-02-12).
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
PORT=${S3SERVER_PORT:-9000}
BUCKET=pulumi-state
REGION=us-east-1

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state=${S3SERVER_STATE:-$repo/.devcloud/s3}
cache="${XDG_CACHE_HOME:-$HOME/.cache}/community-images/minio-$MINIO_VERSION"
bin=$cache/minio
endpoint=http://127.0.0.1:$PORT
creds=$state/credentials.env
pidfile=$state/minio.pid
log=$state/minio.log

say() { echo "s3server: $*" >&2; }
die() {
  say "ERROR: $*"
  exit 1
}

build() {
  command -v go >/dev/null || die "Go is needed to build MinIO $MINIO_VERSION"
  local work t0=$SECONDS
  work=$(mktemp -d "${TMPDIR:-/tmp}/minio-build.XXXXXX")
  # Only the server binary, without VCS stamping (a module download has no .git) or symbols.
  say "building MinIO $MINIO_VERSION from its Go module (once; a few minutes on 2 cores)"
  if ! GOBIN=$work CGO_ENABLED=0 GOFLAGS=-buildvcs=false go install -trimpath -ldflags "-s -w" \
    "github.com/minio/minio@$MINIO_VERSION" >&2; then
    rm -rf "$work"
    die "building MinIO $MINIO_VERSION failed"
  fi
  mkdir -p "$cache"
  mv "$work/minio" "$bin.tmp"
  mv "$bin.tmp" "$bin"
  rm -rf "$work"
  say "built $bin in $((SECONDS - t0)) s"
}

running() {
  # The name too: after a reboot the pid in the file may be another program's.
  [[ -f $pidfile ]] && [[ $(cat "/proc/$(cat "$pidfile")/comm" 2>/dev/null) == minio ]]
}

healthy() {
  curl -fs --max-time 2 -o /dev/null "$endpoint/minio/health/live"
}

wait_healthy() {
  for _ in $(seq 1 300); do
    healthy && return
    running || return 1
    sleep 0.1
  done
  return 1
}

# An S3 request signed with the server's keys (curl signs SigV4 itself, so no S3 client is
# needed); prints the HTTP status.
s3() {
  # shellcheck source=/dev/null
  source "$creds"
  curl -sS --max-time 30 -o /dev/null -w '%{http_code}' --aws-sigv4 "aws:amz:$REGION:s3" \
    --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" "$@"
}

# MinIO, like RGW, sends no checksum with an object it returns; asking the AWS SDK to validate
# one only when the API requires it spares every command its warning about that.
write_credentials() {
  local key secret
  key=$(od -An -N10 -tx1 /dev/urandom | tr -d ' \n')
  secret=$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')
  (
    umask 077
    cat >"$creds.tmp" <<EOF
export AWS_ACCESS_KEY_ID=$key
export AWS_SECRET_ACCESS_KEY=$secret
export AWS_REGION=$REGION
export S3_ENDPOINT=$endpoint
export S3_BUCKET=$BUCKET
export PULUMI_BACKEND_URL='s3://$BUCKET?endpoint=$endpoint&use_path_style=true&region=$REGION&response_checksum_validation=when_required'
EOF
  )
  mv "$creds.tmp" "$creds"
}

start() {
  mkdir -p "$state/data"
  # Two callers at once (two test sessions) would build twice and start two servers on one port.
  exec 9>"$state/start.lock"
  flock 9
  [[ -x $bin ]] || build
  [[ -f $creds ]] || write_credentials
  if running; then
    wait_healthy || die "MinIO (pid $(cat "$pidfile")) runs but does not answer on $endpoint"
    say "already running on $endpoint, pid $(cat "$pidfile")"
    return
  fi
  # shellcheck source=/dev/null
  source "$creds"
  local t0=${EPOCHREALTIME/[.,]/}
  # The console, update checks and the anonymous usage report all want other addresses than
  # loopback; setsid keeps the server out of the caller's process group (a test's Ctrl-C).
  MINIO_ROOT_USER=$AWS_ACCESS_KEY_ID MINIO_ROOT_PASSWORD=$AWS_SECRET_ACCESS_KEY \
    MINIO_BROWSER=off MINIO_UPDATE=off MINIO_CALLHOME_ENABLE=off \
    setsid "$bin" server --quiet --address "127.0.0.1:$PORT" "$state/data" \
    >>"$log" 2>&1 </dev/null 9>&- &
  echo $! >"$pidfile"
  if ! wait_healthy; then
    tail -n 20 "$log" >&2
    die "MinIO did not come up on $endpoint within 30 s (log: $log)"
  fi
  bucket create "$BUCKET"
  say "running on $endpoint, pid $(cat "$pidfile"), up in $(((${EPOCHREALTIME/[.,]/} - t0) / 1000)) ms;" \
    "credentials: $creds"
}

stop() {
  if running; then
    local pid
    pid=$(cat "$pidfile")
    kill "$pid"
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    say "stopped MinIO (pid $pid)"
  fi
  rm -f "$pidfile"
}

bucket() {
  local verb=${1:?create or delete} name=${2:?bucket name}
  case $verb in
    # 409 (it exists already, ours) is fine: a restart creates nothing new.
    create) [[ $(s3 -X PUT "$endpoint/$name") =~ ^(200|409)$ ]] ||
      die "could not create bucket $name" ;;
    # MinIO's own header for `mc rb --force`: the bucket goes with every object in it.
    delete) [[ $(s3 -X DELETE -H 'x-minio-force-delete: true' "$endpoint/$name") =~ ^(204|404)$ ]] ||
      die "could not delete bucket $name" ;;
    *) die "bucket create|delete NAME" ;;
  esac
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  status)
    if running && healthy; then
      say "running on $endpoint, pid $(cat "$pidfile"); credentials: $creds"
    else
      say "not running"
      exit 1
    fi
    ;;
  bucket) bucket "${@:2}" ;;
  *) die "usage: $0 start|stop|status|bucket create|delete NAME" ;;
esac
