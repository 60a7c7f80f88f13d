#!/usr/bin/env bash
# Starts (or stops) the loopback image server for the demo: bash demo/serve.sh start|stop DIR PORT
set -euo pipefail
action=$1 dir=$2 port=$3
pid_file=$dir/server.pid
running() { [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; }
case $action in
  start)
    running && exit 0
    # A module of the checkout (it imports demo.faults), so run from its root on PYTHONPATH.
    setsid nohup env PYTHONPATH="$(cd "$(dirname "$0")/.." && pwd)" "${PYTHON:-python3}" \
      -m demo.imageserver --root "$dir/images" \
      --port "$port" --log "$dir/access.jsonl" --pid-file "$pid_file" \
      >"$dir/server.log" 2>&1 </dev/null &
    for _ in $(seq 50); do
      curl -fsS -o /dev/null "http://127.0.0.1:$port/manifest.json" && exit 0
      sleep 0.1
    done
    echo "image server did not start; see $dir/server.log" >&2
    exit 1
    ;;
  stop)
    running && kill "$(cat "$pid_file")"
    rm -f "$pid_file"
    ;;
  *) echo "usage: $0 start|stop DIR PORT" >&2; exit 2 ;;
esac
